//! Crash points for the crash-safety tests. In a debug build, `KEYWARDEN_FAILPOINT=NAME`
//! (or `NAME:N`, the N-th time) makes [`hit`]`("NAME")` abort the process on the spot, as
//! a SIGKILL would: no destructor, no flush, no rollback beyond SQLite's own. Release
//! builds compile every point to nothing.

/// Aborts here when `KEYWARDEN_FAILPOINT` names this point (debug builds only).
#[inline(always)]
pub fn hit(name: &str) {
    #[cfg(debug_assertions)]
    armed::hit(name);
    #[cfg(not(debug_assertions))]
    let _ = name;
}

#[cfg(debug_assertions)]
mod armed {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};

    static TARGET: OnceLock<Option<(String, u32)>> = OnceLock::new();
    static HITS: AtomicU32 = AtomicU32::new(0);

    pub fn hit(name: &str) {
        let target = TARGET.get_or_init(|| {
            let v = std::env::var("KEYWARDEN_FAILPOINT").ok()?;
            let (n, nth) = match v.split_once(':') {
                Some((n, k)) => (n.to_string(), k.parse().ok()?),
                None => (v, 1),
            };
            Some((n, nth))
        });
        if let Some((n, nth)) = target
            && n == name
            && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth
        {
            // Straight to stderr, unbuffered: the process ends on the next line.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "keywarden: failpoint {name} (hit {nth}): aborting"
            );
            std::process::abort();
        }
    }
}
