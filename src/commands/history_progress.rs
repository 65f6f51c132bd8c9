//! The progress bar of a history scan, on stderr: the phase, units done of how many, the
//! rate and the time left. Drawn by its own thread from [`Progress`]'s counters, so the
//! scan's workers never wait for the terminal.

use crate::git::progress::{Phase, Progress};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

fn style(counted: bool, unit: &str) -> ProgressStyle {
    let template = if counted {
        format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, ETA {{eta}})")
    } else {
        format!("{{spinner}} {{msg}}: {{pos}} {unit} ({{per_sec}}, {{elapsed}})")
    };
    ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Runs `scan` while drawing `progress` on stderr when `enabled` (a terminal, and not
/// `--quiet`); the bar is cleared when the scan returns.
pub fn with_bar<T>(enabled: bool, progress: &Progress, scan: impl FnOnce() -> T) -> T {
    if !enabled {
        return scan();
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| draw(progress, &stop));
        let out = scan();
        stop.store(true, Ordering::Relaxed);
        out
    })
}

fn draw(progress: &Progress, stop: &AtomicBool) {
    let pb = ProgressBar::new(0);
    let mut shown = Phase::Idle;
    while !stop.load(Ordering::Relaxed) {
        let (phase, done, total) = progress.get();
        if phase != shown {
            shown = phase;
            let (label, unit) = phase.label();
            pb.reset();
            pb.set_style(style(total > 0, unit));
            pb.set_length(total);
            pb.set_message(label);
        }
        if phase != Phase::Idle {
            pb.set_position(done);
        }
        std::thread::sleep(TICK);
    }
    pb.finish_and_clear();
}
