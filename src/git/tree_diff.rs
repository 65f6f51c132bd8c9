//! Tree comparison for history scans: which blobs a commit introduced, against its
//! parents' trees. A recursive merge-join of raw trees in git's order that skips
//! identical subtrees by id, reading trees from the one-pass [`TreeStore`] when there is
//! one and from the object database (cached) otherwise.

use super::tree_store::{Stored, TreeStore};
use super::{Repository, fail};
use crate::error::Result;
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::HashMap;
use std::rc::Rc;

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

/// A tree's raw bytes: borrowed from the store, or read from the object database.
enum Raw<'a> {
    Stored(&'a [u8]),
    Read(Rc<[u8]>),
}

impl std::ops::Deref for Raw<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Raw::Stored(b) => b,
            Raw::Read(b) => b,
        }
    }
}

/// Bytes of trees a [`Differ`] keeps from the object database (per worker).
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Tree comparison: trees from a [`TreeStore`] when one is given and has them, else from
/// the object database, kept in a cache (the parent's trees are the next commit's).
pub(crate) struct Differ<'a> {
    buf: Vec<u8>,
    cache: HashMap<ObjectId, Rc<[u8]>>,
    /// Bytes in `cache`.
    cached: usize,
    cap: usize,
    store: Option<&'a TreeStore>,
    hash: gix::hash::Kind,
}

impl<'a> Differ<'a> {
    /// A differ for `repo` that reads trees from `store` first.
    pub(crate) fn new(repo: &Repository, store: Option<&'a TreeStore>) -> Self {
        Differ {
            buf: Vec::new(),
            cache: HashMap::new(),
            cached: 0,
            cap: CACHE_BYTES,
            store,
            hash: repo.object_hash(),
        }
    }

    fn raw(&mut self, repo: &Repository, id: ObjectId) -> Result<Raw<'a>> {
        let stored = self.store.and_then(|s| Some((s, s.get(&id)?)));
        if let Some((_, Stored::Mem(b))) = stored {
            return Ok(Raw::Stored(b));
        }
        if let Some(b) = self.cache.get(&id) {
            return Ok(Raw::Read(b.clone()));
        }
        if let Some((store, Stored::File(at, len))) = stored
            && store.read(at, len, &mut self.buf).is_ok()
        {
            let b: Rc<[u8]> = self.buf.as_slice().into();
            return Ok(Raw::Read(self.remember(id, b)));
        }
        let obj = repo
            .objects
            .find(&id, &mut self.buf)
            .map_err(|e| fail(format!("reading tree {id}"), e))?;
        if obj.kind != gix::objs::Kind::Tree {
            return Err(fail(
                format!("reading tree {id}"),
                format!("a {}", obj.kind),
            ));
        }
        let b: Rc<[u8]> = obj.data.into();
        Ok(Raw::Read(self.remember(id, b)))
    }

    /// Caches a tree read from the file or the object database.
    fn remember(&mut self, id: ObjectId, b: Rc<[u8]>) -> Rc<[u8]> {
        // Bounded: the next commits need the trees just read, rarely older ones.
        if self.cached + b.len() > self.cap {
            self.cache.clear();
            self.cached = 0;
        }
        self.cached += b.len();
        self.cache.insert(id, b.clone());
        b
    }

    fn entries<'r>(&self, raw: &'r [u8]) -> RawEntries<'r> {
        RawEntries {
            data: raw,
            id_len: self.hash.len_in_bytes(),
        }
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
            let raw = self.raw(repo, at)?;
            let last = parts.peek().is_none();
            let mut found = None;
            for e in self.entries(&raw) {
                let e = e.map_err(|()| malformed(at))?;
                if e.name == part && e.mode.is_tree() != last {
                    found = Some(e.id.to_owned());
                    break;
                }
            }
            match found {
                Some(id) if last => return Ok(Some(id)),
                Some(id) => at = id,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Recursive merge-join of two sorted trees: the blobs of `new` that `old` does not
    /// have at the same path. Identical subtrees are skipped by id; two versions of a
    /// directory usually differ in an entry or two, so the common leading entries are
    /// skipped by a byte compare, and the walk stops once what is left of both trees is
    /// the same bytes.
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
        let new_tree = self.raw(repo, new)?;
        let old_tree = match old {
            Some(o) => self.raw(repo, o)?,
            None => Raw::Stored(&[]),
        };
        let (mut new_raw, mut old_raw): (&[u8], &[u8]) = (&new_tree, &old_tree);
        let suffix = common_suffix(old_raw, new_raw);
        if !old_raw.is_empty() {
            let same = common_prefix(old_raw, new_raw);
            // The new tree's entries are all the old one's first entries (or it is empty).
            if same == new_raw.len() {
                return Ok(());
            }
            // Entries before the one holding the first difference are the same in both.
            let start = entry_start(new_raw, same, self.hash.len_in_bytes())
                .ok_or_else(|| malformed(new))?;
            new_raw = &new_raw[start..];
            old_raw = &old_raw[start..];
        }
        let mut olds = self.entries(old_raw);
        let mut news = self.entries(new_raw);
        let mut pending: Option<RawEntry<'_>> = None;
        loop {
            // What is left of both is the same bytes, starting at an entry: done.
            if pending.is_none() && news.data.len() <= suffix && news.data == olds.data {
                return Ok(());
            }
            let Some(entry) = news.next() else {
                return Ok(());
            };
            let entry = entry.map_err(|()| malformed(new))?;
            let is_tree = entry.mode.is_tree();
            let mut same: Option<(gix::objs::tree::EntryMode, &gix::oid)> = None;
            loop {
                let o = match pending.take() {
                    Some(o) => o,
                    None => match olds.next() {
                        None => break,
                        Some(o) => o.map_err(|()| malformed(old.unwrap_or(new)))?,
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
                self.diff(repo, sub, entry.id.to_owned(), prefix, out)?;
            } else if entry.mode.is_blob() {
                out.push((prefix.clone(), entry.id.to_owned()));
            }
            prefix.truncate(len);
        }
    }
}

/// A tree that does not parse.
fn malformed(id: ObjectId) -> crate::Error {
    fail(format!("parsing tree {id}"), "malformed entry")
}

/// Length of the common prefix of `a` and `b` (compared a block at a time).
pub(super) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
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
pub(super) fn common_suffix(a: &[u8], b: &[u8]) -> usize {
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
pub(super) fn entry_start(raw: &[u8], at: usize, id_len: usize) -> Option<usize> {
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

    /// The diff on trees kept from the object pass finds exactly what it finds on trees
    /// read from the object database (gix's lookup and pack decoding), on
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
        let pass = read_all(&repo, 1, Ignore, &Default::default())
            .unwrap()
            .unwrap();
        let commits = git(d, &["rev-list", "main"]);
        let (mut stored, mut read) = (
            Differ::new(&repo, Some(&pass.trees)),
            Differ::new(&repo, None),
        );
        let mut compared = 0;
        for line in commits.lines() {
            let id = ObjectId::from_hex(line.as_bytes()).unwrap();
            let c = pass.commits.slot(&id).unwrap();
            let parents: Vec<ObjectId> = pass
                .commits
                .parents(c)
                .iter()
                .map(|p| pass.commits.tree(pass.commits.slot(p).unwrap()))
                .collect();
            let tree = pass.commits.tree(c);
            let mut from_store = stored.introduced(&repo, tree, &parents).unwrap();
            let mut from_odb = read.introduced(&repo, tree, &parents).unwrap();
            from_store.sort();
            from_odb.sort();
            assert_eq!(from_store, from_odb, "commit {line}");
            compared += 1;
        }
        assert_eq!(compared, 7);
    }
}
