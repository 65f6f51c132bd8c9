//! Log setup: `tracing` to stderr (plain, no timestamps, through the redaction choke
//! point) for the CLI; `RUST_LOG` wins
//! over `-v`/`-q`.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `RUST_LOG` as a list of `target=level` directives (or a bare level), else `keywarden`
/// at `level`. Span and field filters are not read: [`Targets`] needs no regex engine,
/// where `EnvFilter` compiled one (and made every regex of the process build a full DFA)
/// before the first file was opened.
pub(crate) fn filter(level: LevelFilter) -> Targets {
    let default = || Targets::new().with_target("keywarden", level);
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v.parse().unwrap_or_else(|e| {
            // No subscriber yet: this one line goes to stderr as is.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("keywarden: RUST_LOG={v:?} ignored: {e}");
            }
            default()
        }),
        _ => default(),
    }
}

/// Installs the global subscriber. `verbose`: 0 warn, 1 info, 2+ debug; `quiet`: errors only.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_writer(|| crate::redact::ScrubWriter::new(std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_ansi(!no_color && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(filter(level))
        .try_init();
}
