//! Commits as a history scan keeps them: ids, trees and parents in flat arrays
//! ([`Commits`]), and the metadata of the few commits a report names ([`CommitMeta`]).
//! Shared by the object pass ([`super::objects`]) and the walk ([`super::history`]).

use super::fail;
use crate::error::Result;
use gix::ObjectId;

/// A commit's metadata, for reports.
#[derive(Debug, Clone)]
pub struct CommitMeta {
    /// Its id.
    pub id: ObjectId,
    /// Author name.
    pub author: String,
    /// Author time, seconds since the epoch.
    pub time: i64,
    /// Author time zone offset, seconds east of UTC.
    pub offset: i32,
    /// First line of the message.
    pub subject: String,
}

/// Commits as the history walk needs them: tree and parents, by id, in three flat arrays
/// (about 100 bytes a commit). Author, date and subject are read again for the few commits
/// a report names ([`commit_meta`]): keeping every commit object, or a decoded struct per
/// commit, would cost a big repository's whole commit history in memory.
#[derive(Debug, Default)]
pub struct Commits {
    index: gix::hashtable::HashMap<ObjectId, u32>,
    /// Per commit: its id, its tree, and its parents as a range of `parents`.
    slots: Vec<(ObjectId, ObjectId, u32, u32)>,
    parents: Vec<ObjectId>,
}

impl Commits {
    /// Parses the tree and parents of commit `id` and records them; returns its slot.
    pub fn insert(&mut self, id: &gix::oid, data: &[u8], hash: gix::hash::Kind) -> Result<u32> {
        use gix::objs::commit::ref_iter::Token;
        if let Some(slot) = self.index.get(id) {
            return Ok(*slot);
        }
        // Not the parser's message: it may quote the object (a key in a message).
        let bad = |_: &dyn std::fmt::Display| fail(format!("parsing commit {id}"), "malformed");
        let mut tokens = gix::objs::CommitRefIter::from_bytes(data, hash);
        let tree = tokens.tree_id().map_err(|e| bad(&e))?;
        let first = self.parents.len();
        for t in tokens {
            match t {
                Ok(Token::Parent { id }) => self.parents.push(id),
                Ok(_) => break,
                Err(e) => {
                    self.parents.truncate(first);
                    return Err(bad(&e));
                }
            }
        }
        let too_many = || {
            fail(
                "recording commits",
                "more than 4 billion commits or parents",
            )
        };
        let slot = u32::try_from(self.slots.len()).map_err(|_| too_many())?;
        let (lo, hi) = (
            u32::try_from(first).map_err(|_| too_many())?,
            u32::try_from(self.parents.len()).map_err(|_| too_many())?,
        );
        self.slots.push((id.to_owned(), tree, lo, hi));
        self.index.insert(id.to_owned(), slot);
        Ok(slot)
    }

    /// The slot of commit `id`, if recorded.
    pub fn slot(&self, id: &gix::oid) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The tree of the commit in `slot`.
    pub fn tree(&self, slot: u32) -> ObjectId {
        self.slots[slot as usize].1
    }

    /// The id of the commit in `slot`.
    pub fn id(&self, slot: u32) -> ObjectId {
        self.slots[slot as usize].0
    }

    /// The parents of the commit in `slot`, in order.
    pub fn parents(&self, slot: u32) -> &[ObjectId] {
        let (_, _, lo, hi) = self.slots[slot as usize];
        &self.parents[lo as usize..hi as usize]
    }

    /// Commits recorded.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No commit recorded.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Author, time and subject of commit `id` (its object `data`), for reports.
pub fn commit_meta(id: &gix::oid, data: &[u8], hash: gix::hash::Kind) -> Result<CommitMeta> {
    let c = gix::objs::CommitRef::from_bytes(data, hash)
        .map_err(|_| fail(format!("parsing commit {id}"), "malformed"))?;
    let (author, time, offset) = match c.author() {
        Ok(a) => {
            let t = a.time().unwrap_or_default();
            (a.name.to_string(), t.seconds, t.offset)
        }
        Err(_) => (String::new(), 0, 0),
    };
    Ok(CommitMeta {
        id: id.to_owned(),
        author,
        time,
        offset,
        subject: c.message().summary().to_string(),
    })
}
