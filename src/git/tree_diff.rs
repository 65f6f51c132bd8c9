//! Tree comparison for history scans: which blobs a commit introduced, against its
//! parents' trees. A recursive merge-join of sorted trees in git's order that skips
//! identical subtrees by id, with a cache of decoded trees.

use super::{Repository, fail};
use crate::error::Result;
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::HashMap;

/// A decoded tree in two allocations: names back to back, and (name end, mode, id).
#[derive(Default)]
struct Entries {
    names: Vec<u8>,
    items: Vec<(u32, gix::objs::tree::EntryMode, ObjectId)>,
}

impl Entries {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, i: usize) -> Option<(&[u8], gix::objs::tree::EntryMode, ObjectId)> {
        let (end, mode, id) = *self.items.get(i)?;
        let start = if i == 0 { 0 } else { self.items[i - 1].0 };
        Some((&self.names[start as usize..end as usize], mode, id))
    }
}

/// Git's tree order: names compared bytewise, a tree's name as if it ended in `/`.
fn git_order(a: &[u8], a_tree: bool, b: &[u8], b_tree: bool) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| {
        let end = |name: &[u8], tree: bool| match name.get(n) {
            Some(c) => *c,
            None if tree => b'/',
            None => 0,
        };
        end(a, a_tree).cmp(&end(b, b_tree))
    })
}

/// Tree comparison with a cache of decoded trees.
#[derive(Default)]
pub(crate) struct Differ {
    buf: Vec<u8>,
    cache: HashMap<ObjectId, std::rc::Rc<Entries>>,
}

impl Differ {
    fn entries(&mut self, repo: &Repository, id: ObjectId) -> Result<std::rc::Rc<Entries>> {
        if let Some(e) = self.cache.get(&id) {
            return Ok(e.clone());
        }
        let t = repo
            .objects
            .find_tree(&id, &mut self.buf)
            .map_err(|e| fail(format!("reading tree {id}"), e))?;
        let mut v = Entries {
            names: Vec::with_capacity(t.entries.len() * 16),
            items: Vec::with_capacity(t.entries.len()),
        };
        for e in &t.entries {
            v.names.extend_from_slice(e.filename);
            v.items
                .push((v.names.len() as u32, e.mode, e.oid.to_owned()));
        }
        let v = std::rc::Rc::new(v);
        if self.cache.len() > 100_000 {
            self.cache.clear();
        }
        self.cache.insert(id, v.clone());
        Ok(v)
    }

    /// Blobs (regular files) of `tree` that differ from the same path in every parent.
    pub(crate) fn introduced(
        &mut self,
        repo: &Repository,
        tree: ObjectId,
        parents: &[ObjectId],
    ) -> Result<Vec<(Vec<u8>, ObjectId)>> {
        let mut out = Vec::new();
        self.diff(
            repo,
            parents.first().copied(),
            tree,
            &mut Vec::new(),
            &mut out,
        )?;
        // A merge introduces only what none of its parents had at that path.
        for other in parents.iter().skip(1) {
            let mut kept = Vec::with_capacity(out.len());
            for (path, id) in out {
                if self.lookup(repo, *other, &path)? != Some(id) {
                    kept.push((path, id));
                }
            }
            out = kept;
        }
        Ok(out)
    }

    /// The blob at `path` in `tree`, if any.
    fn lookup(
        &mut self,
        repo: &Repository,
        tree: ObjectId,
        path: &[u8],
    ) -> Result<Option<ObjectId>> {
        let mut at = tree;
        let mut parts = path.split(|b| *b == b'/').peekable();
        while let Some(part) = parts.next() {
            let entries = self.entries(repo, at)?;
            let last = parts.peek().is_none();
            match (0..entries.len())
                .filter_map(|i| entries.get(i))
                .find(|(n, m, _)| *n == part && m.is_tree() != last)
            {
                Some((_, _, id)) if last => return Ok(Some(id)),
                Some((_, _, id)) => at = id,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Recursive merge-join of two sorted trees: the blobs of `new` that `old` does not
    /// have at the same path. Identical subtrees are skipped by id.
    fn diff(
        &mut self,
        repo: &Repository,
        old: Option<ObjectId>,
        new: ObjectId,
        prefix: &mut Vec<u8>,
        out: &mut Vec<(Vec<u8>, ObjectId)>,
    ) -> Result<()> {
        if old == Some(new) {
            return Ok(());
        }
        let new_entries = self.entries(repo, new)?;
        let old_entries = match old {
            Some(o) => self.entries(repo, o)?,
            None => std::rc::Rc::new(Entries::default()),
        };
        let mut j = 0;
        for i in 0..new_entries.len() {
            let Some((name, mode, id)) = new_entries.get(i) else {
                break;
            };
            let is_tree = mode.is_tree();
            // Advance in `old` to the first entry not before this one.
            let mut same: Option<(gix::objs::tree::EntryMode, ObjectId)> = None;
            while let Some((on, om, oid)) = old_entries.get(j) {
                match git_order(on, om.is_tree(), name, is_tree) {
                    std::cmp::Ordering::Less => j += 1,
                    std::cmp::Ordering::Equal => {
                        same = Some((om, oid));
                        j += 1;
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            if same.is_some_and(|(_, oid)| oid == id) {
                continue;
            }
            let len = prefix.len();
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(name);
            if is_tree {
                let sub = same.filter(|(m, _)| m.is_tree()).map(|(_, i)| i);
                self.diff(repo, sub, id, prefix, out)?;
            } else if mode.is_blob() {
                out.push((prefix.clone(), id));
            }
            prefix.truncate(len);
        }
        Ok(())
    }
}
