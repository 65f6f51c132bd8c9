//! The `keywarden` binary: parse → run → exit code. Everything else is in the library.

use clap::Parser;
use keywarden::redact::{ScrubWriter, scrub};
use keywarden::{Exit, cli::Cli, commands};
use std::io::Write;
use std::process::ExitCode;

/// mimalloc: history scans decode every object of a repository, and glibc's allocator
/// spent a third of that time returning and re-faulting pages (see benches/history.sh).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // clap echoes arguments in its errors: they go through the scrubber like everything else.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let text = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            let text = scrub(&text);
            if e.use_stderr() {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            } else {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    // The daemon sets up its own logs (journald, level from its config).
    if !matches!(cli.command, keywarden::cli::Command::Daemon(_)) {
        keywarden::logging::init(cli.verbose, cli.quiet);
    }
    let mut stdout = ScrubWriter::new(std::io::stdout().lock());
    let result = commands::run(&cli, &mut stdout);
    let flushed = stdout.flush();
    drop(stdout);
    match result {
        Ok(exit) => {
            if let Err(e) = flushed
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                let _ = writeln!(std::io::stderr(), "keywarden: error: writing output: {e}");
                return Exit::Error.into();
            }
            exit.into()
        }
        Err(e) => {
            // The chain, without causes the message above already quotes.
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !text.contains(&c_text) {
                    text = format!("{text}: {c_text}");
                }
                cause = c.source();
            }
            let _ = writeln!(std::io::stderr(), "keywarden: error: {}", scrub(&text));
            Exit::Error.into()
        }
    }
}
