//! Watched scan targets: one debounced `notify` watcher for every `watch = true` target;
//! a change under a target's paths kicks that target's job loop.

use crate::error::{Error, Result};
use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// The live watcher; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

/// Watches `targets` (each: its paths and the sender that kicks its job), coalescing
/// events within `debounce`.
pub fn start(
    targets: Vec<(Vec<PathBuf>, UnboundedSender<()>)>,
    debounce: Duration,
) -> Result<Option<Watcher>> {
    if targets.is_empty() {
        return Ok(None);
    }
    // Events carry the watched path as given: watch and match canonical paths.
    let routes: Vec<(Vec<PathBuf>, UnboundedSender<()>)> = targets
        .iter()
        .map(|(paths, tx)| {
            let canon = paths
                .iter()
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
                .collect();
            (canon, tx.clone())
        })
        .collect();
    let matcher = routes.clone();
    let mut debouncer = new_debouncer(debounce, move |res: DebounceEventResult| match res {
        Ok(events) => {
            for (paths, tx) in &matcher {
                if events
                    .iter()
                    .any(|e| paths.iter().any(|p| e.path.starts_with(p)))
                {
                    let _ = tx.send(());
                }
            }
        }
        Err(e) => tracing::warn!("file watcher: {e}"),
    })
    .map_err(|e| Error::Daemon {
        message: format!("cannot start the file watcher: {e}"),
        hint: "raise fs.inotify.max_user_instances, or set watch = false".into(),
    })?;
    for (paths, _) in &routes {
        for p in paths {
            debouncer
                .watcher()
                .watch(p, RecursiveMode::Recursive)
                .map_err(|e| Error::Daemon {
                    message: format!("cannot watch {}: {e}", p.display()),
                    hint: "check that the path exists and is readable by the keywarden user (ReadOnlyPaths=/ProtectHome= in the unit); or raise fs.inotify.max_user_watches".into(),
                })?;
            tracing::info!("watching {}", p.display());
        }
    }
    Ok(Some(Watcher {
        _debouncer: debouncer,
    }))
}
