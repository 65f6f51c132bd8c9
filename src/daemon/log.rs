//! The daemon's logs: to journald when systemd connected stderr to the journal
//! (`JOURNAL_STREAM` is set), else to stderr with timestamps. Level: `RUST_LOG`, else
//! `[daemon] log_level`.

use super::config::LogLevel;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(level: LogLevel) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("keywarden={}", level.as_str())));
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        match tracing_journald::layer() {
            Ok(layer) => {
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(layer.with_syslog_identifier("keywarden".into()))
                    .try_init();
                return;
            }
            Err(e) => {
                // Fall through to stderr, which systemd also sends to the journal.
                let _ = e;
            }
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
