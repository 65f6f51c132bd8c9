//! Log setup: `tracing` to stderr (plain, no timestamps, through the redaction choke
//! point) for the CLI; `RUST_LOG` wins
//! over `-v`/`-q`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `verbose`: 0 warn, 1 info, 2+ debug; `quiet`: errors only.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("keywarden={level}")));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::redact::ScrubWriter::new(std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_ansi(!no_color && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
