//! How far a history scan got: counters the scan's workers advance and a display (the
//! terminal progress bar) reads. Plain atomics, so the scan pays an add per object.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// What a history scan is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started, or done.
    Idle,
    /// Reading every object of the database once (counted in objects).
    Objects,
    /// Walking the selected commits (counted in commits).
    Walking,
    /// Comparing each commit's tree with its parents' (counted in commits).
    Trees,
    /// Reading the blobs the commits introduced (counted in blobs).
    Blobs,
}

impl Phase {
    /// What the display calls it, and the unit it counts.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Phase::Idle => ("", ""),
            Phase::Objects => ("reading objects", "objects"),
            Phase::Walking => ("walking commits", "commits"),
            Phase::Trees => ("comparing trees", "commits"),
            Phase::Blobs => ("reading blobs", "blobs"),
        }
    }

    fn from_u8(v: u8) -> Phase {
        match v {
            1 => Phase::Objects,
            2 => Phase::Walking,
            3 => Phase::Trees,
            4 => Phase::Blobs,
            _ => Phase::Idle,
        }
    }
}

/// Progress counters (the default counts nothing anyone reads: no display is attached).
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// Enters `phase`, with `total` units to do (0: unknown).
    pub fn start(&self, phase: Phase, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// `n` more units done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks the scan finished.
    pub fn finish(&self) {
        self.phase.store(Phase::Idle as u8, Ordering::Release);
    }

    /// The phase, units done and total.
    pub fn get(&self) -> (Phase, u64, u64) {
        let phase = Phase::from_u8(self.phase.load(Ordering::Acquire));
        (
            phase,
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}
