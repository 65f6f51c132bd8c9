//! What an archive may cost: one [`Meter`] per top-level archive, and a [`Guard`] around
//! every stream read out of it that counts the decompressed bytes against the meter,
//! checks the stream's compression ratio, and turns a read error into the end of the
//! stream with the reason recorded (so the scanner keeps what it found before it).

use crate::scan::Skipped;
use std::cell::{Cell, RefCell};
use std::io::{self, Read};

/// Decompressed bytes below which no ratio is checked: small entries compress however
/// they like.
pub(super) const RATIO_FLOOR: u64 = 1024 * 1024;

/// The budget and the skip list of one top-level archive.
pub(super) struct Meter {
    /// The top-level archive's display path (the budget is reported there).
    top: String,
    limit: u64,
    used: Cell<u64>,
    exhausted: Cell<bool>,
    /// Where guards stopped early so far.
    deaths: RefCell<Vec<String>>,
    skipped: RefCell<Vec<Skipped>>,
}

impl Meter {
    pub(super) fn new(top: String, limit: u64) -> Meter {
        Meter {
            top,
            limit,
            used: Cell::new(0),
            exhausted: Cell::new(false),
            deaths: RefCell::new(Vec::new()),
            skipped: RefCell::new(Vec::new()),
        }
    }

    /// The decompressed-size budget is spent: nothing more is read from this archive.
    pub(super) fn exhausted(&self) -> bool {
        self.exhausted.get()
    }

    /// Has the stream at `path`, or one it is read from (a path it extends), stopped
    /// early? An error that follows such a stop is its echo, not news.
    pub(super) fn stopped(&self, path: &str) -> bool {
        self.deaths.borrow().iter().any(|d| {
            path.strip_prefix(d.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('!'))
        })
    }

    fn died(&self, path: &str) {
        self.deaths.borrow_mut().push(path.to_string());
    }

    /// Lists `path` as skipped.
    pub(super) fn skip(&self, path: &str, reason: String, error: bool) {
        if error {
            tracing::warn!("{path}: {reason}");
        }
        self.skipped.borrow_mut().push(Skipped {
            path: path.to_string(),
            reason,
            error,
        });
    }

    /// How many skips are listed.
    pub(super) fn skips(&self) -> usize {
        self.skipped.borrow().len()
    }

    /// Applies `f` to the paths of the skips listed from index `from` on.
    pub(super) fn rename_skips(&self, from: usize, f: &dyn Fn(&str) -> Option<String>) {
        for s in self.skipped.borrow_mut().iter_mut().skip(from) {
            if let Some(p) = f(&s.path) {
                s.path = p;
            }
        }
    }

    pub(super) fn into_skipped(self) -> Vec<Skipped> {
        self.skipped.into_inner()
    }

    /// Counts `n` decompressed bytes; false once the budget is spent.
    fn spend(&self, n: u64) -> bool {
        let used = self.used.get() + n;
        self.used.set(used);
        if used > self.limit && !self.exhausted.get() {
            self.exhausted.set(true);
            self.died(&self.top);
            self.skip(
                &self.top,
                format!(
                    "more than {} decompressed from this archive (the limit per archive); the rest of it was not scanned",
                    mib(self.limit)
                ),
                false,
            );
        }
        !self.exhausted.get()
    }
}

/// `n` bytes in MiB, for reasons.
pub(super) fn mib(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

/// How many compressed bytes a guarded stream came from.
pub(super) enum Compressed<'c> {
    /// Not a decompressed stream (a plain tar on disk): no ratio, no budget.
    Plain,
    /// Known up front (a zip entry's compressed size).
    Known(u64),
    /// Counted as the decompressor pulls them (gzip).
    Counted(&'c Cell<u64>),
}

/// A stream read out of an archive; see the module doc.
pub(super) struct Guard<'m, 'c, R> {
    inner: R,
    meter: &'m Meter,
    path: String,
    compressed: Compressed<'c>,
    max_ratio: u64,
    out: u64,
    dead: bool,
}

impl<'m, 'c, R: Read> Guard<'m, 'c, R> {
    /// Guards `inner`, reported as `path`.
    pub(super) fn new(
        inner: R,
        meter: &'m Meter,
        path: &str,
        compressed: Compressed<'c>,
        max_ratio: u64,
    ) -> Self {
        Guard {
            inner,
            meter,
            path: path.to_string(),
            compressed,
            max_ratio,
            out: 0,
            dead: false,
        }
    }

    fn die(&mut self, reason: String, error: bool) {
        self.dead = true;
        self.meter.died(&self.path);
        self.meter.skip(&self.path, reason, error);
    }
}

impl<R: Read> Read for Guard<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.dead || self.meter.exhausted() {
            return Ok(0);
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                if self.meter.stopped(&self.path) {
                    // The stream this one is read from stopped first; this is its echo.
                    self.dead = true;
                } else {
                    let reason = format!("corrupt or unreadable ({e}); scanned up to the error");
                    self.die(reason, true);
                }
                return Ok(0);
            }
        };
        self.out += n as u64;
        let compressed = match &self.compressed {
            Compressed::Plain => return Ok(n),
            Compressed::Known(c) => *c,
            Compressed::Counted(c) => c.get(),
        };
        if !self.meter.spend(n as u64) {
            self.dead = true;
            return Ok(0);
        }
        if self.out > RATIO_FLOOR && self.out / compressed.max(1) > self.max_ratio {
            let reason = format!(
                "compression ratio over {}:1 ({} from {} bytes; a zip bomb?): the rest of it was not scanned",
                self.max_ratio,
                mib(self.out),
                compressed
            );
            self.die(reason, false);
            return Ok(0);
        }
        Ok(n)
    }
}

/// Counts the bytes a decompressor pulls from its input.
pub(super) struct CountIn<'c, R> {
    pub(super) inner: R,
    pub(super) n: &'c Cell<u64>,
}

impl<R: Read> Read for CountIn<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n.set(self.n.get() + n as u64);
        Ok(n)
    }
}
