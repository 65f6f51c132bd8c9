//! The `keywarden` binary: parse → run → exit code. Everything else is in the library.

use clap::Parser;
use keywarden::{Exit, cli::Cli, commands};
use std::process::ExitCode;

/// mimalloc: history scans decode every object of a repository, and glibc's allocator
/// spent a third of that time returning and re-faulting pages (see benches/history.sh).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon sets up its own logs (journald, level from its config).
    if !matches!(cli.command, keywarden::cli::Command::Daemon(_)) {
        keywarden::logging::init(cli.verbose, cli.quiet);
    }
    let mut stdout = std::io::stdout().lock();
    match commands::run(&cli, &mut stdout) {
        Ok(exit) => exit.into(),
        Err(e) => {
            // The causes, each once: an I/O error's message is already in the head.
            let head = e.to_string();
            eprintln!(
                "keywarden: error: {head}{}",
                keywarden::error::causes(&head, &e)
            );
            Exit::Error.into()
        }
    }
}
