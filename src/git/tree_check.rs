//! Whether the history can name an object the database lacks: when it cannot (and no
//! blob holds a key), the tree comparisons that follow an object pass could change
//! nothing in a history scan's findings, and are skipped.
//!
//! Checking every entry of every tree would cost as much as the comparisons (git/git's
//! trees decode to 5.5 GB). Each pass worker decodes a pack along its delta tree, so the
//! tree it decodes next is usually a version of the one it decoded last: only the
//! entries of a tree that differ from that previous tree are looked up, the others
//! having been looked up (directly or through an earlier version) before. A tree that
//! names an absent object is flagged (and the next one checked whole). The pass checks
//! packed trees in partial clones only, and loose trees everywhere (see
//! [`super::objects`]).
//!
//! Mirrors hold trees no ref reaches whose blobs were never fetched (pull requests'), so
//! a flagged tree only matters if the history reaches it. For that the check records
//! links: a subtree named by a checked entry (the tree holds it), and the previous tree
//! (the tree may hold what it held). Whatever reaches a flagged tree through links
//! may name an absent object; a history whose root trees are all outside that set names
//! none ([`Links::may_reach_absent`]). The links cost two ids per tree, kept only until
//! the comparisons are decided.

use super::tree_diff::{common_prefix, common_suffix, entry_start};
use gix::ObjectId;
use std::collections::{HashMap, HashSet};

/// What the check of every tree recorded.
#[derive(Debug, Default)]
pub struct Links {
    /// (from, to): `to` may name whatever `from` names, or `from` itself.
    edges: Vec<(ObjectId, ObjectId)>,
    /// Trees that name an object the database lacks, or do not parse.
    flagged: Vec<ObjectId>,
}

impl Links {
    /// Adds one tree's links and, if it is flagged, the tree.
    pub(crate) fn add(&mut self, edges: &mut Vec<(ObjectId, ObjectId)>, flagged: Option<ObjectId>) {
        self.edges.append(edges);
        self.flagged.extend(flagged);
    }

    /// Trees flagged.
    pub fn flagged(&self) -> usize {
        self.flagged.len()
    }

    /// Links recorded.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// No link recorded.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Whether one of `roots` may name (through its subtrees) an object the database
    /// lacks: it is a flagged tree, or links lead to it from one.
    pub fn may_reach_absent(&self, roots: impl Iterator<Item = ObjectId>) -> bool {
        if self.flagged.is_empty() {
            return false;
        }
        let mut next: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
        for (from, to) in &self.edges {
            next.entry(*from).or_default().push(*to);
        }
        let mut seen: HashSet<ObjectId> = self.flagged.iter().copied().collect();
        let mut stack: Vec<ObjectId> = seen.iter().copied().collect();
        while let Some(t) = stack.pop() {
            for to in next.get(&t).into_iter().flatten() {
                if seen.insert(*to) {
                    stack.push(*to);
                }
            }
        }
        let mut roots = roots;
        roots.any(|r| seen.contains(&r))
    }
}

/// One worker's state: the last tree it checked.
#[derive(Clone)]
pub(crate) struct TreeCheck {
    prev: Vec<u8>,
    prev_id: Option<ObjectId>,
    id_len: usize,
}

impl TreeCheck {
    /// A checker for a repository with ids of `hash`.
    pub(crate) fn new(hash: gix::hash::Kind) -> TreeCheck {
        TreeCheck {
            prev: Vec::new(),
            prev_id: None,
            id_len: hash.len_in_bytes(),
        }
    }

    /// Whether every tree and blob entry of tree `id` is one `has` finds (submodule
    /// commits are another repository's); `false` also when `tree` does not parse. Adds
    /// the tree's links to `edges`.
    pub(crate) fn check(
        &mut self,
        id: &gix::oid,
        tree: &[u8],
        has: impl Fn(&gix::oid) -> bool,
        edges: &mut Vec<(ObjectId, ObjectId)>,
    ) -> bool {
        let id = id.to_owned();
        if let Some(prev) = self.prev_id.filter(|_| !self.prev.is_empty()) {
            edges.push((prev, id));
        }
        let ok = self.changed_present(tree, &has, &mut |sub| edges.push((sub, id)));
        // A flagged tree is no base for the next one: that one is checked whole.
        self.prev.clear();
        self.prev_id = None;
        if ok {
            self.prev.extend_from_slice(tree);
            self.prev_id = Some(id);
        }
        ok
    }

    /// Walks the entries of `new` that differ from `self.prev`, keeping the two trees'
    /// entry boundaries in step from the end, so that the walk stops where what is left of
    /// both is the same bytes starting at an entry of each (the same entries).
    fn changed_present(
        &self,
        new: &[u8],
        has: &impl Fn(&gix::oid) -> bool,
        subtree: &mut impl FnMut(ObjectId),
    ) -> bool {
        let (old, id_len) = (self.prev.as_slice(), self.id_len);
        let mut start = 0;
        if new.is_empty() {
            return true;
        }
        if !old.is_empty() {
            let same = common_prefix(old, new);
            if same == new.len() && same == old.len() {
                return true;
            }
            // Entries before the one holding the first difference are in both.
            let Some(s) = entry_start(new, same, id_len) else {
                return false;
            };
            start = s;
        }
        let suffix = common_suffix(old, new);
        let (mut pn, mut po) = (start, start.min(old.len()));
        while pn < new.len() {
            let left = new.len() - pn;
            while old.len() - po > left {
                po = entry_end(old, po, id_len).unwrap_or(old.len());
            }
            if old.len() - po == left && left <= suffix {
                return true;
            }
            let Some(end) = entry_end(new, pn, id_len) else {
                return false;
            };
            let mode = &new[pn..];
            let gitlink = mode.starts_with(b"160000 ");
            let id = gix::oid::try_from_bytes(&new[end - id_len..end]);
            match id {
                Ok(id) if gitlink || has(id) => {
                    if mode.starts_with(b"40000 ") {
                        subtree(id.to_owned());
                    }
                }
                _ => return false,
            }
            pn = end;
        }
        true
    }
}

/// The end of the raw tree entry `<mode> <name>\0<id>` that starts at `pos`.
fn entry_end(raw: &[u8], pos: usize, id_len: usize) -> Option<usize> {
    let rest = raw.get(pos..)?;
    let space = memchr::memchr(b' ', rest)?;
    let nul = space + memchr::memchr(0, &rest[space..])?;
    let end = pos + nul + 1 + id_len;
    (end <= raw.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn id(n: u8) -> [u8; 20] {
        [n; 20]
    }

    fn tree(entries: &[(&str, &str, u8)]) -> Vec<u8> {
        let mut t = Vec::new();
        for (mode, name, n) in entries {
            t.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            t.extend_from_slice(&id(*n));
        }
        t
    }

    /// Lookups the checker made, and whether it passed, with `present` held.
    fn run(check: &mut TreeCheck, t: &[u8], present: &[u8]) -> (bool, Vec<u8>) {
        let looked = std::cell::RefCell::new(Vec::new());
        let set: HashSet<u8> = present.iter().copied().collect();
        let tree_id = ObjectId::from_bytes_or_panic(&[0xee; 20]);
        let ok = check.check(
            &tree_id,
            t,
            |o| {
                let n = o.as_bytes()[0];
                looked.borrow_mut().push(n);
                set.contains(&n)
            },
            &mut Vec::new(),
        );
        (ok, looked.into_inner())
    }

    /// Only the entries that changed since the previous tree are looked up; one that
    /// names an absent object fails the check, wherever it is; a submodule is never
    /// looked up; a malformed tree fails.
    #[test]
    fn looks_up_what_changed_and_fails_on_what_is_absent() {
        let all: Vec<u8> = (0..=20).collect();
        let mut c = TreeCheck::new(gix::hash::Kind::Sha1);
        let base = [
            ("100644", "a", 1),
            ("40000", "b", 2),
            ("100644", "c", 3),
            ("100644", "d", 4),
            ("160000", "sub", 9),
        ];
        let (ok, looked) = run(&mut c, &tree(&base), &all);
        assert!(ok);
        assert_eq!(looked, vec![1, 2, 3, 4]);
        // The middle entry changes: only it is looked up.
        let mut v2 = base;
        v2[2].2 = 13;
        let (ok, looked) = run(&mut c, &tree(&v2), &all);
        assert_eq!((ok, looked), (true, vec![13]));
        // An entry added at the front and one at the end (names of other lengths).
        let v3 = [
            ("100644", "0first", 10),
            ("100644", "a", 1),
            ("40000", "b", 2),
            ("100644", "c", 13),
            ("100644", "d", 4),
            ("160000", "sub", 9),
            ("100644", "zz-last", 11),
        ];
        let (ok, looked) = run(&mut c, &tree(&v3), &all);
        assert!(ok);
        assert!(looked.contains(&10) && looked.contains(&11), "{looked:?}");
        // Absent: the check fails, at either end.
        let mut v4 = v3;
        v4[6].2 = 20;
        let (ok, _) = run(&mut c, &tree(&v4), &all[..20]);
        assert!(!ok);
        let (ok, _) = run(&mut c, &tree(&v3), &all);
        assert!(ok);
        let mut v5 = v3;
        v5[0].2 = 20;
        assert!(!run(&mut c, &tree(&v5), &all[..20]).0);
        // After a failure nothing is taken from the failed tree.
        let (ok, looked) = run(&mut c, &tree(&v5), &all);
        assert!(ok);
        assert_eq!(looked.len(), 6, "{looked:?}");
        // Malformed (cut in an id), and the empty tree.
        let t = tree(&v3);
        assert!(!run(&mut c, &t[..t.len() - 3], &all).0);
        assert_eq!(run(&mut c, &[], &all), (true, vec![]));
        run(&mut c, &t, &all);
        assert_eq!(run(&mut c, &[], &all), (true, vec![]));
    }

    /// Entry boundaries that differ under equal tail bytes: the walk does not skip an
    /// entry whose bytes equal the other tree's tail at another alignment.
    #[test]
    fn equal_tails_at_other_boundaries_are_still_checked() {
        let all: Vec<u8> = (0..=20).collect();
        let mut c = TreeCheck::new(gix::hash::Kind::Sha1);
        let old = tree(&[("100644", "x", 1), ("100644", "yy", 2)]);
        run(&mut c, &old, &all);
        let new = tree(&[("100644", "w", 7), ("100644", "yy", 2)]);
        let (ok, looked) = run(&mut c, &new, &all);
        assert_eq!((ok, looked), (true, vec![7]));
        // The same last entry, but an absent one before it.
        let bad = tree(&[("100644", "w", 20), ("100644", "yy", 2)]);
        assert!(!run(&mut c, &bad, &all[..20]).0);
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    fn oid(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn entry(mode: &str, name: &str, n: u8) -> Vec<u8> {
        let mut e = format!("{mode} {name}\0").into_bytes();
        e.extend_from_slice(&[n; 20]);
        e
    }

    /// A flagged tree reaches a root through the subtrees that name it and through the
    /// later versions that inherit an entry naming it; an unrelated root is clear.
    #[test]
    fn roots_that_may_reach_a_flagged_tree() {
        let present = |o: &gix::oid| o.as_bytes()[0] != 99;
        let mut links = Links::default();
        let mut edges = Vec::new();
        let mut c = TreeCheck::new(gix::hash::Kind::Sha1);
        // Tree 10 names absent blob 99: flagged.
        let t10 = [entry("100644", "a", 1), entry("100644", "gone", 99)].concat();
        assert!(!c.check(&oid(10), &t10, present, &mut edges));
        links.add(&mut edges, Some(oid(10)));
        // Root 20 names subtree 10 (a changed entry): linked.
        let t20 = [entry("40000", "dir", 10), entry("100644", "z", 2)].concat();
        assert!(c.check(&oid(20), &t20, present, &mut edges));
        links.add(&mut edges, None);
        // Root 21, a version of 20 that changes only z: inherits dir (10) from 20.
        let t21 = [entry("40000", "dir", 10), entry("100644", "z", 3)].concat();
        assert!(c.check(&oid(21), &t21, present, &mut edges));
        links.add(&mut edges, None);
        // Root 30, unrelated and whole.
        let mut c2 = TreeCheck::new(gix::hash::Kind::Sha1);
        let t30 = [entry("100644", "q", 4)].concat();
        assert!(c2.check(&oid(30), &t30, present, &mut edges));
        links.add(&mut edges, None);
        assert_eq!(links.flagged(), 1);
        assert!(links.may_reach_absent([oid(21)].into_iter()));
        assert!(links.may_reach_absent([oid(20)].into_iter()));
        assert!(links.may_reach_absent([oid(10)].into_iter()));
        assert!(!links.may_reach_absent([oid(30)].into_iter()));
        assert!(!Links::default().may_reach_absent([oid(21)].into_iter()));
    }
}
