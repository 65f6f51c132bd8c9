//! The daemon's logs, to stderr through the redaction choke point
//! ([`crate::redact::ScrubWriter`]). When systemd connected stderr to the journal
//! (`JOURNAL_STREAM` is set), each line starts with its syslog priority (`<3>` error …
//! `<7>` debug), which journald reads as the entry's level; else lines carry timestamps.
//! Level: `RUST_LOG`, else `[daemon] log_level`.

use super::config::LogLevel;
use crate::redact::ScrubWriter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, format};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(level: LogLevel) {
    let level = level.as_str().parse().unwrap_or(LevelFilter::INFO);
    let filter = crate::logging::filter(level);
    let writer = || ScrubWriter::new(std::io::stderr());
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        let format = format().without_time().with_target(false).with_ansi(false);
        let _ = tracing_subscriber::fmt()
            .with_max_level(LevelFilter::TRACE)
            .with_writer(writer)
            .event_format(Priority(format))
            .finish()
            .with(filter)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false)
        .finish()
        .with(filter)
        .try_init();
}

/// Prefixes each event with its `sd-daemon(3)` priority.
struct Priority<F>(F);

impl<S, N, F> FormatEvent<S, N> for Priority<F>
where
    F: FormatEvent<S, N>,
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let p = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        write!(w, "<{p}>")?;
        self.0.format_event(ctx, w, event)
    }
}
