//! Watched scan targets: one `notify` watcher for every `watch = true` target; a change
//! under a target's paths kicks that target's job loop once per quiet period.
//!
//! Only changes count: creations, content modifications, deletions and renames. Opening
//! and reading a file (the scan itself does both) and attribute changes do not, or each
//! scan would trigger the next.

use crate::error::{Error, Result};
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// The live watcher; dropping it stops watching (and its debounce thread).
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
}

/// True for the events that mean content changed.
pub fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(m) => !matches!(m, ModifyKind::Metadata(_)),
        EventKind::Any => true,
        EventKind::Access(_) | EventKind::Other => false,
    }
}

/// Watches `targets` (each: its paths and the sender that kicks its job), coalescing
/// changes within `debounce`.
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
    let (raw_tx, raw_rx) = mpsc::channel::<PathBuf>();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(event) if is_change(&event.kind) => {
                for p in event.paths {
                    let _ = raw_tx.send(p);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("file watcher: {e}"),
        })
        .map_err(|e| Error::Daemon {
            message: format!("cannot start the file watcher: {e}"),
            hint: "raise fs.inotify.max_user_instances, or set watch = false".into(),
        })?;
    for (paths, _) in &routes {
        for p in paths {
            watcher
                .watch(p, RecursiveMode::Recursive)
                .map_err(|e| Error::Daemon {
                    message: format!("cannot watch {}: {e}", p.display()),
                    hint: "check that the path exists and is readable by the keywarden user (ReadOnlyPaths=/ProtectHome= in the unit); or raise fs.inotify.max_user_watches".into(),
                })?;
            tracing::info!("watching {}", p.display());
        }
    }
    let matcher = routes;
    std::thread::Builder::new()
        .name("keywarden-watch".into())
        .spawn(move || {
            // Ends when the watcher (and so the sender) is dropped.
            while let Ok(first) = raw_rx.recv() {
                let mut changed = vec![first];
                let quiet_until = Instant::now() + debounce;
                while let Ok(p) =
                    raw_rx.recv_timeout(quiet_until.saturating_duration_since(Instant::now()))
                {
                    changed.push(p);
                }
                for (paths, tx) in &matcher {
                    if changed
                        .iter()
                        .any(|c| paths.iter().any(|p| c.starts_with(p)))
                    {
                        let _ = tx.send(());
                    }
                }
            }
        })
        .map_err(|e| Error::Daemon {
            message: format!("cannot start the file watcher's thread: {e}"),
            hint: "check the unit's TasksMax=".into(),
        })?;
    Ok(Some(Watcher { _watcher: watcher }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, MetadataKind};

    #[test]
    fn reads_and_attributes_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Content
        ))));
    }
}
