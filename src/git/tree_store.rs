//! The trees an object pass decoded, kept for the tree comparisons that follow it: up to
//! [`TREE_BUDGET`] bytes in memory, then up to [`FILE_BUDGET`] bytes appended to an
//! unlinked temporary file and read back with positioned reads; trees past both are not
//! kept (the comparisons decode them from the packs again). Reading a tree back costs a
//! system call and a copy; decoding it again from a pack costs its delta chain (two to
//! three times slower on real histories), and keeping them all in memory costs the
//! history's size.

use gix::ObjectId;
use std::io::Write;

/// Raw tree bytes kept in memory; the rest go to the temporary file.
pub const TREE_BUDGET: usize = 8 * 1024 * 1024;

/// Raw tree bytes the temporary file may hold: decoded trees are large (git/git's take
/// 5.5 GB), so past this the comparisons decode them from the packs again. Most scans
/// find no key and skip the comparisons, so writing the file is then wasted: 256 MiB
/// holds a cargo-sized history (90 MiB) and costs git/git 0.3 s of writing, not 1.5 s.
pub const FILE_BUDGET: u64 = 256 * 1024 * 1024;

/// Bytes of one arena block (blocks are never reallocated, so never copied).
const BLOCK: usize = 4 * 1024 * 1024;

/// Where a tree is.
#[derive(Debug, Clone, Copy)]
enum Loc {
    /// In memory: block, start, length.
    Mem(u32, u32, u32),
    /// In the file: offset, length.
    File(u64, u32),
}

/// A kept tree.
pub enum Stored<'a> {
    /// Its bytes, in memory.
    Mem(&'a [u8]),
    /// In the file: call [`TreeStore::read`].
    File(u64, u32),
}

/// Raw trees (git's tree format), by id.
#[derive(Debug, Default)]
pub struct TreeStore {
    /// Bytes it may hold in memory.
    budget: usize,
    index: gix::hashtable::HashMap<ObjectId, Loc>,
    blocks: Vec<Vec<u8>>,
    size: usize,
    /// Being written (during the pass).
    writer: Option<std::io::BufWriter<std::fs::File>>,
    /// Written (after [`TreeStore::finish`]).
    file: Option<std::fs::File>,
    written: u64,
    /// The file could not be made or written: trees past the budget are not kept (the
    /// comparisons read them from the object database).
    no_file: bool,
}

impl TreeStore {
    /// A store that keeps at most `budget` bytes of trees in memory.
    pub fn new(budget: usize) -> TreeStore {
        TreeStore {
            budget,
            ..TreeStore::default()
        }
    }

    /// Where tree `id` is, if it was kept.
    pub fn get(&self, id: &ObjectId) -> Option<Stored<'_>> {
        match *self.index.get(id)? {
            Loc::Mem(block, start, len) => {
                let (start, len) = (start as usize, len as usize);
                Some(Stored::Mem(
                    self.blocks.get(block as usize)?.get(start..start + len)?,
                ))
            }
            Loc::File(at, len) => self.file.as_ref().map(|_| Stored::File(at, len)),
        }
    }

    /// Reads a tree kept in the file into `buf`.
    pub fn read(&self, at: u64, len: u32, buf: &mut Vec<u8>) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no tree file"))?;
        buf.clear();
        buf.resize(len as usize, 0);
        file.read_exact_at(buf, at)
    }

    /// Keeps tree `id` (once).
    pub fn insert(&mut self, id: ObjectId, data: &[u8]) {
        if self.index.contains_key(&id) {
            return;
        }
        let Ok(len) = u32::try_from(data.len()) else {
            return;
        };
        if self.size + data.len() > self.budget {
            self.spill(id, data, len);
            return;
        }
        let fits = self
            .blocks
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= data.len());
        if !fits {
            self.blocks.push(Vec::with_capacity(BLOCK.max(data.len())));
        }
        let n = self.blocks.len();
        let Some(block) = self.blocks.last_mut() else {
            return;
        };
        // Bounded by the budget and BLOCK (or one tree's size), so these fit in u32.
        let (Ok(b), Ok(s)) = (u32::try_from(n - 1), u32::try_from(block.len())) else {
            return;
        };
        block.extend_from_slice(data);
        self.size += data.len();
        self.index.insert(id, Loc::Mem(b, s, len));
    }

    fn spill(&mut self, id: ObjectId, data: &[u8], len: u32) {
        if self.no_file || self.written + u64::from(len) > FILE_BUDGET {
            return;
        }
        if self.writer.is_none() {
            // Unlinked at once: nothing is left behind, whatever happens to the process.
            match tempfile::tempfile() {
                Ok(f) => {
                    tracing::debug!(
                        "history: trees over {} MiB go to a temporary file",
                        self.budget >> 20
                    );
                    self.writer = Some(std::io::BufWriter::with_capacity(1 << 20, f));
                }
                Err(e) => return self.give_up(&e),
            }
        }
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        if let Err(e) = w.write_all(data) {
            return self.give_up(&e);
        }
        self.index.insert(id, Loc::File(self.written, len));
        self.written += u64::from(len);
    }

    fn give_up(&mut self, e: &dyn std::fmt::Display) {
        tracing::debug!("history: no temporary file for trees ({e}): read again when compared");
        self.no_file = true;
        self.writer = None;
        self.index.retain(|_, loc| matches!(loc, Loc::Mem(..)));
    }

    /// Ends the writing: the trees in the file can be read from now on.
    pub fn finish(mut self) -> TreeStore {
        if let Some(w) = self.writer.take() {
            match w.into_inner() {
                Ok(f) => self.file = Some(f),
                Err(e) => self.give_up(&e.error().to_string()),
            }
        }
        if self.written > 0 {
            tracing::debug!(
                "history: {} MiB of trees in memory, {} MiB in the temporary file{}",
                self.size >> 20,
                self.written >> 20,
                if self.written + (1 << 20) > FILE_BUDGET {
                    " (full: the rest are read again when compared)"
                } else {
                    ""
                }
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trees past the budget come back from the file byte for byte, and those within it
    /// from memory; a tree inserted twice is kept once.
    #[test]
    fn trees_past_the_budget_are_read_back_from_the_file() {
        let mut store = TreeStore::new(100);
        let trees: Vec<(ObjectId, Vec<u8>)> = (0u8..20)
            .map(|i| {
                let id = ObjectId::from_bytes_or_panic(&[i; 20]);
                (id, vec![i; 10 + usize::from(i) * 7])
            })
            .collect();
        for (id, data) in &trees {
            store.insert(*id, data);
            store.insert(*id, b"ignored: already kept");
        }
        let store = store.finish();
        let (mut mem, mut file) = (0, 0);
        let mut buf = Vec::new();
        for (id, data) in &trees {
            match store.get(id).unwrap() {
                Stored::Mem(b) => {
                    mem += 1;
                    assert_eq!(b, data.as_slice());
                }
                Stored::File(at, len) => {
                    file += 1;
                    store.read(at, len, &mut buf).unwrap();
                    assert_eq!(&buf, data);
                }
            }
        }
        assert!(mem > 0 && file > 0, "{mem} in memory, {file} in the file");
        assert!(
            store
                .get(&ObjectId::from_bytes_or_panic(&[0xff; 20]))
                .is_none()
        );
    }
}
