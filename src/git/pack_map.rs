//! A pack file mapped read-only, whose pages the one-pass read hands back as it goes.
//!
//! A mapped file's pages count in the process's resident set once touched, until the
//! mapping goes: reading a 106 MB pack (rust-lang/cargo) held 106 MB of file pages at the
//! pass's peak, on top of the process's own memory (`keywarden -vv` splits them). The
//! pass drops its mapping's pages every so often ([`PackMap::release`]): they stay in the
//! page cache, and a page touched again is mapped again by a minor fault, so the file's
//! share of the peak is what a stretch of the pass touches, not the whole pack.
//!
//! This is the crate's second module with `unsafe` (`style.md`: one small module per
//! measured need): mapping a file, and `madvise(MADV_DONTNEED)`, are `unsafe` in memmap2.
#![allow(unsafe_code)]

use std::path::Path;
use std::sync::Arc;

/// A read-only mapping of a whole file, shared between the pack reader and the thread
/// that releases its pages.
#[derive(Clone)]
pub struct PackMap(Arc<memmap2::Mmap>);

impl PackMap {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> std::io::Result<PackMap> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the mapping is read-only and the bytes are only read. Git never writes
        // a pack in place (it writes a new file and renames it), so the bytes do not
        // change under the map; gix maps packs the same way.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(PackMap(Arc::new(map)))
    }

    /// Drops the pages of the mapping from the process's resident set. The bytes do not
    /// change: the next read of a page maps it again from the page cache (or the file).
    pub fn release(&self) {
        if self.0.is_empty() {
            return;
        }
        // SAFETY: MADV_DONTNEED is destructive only for private pages that were written
        // (copy-on-write); this mapping is read-only, so nothing is ever written and
        // readers on other threads see the same bytes after the page is mapped again.
        let done = unsafe { self.0.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        if let Err(e) = done {
            tracing::debug!("history: releasing pack pages: {e}");
        }
    }
}

impl std::ops::Deref for PackMap {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Released pages read back the same bytes.
    #[test]
    fn released_pages_read_back_the_same() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        std::io::Write::write_all(&mut f, &data).unwrap();
        let map = PackMap::open(f.path()).unwrap();
        let sum = |m: &PackMap| m.iter().map(|b| u64::from(*b)).sum::<u64>();
        let before = sum(&map);
        map.clone().release();
        assert_eq!(sum(&map), before);
        assert_eq!(&map[..], &data[..]);
    }
}
