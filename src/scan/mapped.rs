//! Big files are mapped, not read: searching a mapped file skips the kernel's copy of
//! every byte into a buffer, which was half of a big-file scan's time
//! (`docs/performance.md`).
//!
//! A mapped file that shrinks while it is searched (truncated by an editor, by
//! `logrotate`'s copytruncate, by `> file`) raises SIGBUS on the first page past its new
//! end, which would end the process. A SIGBUS handler, installed the first time a file is
//! mapped, looks the faulting address up among the live mappings: one of ours gets its
//! pages from that one on replaced by zeros and is marked [`Mapped::cut`] (the caller
//! scans the file again by reading it); any other fault goes to the handler that was there
//! before (Rust's, which ends the process as SIGBUS would).
//!
//! This is the crate's third module with `unsafe` (`style.md`: one small module per
//! measured need): mapping, `madvise` and `sigaction`.
#![allow(unsafe_code)]

use std::fs::File;

/// Files at least this big are mapped; smaller ones are read (mapping and unmapping
/// cost more than copying a small file).
pub const MIN_LEN: u64 = 1 << 20;

/// A file mapped read-only and registered with the SIGBUS handler.
pub struct Mapped {
    map: memmap2::Mmap,
    #[cfg(target_os = "linux")]
    slot: &'static guard::Slot,
}

impl Mapped {
    /// Maps the first `len` bytes of `file` (a regular file), or `None` when it cannot
    /// be mapped safely here (no handler, too many live mappings, not Linux, an error):
    /// the caller reads the file instead.
    pub fn new(file: &File, len: u64) -> Option<Mapped> {
        #[cfg(target_os = "linux")]
        {
            let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
            if !guard::install() {
                return None;
            }
            // SAFETY: the mapping is read-only. Another process may change or truncate
            // the file while it is mapped: a change shows as other bytes (the scanner
            // takes any bytes, and never reads a byte twice expecting the same value), a
            // truncation as SIGBUS, which the registered handler turns into zeros.
            let map = unsafe { memmap2::MmapOptions::new().len(len).map(file) }.ok()?;
            let slot = guard::register(map.as_ptr() as usize, map.len())?;
            Some(Mapped { map, slot })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (file, len);
            None
        }
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// True when the file shrank while mapped: bytes past its new end read as zeros, and
    /// what was found in them is not the file's.
    pub fn cut(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.slot.cut()
        }
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Drops the pages before `upto` from the process's resident set (they stay in the
    /// page cache), so a big file does not hold its size in memory while it is searched.
    pub fn release(&self, upto: usize) {
        let page = page_size();
        let upto = upto.min(self.map.len()) / page * page;
        if upto == 0 {
            return;
        }
        // SAFETY: MADV_DONTNEED is destructive only for written private pages; this
        // mapping is read-only, and a released page is mapped again if it is read again.
        let done = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, upto)
        };
        if let Err(e) = done {
            tracing::debug!("releasing mapped pages: {e}");
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Mapped {
    fn drop(&mut self) {
        // Before the unmapping (fields drop after this): the address range may be reused.
        self.slot.unregister();
    }
}

fn page_size() -> usize {
    #[cfg(target_os = "linux")]
    {
        guard::page_size()
    }
    #[cfg(not(target_os = "linux"))]
    4096
}

#[cfg(target_os = "linux")]
mod guard {
    use std::ptr;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Live mappings at once (more are read instead): a few per scanning thread.
    const SLOTS: usize = 128;
    /// A slot's `start` while it is being filled.
    const CLAIMED: usize = 1;

    /// One live mapping: `start..end` (0 = free), and whether it was cut.
    pub struct Slot {
        start: AtomicUsize,
        end: AtomicUsize,
        cut: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: Slot = Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        cut: AtomicBool::new(false),
    };
    static SLOT: [Slot; SLOTS] = [FREE; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(4096);
    /// The action SIGBUS had before ours (`None` until installed; `Some(None)` when the
    /// installation failed).
    static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

    impl Slot {
        pub fn cut(&self) -> bool {
            self.cut.load(Ordering::Acquire)
        }

        pub fn unregister(&self) {
            self.start.store(0, Ordering::Release);
        }
    }

    pub fn page_size() -> usize {
        PAGE.load(Ordering::Relaxed)
    }

    /// Installs the handler once; false if it could not be.
    pub fn install() -> bool {
        PREVIOUS
            .get_or_init(|| {
                // SAFETY: sysconf and sigaction with valid arguments; the handler only
                // reads atomics and calls mmap/sigaction (async-signal-safe system calls).
                unsafe {
                    let page = libc::sysconf(libc::_SC_PAGESIZE);
                    if page > 0 {
                        PAGE.store(page as usize, Ordering::Relaxed);
                    }
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = on_sigbus as *const () as usize;
                    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&mut action.sa_mask);
                    let mut previous: libc::sigaction = std::mem::zeroed();
                    (libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0).then_some(previous)
                }
            })
            .is_some()
    }

    /// Registers `start..start + len`; `None` when every slot is taken.
    pub fn register(start: usize, len: usize) -> Option<&'static Slot> {
        let slot = SLOT.iter().find(|s| {
            s.start
                .compare_exchange(0, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        slot.cut.store(false, Ordering::Relaxed);
        slot.end.store(start + len, Ordering::Relaxed);
        slot.start.store(start, Ordering::Release);
        Some(slot)
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: errno is this thread's; the system calls below may change it under
        // code that the signal interrupted.
        let errno = unsafe { *libc::__errno_location() };
        // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // Only a fault on a page past the end of a file is ours (not `kill -BUS`).
        if code == libc::BUS_ADRERR && cut_at(addr) {
            // SAFETY: as above.
            unsafe { *libc::__errno_location() = errno };
            return;
        }
        if code <= 0 {
            // Sent, not raised by a fault: the default action, as if we were not here.
            // SAFETY: sigaction with a zeroed (SIG_DFL) action, then raise: SIGBUS is
            // blocked in its handler, so it arrives once this returns.
            unsafe {
                default_action(sig);
                libc::raise(sig);
            }
            return;
        }
        // A fault that is not ours: what SIGBUS did before.
        match PREVIOUS.get().copied().flatten() {
            Some(prev)
                if prev.sa_sigaction != libc::SIG_DFL && prev.sa_sigaction != libc::SIG_IGN =>
            {
                // SAFETY: `prev` is the handler the process had installed, called the way
                // its flags say it takes its arguments.
                unsafe {
                    if prev.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            std::mem::transmute(prev.sa_sigaction);
                        f(sig, info, ctx);
                    } else {
                        let f: extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
                        f(sig);
                    }
                }
            }
            // The default action: the fault happens again on return and ends the process
            // with SIGBUS.
            // SAFETY: sigaction with a zeroed (SIG_DFL) action.
            _ => unsafe { default_action(sig) },
        }
    }

    /// Restores the default action of `sig`.
    ///
    /// # Safety
    /// Async-signal-safe; changes the process's disposition of `sig`.
    unsafe fn default_action(sig: libc::c_int) {
        // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, ptr::null_mut());
        }
    }

    /// When `addr` lies in a live mapping of ours, replaces that mapping from `addr`'s
    /// page on by zeros, marks it cut and returns true.
    fn cut_at(addr: usize) -> bool {
        for slot in &SLOT {
            let start = slot.start.load(Ordering::Acquire);
            if start <= CLAIMED || addr < start {
                continue;
            }
            let end = slot.end.load(Ordering::Acquire);
            // Another thread may have replaced the slot's mapping between the two loads:
            // an `end` read with the `start` still in place belongs to it.
            if slot.start.load(Ordering::Acquire) != start || addr >= end {
                continue;
            }
            // The file ends before `addr`: zeros from its page to the end of the mapping,
            // so the search goes on without another fault per page.
            let from = addr / page_size() * page_size();
            // SAFETY: `from..end` lies inside a live mapping of ours (it is unregistered
            // before it is unmapped), which is replaced, in place, by readable zeros.
            let p = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return false;
            }
            slot.cut.store(true, Ordering::Release);
            return true;
        }
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, File) {
        let mut t = tempfile::NamedTempFile::new().unwrap();
        t.write_all(&vec![b'x'; len]).unwrap();
        t.flush().unwrap();
        let f = File::open(t.path()).unwrap();
        (t, f)
    }

    #[test]
    fn a_file_cut_while_mapped_reads_as_zeros_past_its_new_end() {
        let page = page_size();
        let (t, f) = file_of(4 * page);
        let m = Mapped::new(&f, 4 * page as u64).unwrap();
        assert!(!m.cut());
        t.as_file().set_len(page as u64 + 10).unwrap();
        // The page holding the new end still maps the file (zeros past the end, as the
        // kernel gives them); the pages after it raise SIGBUS.
        let bytes = m.bytes();
        let sum: usize = bytes.iter().map(|&b| usize::from(b)).sum();
        assert_eq!(sum, (page + 10) * usize::from(b'x'));
        assert!(m.cut());
        drop(m);
        // The slot is free again and a new mapping is not cut.
        let m = Mapped::new(&f, page as u64).unwrap();
        assert!(!m.cut());
        assert_eq!(m.bytes().len(), page);
    }

    #[test]
    fn released_pages_read_back_the_same() {
        let (_t, f) = file_of(3 * page_size() + 7);
        let m = Mapped::new(&f, 3 * page_size() as u64 + 7).unwrap();
        m.release(2 * page_size() + 1);
        assert!(m.bytes().iter().all(|&b| b == b'x'));
        m.release(usize::MAX);
        assert!(m.bytes().iter().all(|&b| b == b'x'));
    }

    /// A SIGBUS that is not one of ours still ends the process: the handler must not
    /// swallow it (a faulting access would repeat forever; a sent signal would be lost
    /// and the handler gone). Each case runs in a child process.
    #[test]
    fn a_foreign_sigbus_still_ends_the_process() {
        let page = page_size();
        match std::env::var("KEYWARDEN_SIGBUS_CHILD").as_deref() {
            Ok("fault") => {
                let (t, f) = file_of(2 * page);
                // Ours installed, then a mapping it does not know of.
                let _ours = Mapped::new(&f, page as u64).unwrap();
                // SAFETY: test only; the fault below is the point.
                let raw = unsafe { memmap2::Mmap::map(&f) }.unwrap();
                t.as_file().set_len(0).unwrap();
                std::hint::black_box(raw[page + 1]);
                return;
            }
            Ok("sent") => {
                let (_t, f) = file_of(page);
                let _ours = Mapped::new(&f, page as u64).unwrap();
                // SAFETY: test only; raising the signal is the point.
                unsafe { libc::raise(libc::SIGBUS) };
                std::thread::sleep(std::time::Duration::from_millis(200));
                return;
            }
            _ => {}
        }
        use std::os::unix::process::ExitStatusExt;
        for case in ["fault", "sent"] {
            let exe = std::env::current_exe().unwrap();
            let out = std::process::Command::new(exe)
                .args([
                    "--exact",
                    "scan::mapped::tests::a_foreign_sigbus_still_ends_the_process",
                    "--nocapture",
                ])
                .env("KEYWARDEN_SIGBUS_CHILD", case)
                .output()
                .unwrap();
            assert_eq!(
                out.status.signal(),
                Some(libc::SIGBUS),
                "{case}: {:?}",
                out.status
            );
        }
    }
}
