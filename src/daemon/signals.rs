//! Unix signals: SIGHUP reloads; SIGTERM and SIGINT stop.

use crate::error::{Error, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// Installs the handlers (call inside the runtime). Returns the reload stream and the
/// shutdown future.
pub fn install() -> Result<(
    mpsc::UnboundedReceiver<()>,
    impl std::future::Future<Output = ()>,
)> {
    let err = |e: std::io::Error| Error::Daemon {
        message: format!("cannot install signal handlers: {e}"),
        hint: "the daemon needs SIGHUP, SIGTERM and SIGINT; check the seccomp filter".into(),
    };
    let mut hup = signal(SignalKind::hangup()).map_err(err)?;
    let mut term = signal(SignalKind::terminate()).map_err(err)?;
    let mut int = signal(SignalKind::interrupt()).map_err(err)?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
    };
    Ok((rx, shutdown))
}
