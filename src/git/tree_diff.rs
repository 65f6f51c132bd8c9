//! Tree comparison for history scans: which blobs a commit introduced, against its
//! parents' trees. A recursive merge-join of sorted trees in git's order that skips
//! identical subtrees by id, with a cache of decoded trees.

use super::objects::TreeStore;
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

/// Tree comparison with a cache of decoded trees, reading trees from a [`TreeStore`]
/// when one is given and from the object database otherwise.
#[derive(Default)]
pub(crate) struct Differ<'a> {
    buf: Vec<u8>,
    cache: HashMap<ObjectId, std::rc::Rc<Entries>>,
    store: Option<&'a TreeStore>,
}

impl<'a> Differ<'a> {
    /// A differ that reads trees from `store` first.
    pub(crate) fn with_store(store: Option<&'a TreeStore>) -> Self {
        Differ {
            store,
            ..Differ::default()
        }
    }

    fn entries(&mut self, repo: &Repository, id: ObjectId) -> Result<std::rc::Rc<Entries>> {
        if let Some(e) = self.cache.get(&id) {
            return Ok(e.clone());
        }
        let t = match self.store.and_then(|s| s.get(&id)) {
            Some(raw) => gix::objs::TreeRef::from_bytes(raw, repo.object_hash())
                .map_err(|e| fail(format!("parsing tree {id}"), e))?,
            None => repo
                .objects
                .find_tree(&id, &mut self.buf)
                .map_err(|e| fail(format!("reading tree {id}"), e))?,
        };
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

/// [`Differ::introduced`] for a commit with at most one parent, on raw trees in `store`
/// without decoding them into memory: a merge-join of two entry iterators. `None` when
/// a tree is not in the store or does not parse (the caller then asks a [`Differ`],
/// which reads the object database and reports errors).
pub(crate) fn introduced_in_store(
    store: &TreeStore,
    hash: gix::hash::Kind,
    tree: ObjectId,
    parent: Option<ObjectId>,
    out: &mut Vec<(Vec<u8>, ObjectId)>,
) -> Option<()> {
    let start = out.len();
    let done = diff_raw(store, hash, parent, tree, &mut Vec::new(), out);
    if done.is_none() {
        out.truncate(start);
    }
    done
}

/// Length of the common prefix of `a` and `b` (compared a block at a time).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const STEP: usize = 32;
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + STEP <= n && a[i..i + STEP] == b[i..i + STEP] {
        i += STEP;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix of `a` and `b`.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    const STEP: usize = 32;
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + STEP <= n && a[n - i - STEP..n - i] == b[n - i - STEP..n - i] {
        i += STEP;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
}

/// The start of the raw tree entry that holds byte `at` (entries are
/// `<mode> <name>\0<id>`; ids are `id_len` bytes). `None` if the tree is malformed.
fn entry_start(raw: &[u8], at: usize, id_len: usize) -> Option<usize> {
    let mut pos = 0;
    loop {
        let nul = pos + memchr::memchr(0, raw.get(pos..)?)?;
        let next = nul + 1 + id_len;
        if next > at || next >= raw.len() {
            return Some(pos);
        }
        pos = next;
    }
}

/// One entry of a raw tree.
struct RawEntry<'a> {
    name: &'a [u8],
    mode: gix::objs::tree::EntryMode,
    id: &'a gix::oid,
}

/// The entries of a raw tree, in order; `Err` on a malformed entry.
struct RawEntries<'a> {
    data: &'a [u8],
    id_len: usize,
}

impl<'a> Iterator for RawEntries<'a> {
    type Item = Result<RawEntry<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let entry = (|| {
            let space = memchr::memchr(b' ', self.data)?;
            let mode = gix::objs::tree::EntryMode::from_bytes(self.data)?;
            let rest = self.data.get(space + 1..)?;
            let nul = memchr::memchr(0, rest)?;
            let id = rest.get(nul + 1..nul + 1 + self.id_len)?;
            let id = gix::oid::try_from_bytes(id).ok()?;
            let entry = RawEntry {
                name: &rest[..nul],
                mode,
                id,
            };
            self.data = &rest[nul + 1 + self.id_len..];
            Some(entry)
        })();
        match entry {
            Some(e) => Some(Ok(e)),
            None => {
                self.data = &[];
                Some(Err(()))
            }
        }
    }
}

/// The merge-join of [`Differ::diff`] on raw trees. Two versions of a directory usually
/// differ in an entry or two: the common leading entries are skipped by a byte compare,
/// and the walk stops once what is left of both trees is the same bytes.
fn diff_raw(
    store: &TreeStore,
    hash: gix::hash::Kind,
    old: Option<ObjectId>,
    new: ObjectId,
    prefix: &mut Vec<u8>,
    out: &mut Vec<(Vec<u8>, ObjectId)>,
) -> Option<()> {
    if old == Some(new) {
        return Some(());
    }
    let id_len = hash.len_in_bytes();
    let mut new_raw = store.get(&new)?;
    let mut old_raw: &[u8] = match old {
        Some(o) => store.get(&o)?,
        None => &[],
    };
    let suffix = common_suffix(old_raw, new_raw);
    if !old_raw.is_empty() {
        let same = common_prefix(old_raw, new_raw);
        // The new tree's entries are all the old one's first entries (or it is empty).
        if same == new_raw.len() {
            return Some(());
        }
        // Entries before the one holding the first difference are the same in both.
        let start = entry_start(new_raw, same, id_len)?;
        new_raw = &new_raw[start..];
        old_raw = &old_raw[start..];
    }
    let mut olds = RawEntries {
        data: old_raw,
        id_len,
    };
    let mut pending: Option<RawEntry<'_>> = None;
    let mut news = RawEntries {
        data: new_raw,
        id_len,
    };
    loop {
        // What is left of both is the same bytes, starting at an entry: done.
        if pending.is_none() && news.data.len() <= suffix && news.data == olds.data {
            return Some(());
        }
        let Some(entry) = news.next() else {
            return Some(());
        };
        let entry = entry.ok()?;
        let is_tree = entry.mode.is_tree();
        let mut same: Option<(gix::objs::tree::EntryMode, &gix::oid)> = None;
        loop {
            let o = match pending.take() {
                Some(o) => o,
                None => match olds.next() {
                    None => break,
                    Some(o) => o.ok()?,
                },
            };
            match git_order(o.name, o.mode.is_tree(), entry.name, is_tree) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    same = Some((o.mode, o.id));
                    break;
                }
                std::cmp::Ordering::Greater => {
                    pending = Some(o);
                    break;
                }
            }
        }
        if same.is_some_and(|(_, oid)| oid == entry.id) {
            continue;
        }
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(entry.name);
        if is_tree {
            let sub = same.filter(|(m, _)| m.is_tree()).map(|(_, i)| i.to_owned());
            diff_raw(store, hash, sub, entry.id.to_owned(), prefix, out)?;
        } else if entry.mode.is_blob() {
            out.push((prefix.clone(), entry.id.to_owned()));
        }
        prefix.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::objects::{BlobVisitor, read_all};

    #[derive(Clone)]
    struct Ignore;

    impl BlobVisitor for Ignore {
        fn blob(&mut self, _: &gix::oid, _: &[u8]) {}
    }

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.invalid")
            .env("GIT_COMMITTER_NAME", "A")
            .env("GIT_COMMITTER_EMAIL", "a@example.invalid")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// The in-memory diff on raw trees finds exactly what the decoding differ finds, on
    /// the shapes that make merge-joins go wrong: entries added first and last, deleted,
    /// a file that becomes a directory of the same name, names that sort differently as
    /// trees (`a-b` against `a/`), symlinks, modes, a big directory changed at both ends,
    /// and an empty tree.
    #[test]
    fn raw_diff_agrees_with_the_decoding_differ() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let write = |rel: &str, text: &str| {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        let commit = |msg: &str| {
            git(d, &["add", "-A"]);
            git(d, &["commit", "-q", "--allow-empty", "-m", msg]);
        };
        write("a/1.txt", "1");
        write("a/2.txt", "2");
        write("b/x.txt", "x");
        write("z.txt", "z");
        for i in 0..100 {
            write(&format!("big/f{i:03}.txt"), &format!("{i}"));
        }
        commit("one");
        write("a/2.txt", "2b");
        write("a/3.txt", "3");
        write("a/0.txt", "0");
        std::fs::remove_dir_all(d.join("b")).unwrap();
        commit("two");
        std::fs::remove_file(d.join("z.txt")).unwrap();
        write("z.txt/inner", "i");
        write("a-b.txt", "ab");
        write("a.txt", "a");
        commit("three");
        std::os::unix::fs::symlink("a/1.txt", d.join("link")).unwrap();
        let exe = d.join("run.sh");
        write("run.sh", "#!/bin/sh\n");
        let mut perm = std::fs::metadata(&exe).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&exe, perm).unwrap();
        write("big/f000.txt", "first");
        write("big/f099.txt", "last");
        write("big/f050.txt", "middle");
        commit("four");
        std::fs::remove_dir_all(d.join("z.txt")).unwrap();
        write("z.txt", "file again");
        std::fs::write(d.join("a/1.txt"), "1").unwrap();
        commit("five");
        git(d, &["rm", "-q", "-r", "."]);
        commit("empty");
        write("again.txt", "again");
        commit("seven");

        let repo = crate::git::open(d).unwrap();
        let pass = read_all(&repo, 1, Ignore).unwrap().unwrap();
        let hash = repo.object_hash();
        let commits = git(d, &["rev-list", "main"]);
        let mut compared = 0;
        for line in commits.lines() {
            let id = ObjectId::from_hex(line.as_bytes()).unwrap();
            let c = &pass.commits[&id];
            let parent = c.parents.first().map(|p| pass.commits[p].tree);
            let mut raw = Vec::new();
            if introduced_in_store(&pass.trees, hash, c.tree, parent, &mut raw).is_none() {
                // Git does not store the empty tree; the caller then asks the differ.
                let empty = ObjectId::empty_tree(hash);
                assert!(c.tree == empty || parent == Some(empty), "commit {line}");
                continue;
            }
            let parents: Vec<ObjectId> = parent.into_iter().collect();
            let mut decoded = Differ::default()
                .introduced(&repo, c.tree, &parents)
                .unwrap();
            raw.sort();
            decoded.sort();
            assert_eq!(raw, decoded, "commit {line}");
            compared += 1;
        }
        assert_eq!(compared, 7, "no commit needed the fallback");
    }
}
