//! `keywarden daemon --config FILE`: load and validate the config, set up logs, then run
//! [`crate::daemon::run`] on a tokio runtime with SIGHUP as reloads and SIGTERM/SIGINT
//! as shutdown.

use super::Exit;
use crate::cli::{Cli, DaemonArgs};
use crate::daemon::{self, Settings};
use crate::error::{Error, Result};

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: &DaemonArgs, cli: &Cli) -> Result<Exit> {
    // Logs first, so a config error at start reaches the journal too.
    let settings = Settings::load(&args.config);
    let level = match (&settings, cli.quiet, cli.verbose) {
        (_, true, _) => daemon::config::LogLevel::Error,
        (_, _, 1) => daemon::config::LogLevel::Info,
        (_, _, 2..) => daemon::config::LogLevel::Debug,
        (Ok(s), _, _) => s.daemon.log_level,
        (Err(_), _, _) => daemon::config::LogLevel::Info,
    };
    daemon::log::init(level);
    let settings = settings?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Daemon {
            message: format!("cannot start the async runtime: {e}"),
            hint: "check the process limits (LimitNPROC=, TasksMax=)".into(),
        })?;
    runtime.block_on(async {
        let (reloads, shutdown) = daemon::signals::install()?;
        daemon::run(settings, reloads, shutdown).await
    })?;
    Ok(Exit::Clean)
}
