//! The matcher's hot loop: one pass over a slice that finds every place where one of the
//! prefilter's two-byte anchors may start *and* counts the slice's newlines.
//!
//! This is the crate's one module with `unsafe` (`style.md`: a measured hot path, one
//! small module): the search and the line count were most of a scan's user time, so both
//! are done by one loop per CPU level, 64 bytes per step:
//!
//! - AVX-512 VBMI: load the block and the block one byte later, look up each byte of both
//!   in a 128-entry table with one `vpermi2b` each, AND the two, count `\n` with one
//!   compare and a popcount.
//! - AVX2: the same in two 32-byte halves, each byte looked up by its two nibbles with
//!   `vpshufb`, as Teddy does.
//!
//! The tables hold one bit per anchor group (anchor `i` is in group `i % 8`). `vpermi2b`
//! ignores an index's top bit, so there a byte of 0x80 and above looks like its ASCII
//! twin; with more than eight anchors, groups mix pairs. Such candidates are false ones,
//! and a 128 × 128 table from byte pair to anchor drops them before the caller sees them.
//! No loop can miss an anchor.
//!
//! `cargo bench --bench matcher` compares the loops with aho-corasick (numbers in
//! `docs/performance.md`). Elsewhere (no AVX2, another architecture) [`PairFinder::new`]
//! gives `None` and the matcher keeps aho-corasick and `bytecount`.
#![allow(unsafe_code)]
// Elsewhere only the scalar loop is built.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// Blocks with candidates that the vector loop collects before it hands them back.
const MARKS: usize = 32;

/// Which loop a [`PairFinder`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// A byte at a time (no vector loop for this CPU).
    Scalar,
    /// 64 bytes per step as two 32-byte halves; each byte classified by two `vpshufb`
    /// nibble lookups (as in Teddy).
    Avx2,
    /// 64 bytes per step; each byte classified by one `vpermi2b`.
    Avx512,
}

/// The loops this CPU can run, the best last.
fn levels() -> Vec<Level> {
    let mut out = vec![Level::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("popcnt") {
            out.push(Level::Avx2);
            if has!("avx512f") && has!("avx512bw") && has!("avx512vbmi") {
                out.push(Level::Avx512);
            }
        }
    }
    out
}

/// True when this CPU has a vector loop and `KEYWARDEN_SIMD` does not turn it off: then
/// [`PairFinder::new`] gives a finder for up to 254 two-byte ASCII anchors.
#[cfg(test)]
pub(super) fn vector_loop() -> bool {
    levels().len() > 1 && std::env::var("KEYWARDEN_SIMD").as_deref() != Ok("off")
}

/// Finds two-byte ASCII anchors and counts newlines, in one pass.
#[derive(Clone, Debug)]
pub struct PairFinder {
    /// Per byte value below 0x80: a bit per anchor group that starts with it (AVX-512).
    first: [u8; 128],
    /// Per byte value below 0x80: a bit per anchor group whose second byte it is (AVX-512).
    second: [u8; 128],
    /// The first bytes' groups by low nibble and by high nibble (AVX2).
    first_lo: [u8; 16],
    first_hi: [u8; 16],
    /// The second bytes' groups by low nibble and by high nibble (AVX2).
    second_lo: [u8; 16],
    second_hi: [u8; 16],
    /// The anchor (index into the list `new` was given) of each ASCII byte pair, at
    /// `128 * first + second`; [`NONE`] for pairs that are not one.
    index: Vec<u8>,
    level: Level,
}

/// No anchor, in [`PairFinder::index`].
const NONE: u8 = u8::MAX;

impl PairFinder {
    /// A finder for `anchors` (distinct), when this CPU has a vector loop for it (x86-64
    /// with AVX2, best with AVX-512 F, BW and VBMI), every anchor is two ASCII bytes and
    /// there are fewer than 255 of them; else `None`.
    ///
    /// `KEYWARDEN_SIMD=avx2` (or `off`) caps the loop, to measure the others on one machine.
    pub fn new(anchors: &[Vec<u8>]) -> Option<PairFinder> {
        let cap = match std::env::var("KEYWARDEN_SIMD").as_deref() {
            Ok("off") => Level::Scalar,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        let level = levels().into_iter().filter(|&l| l <= cap).max()?;
        Self::at(anchors, level).filter(|f| f.level != Level::Scalar)
    }

    /// The finder for `anchors` that runs `level`'s loop. `find` trusts `level` to be one
    /// that [`levels`] lists: the safety of its vector loops depends on it.
    fn at(anchors: &[Vec<u8>], level: Level) -> Option<PairFinder> {
        debug_assert!(levels().contains(&level));
        if anchors.len() >= usize::from(NONE) {
            return None;
        }
        let mut f = PairFinder {
            first: [0; 128],
            second: [0; 128],
            first_lo: [0; 16],
            first_hi: [0; 16],
            second_lo: [0; 16],
            second_hi: [0; 16],
            index: vec![NONE; 128 * 128],
            level,
        };
        for (i, a) in anchors.iter().enumerate() {
            let &[x, y] = a.as_slice() else {
                return None;
            };
            if !x.is_ascii() || !y.is_ascii() {
                return None;
            }
            let bit = 1u8 << (i % 8);
            f.first[usize::from(x)] |= bit;
            f.second[usize::from(y)] |= bit;
            f.first_lo[usize::from(x & 0xf)] |= bit;
            f.first_hi[usize::from(x >> 4)] |= bit;
            f.second_lo[usize::from(y & 0xf)] |= bit;
            f.second_hi[usize::from(y >> 4)] |= bit;
            f.index[128 * usize::from(x) + usize::from(y)] = i as u8;
        }
        Some(f)
    }

    /// Calls `hit(i, a)`, in increasing order of `i`, for every `i` with `start <= i` and
    /// `i + 1 < end` where anchor `a` (an index into the list `new` was given) is
    /// `hay[i..i + 2]`. Returns the number of `\n` bytes in `hay[start..end]`.
    pub fn find(
        &self,
        hay: &[u8],
        start: usize,
        end: usize,
        hit: &mut impl FnMut(usize, usize),
    ) -> usize {
        let hay = &hay[..end.min(hay.len())];
        if start >= hay.len() {
            return 0;
        }
        match self.level {
            // SAFETY (both): a finder runs a level only if `levels()` found every feature
            // that level's loop is compiled for.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => self.batched(hay, start, hit, |pos, marks| unsafe {
                avx512::find(self, hay, pos, marks)
            }),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => self.batched(hay, start, hit, |pos, marks| unsafe {
                avx2::find(self, hay, pos, marks)
            }),
            _ => self.find_scalar(hay, start, hit),
        }
    }

    /// Runs a vector loop, which hands back the blocks that hold candidates in batches so
    /// that no call (which would spill its registers) sits inside it.
    fn batched(
        &self,
        hay: &[u8],
        start: usize,
        hit: &mut impl FnMut(usize, usize),
        mut kernel: impl FnMut(usize, &mut Marks) -> (usize, usize, usize),
    ) -> usize {
        let mut marks = [(0usize, 0u64); MARKS];
        let (mut pos, mut newlines) = (start, 0);
        loop {
            let (next, n, count) = kernel(pos, &mut marks);
            newlines += n;
            for &(at, mut bits) in &marks[..count] {
                while bits != 0 {
                    self.check(hay, at + bits.trailing_zeros() as usize, hit);
                    bits &= bits - 1;
                }
            }
            if count < MARKS {
                return newlines + self.find_scalar(hay, next, hit);
            }
            pos = next;
        }
    }

    /// Reports the anchor at candidate `i` of `hay`, if there is one (`i + 1 < hay.len()`).
    #[inline]
    fn check(&self, hay: &[u8], i: usize, hit: &mut impl FnMut(usize, usize)) {
        let (x, y) = (hay[i], hay[i + 1]);
        if x.is_ascii() && y.is_ascii() {
            let a = self.index[128 * usize::from(x) + usize::from(y)];
            if a != NONE {
                hit(i, usize::from(a));
            }
        }
    }

    /// [`PairFinder::find`] a byte at a time: the scalar level, and what is left after a
    /// vector loop's last full block. `end` is `hay.len()`.
    fn find_scalar(&self, hay: &[u8], start: usize, hit: &mut impl FnMut(usize, usize)) -> usize {
        let mut newlines = 0;
        for i in start..hay.len() {
            newlines += usize::from(hay[i] == b'\n');
            if i + 1 < hay.len() {
                self.check(hay, i, hit);
            }
        }
        newlines
    }
}

/// Blocks with candidates, as a vector loop hands them back: each block's start and its
/// candidates, one bit per byte.
type Marks = [(usize, u64); MARKS];

/// The block loop of both vector loops: from `start`, 64 bytes at a time while a block and
/// the byte after it fit in `len` bytes and `marks` has room. `step(i)` gives the block at
/// `i`'s candidates and newlines, one bit per byte. Returns where it stopped, the newlines
/// before that, and how many `marks` it filled.
#[inline(always)]
fn blocks(
    len: usize,
    start: usize,
    marks: &mut Marks,
    mut step: impl FnMut(usize) -> (u64, u64),
) -> (usize, usize, usize) {
    let (mut newlines, mut count) = (0usize, 0usize);
    let mut i = start;
    while i + 65 <= len && count < MARKS {
        let (candidates, lines) = step(i);
        newlines += lines.count_ones() as usize;
        if candidates != 0 {
            marks[count] = (i, candidates);
            count += 1;
        }
        i += 64;
    }
    (i, newlines, count)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Marks, PairFinder, blocks};
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_loadu_epi8, _mm512_permutex2var_epi8,
        _mm512_set1_epi8, _mm512_test_epi8_mask,
    };

    /// Loads 64 bytes from `hay` at `at`.
    ///
    /// # Safety
    /// `at + 64 <= hay.len()`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn load(hay: &[u8], at: usize) -> __m512i {
        debug_assert!(at + 64 <= hay.len());
        // SAFETY: the caller keeps `at..at + 64` inside `hay`; unaligned loads are fine.
        unsafe { _mm512_loadu_epi8(hay.as_ptr().add(at).cast()) }
    }

    /// The vector loop of [`PairFinder::find`], with `end` = `hay.len()`: searches whole
    /// 64-byte blocks from `start` until `marks` is full or no whole block (and the byte
    /// after it) is left. Returns where it stopped, the newlines before that, and how
    /// many `marks` it filled: each a block's start and its candidates, one bit per byte.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW, VBMI and POPCNT.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
    pub(super) unsafe fn find(
        f: &PairFinder,
        hay: &[u8],
        start: usize,
        marks: &mut Marks,
    ) -> (usize, usize, usize) {
        // SAFETY (all loads): each table is 128 bytes; blocks are read only while
        // `i + 65 <= hay.len()`, so both `i..i + 64` and `i + 1..i + 65` are in `hay`.
        let (first_lo, first_hi, second_lo, second_hi) = unsafe {
            (
                load(&f.first, 0),
                load(&f.first, 64),
                load(&f.second, 0),
                load(&f.second, 64),
            )
        };
        let newline = _mm512_set1_epi8(b'\n' as i8);
        blocks(hay.len(), start, marks, |i| {
            let (here, next) = unsafe { (load(hay, i), load(hay, i + 1)) };
            let a = _mm512_permutex2var_epi8(first_lo, here, first_hi);
            let b = _mm512_permutex2var_epi8(second_lo, next, second_hi);
            (
                _mm512_test_epi8_mask(a, b),
                _mm512_cmpeq_epi8_mask(here, newline),
            )
        })
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Marks, PairFinder, blocks};
    use std::arch::x86_64::{
        __m256i, _mm_loadu_si128, _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_setzero_si256,
        _mm256_shuffle_epi8, _mm256_srli_epi16,
    };

    /// Loads 32 bytes from `hay` at `at`.
    ///
    /// # Safety
    /// `at + 32 <= hay.len()`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load(hay: &[u8], at: usize) -> __m256i {
        debug_assert!(at + 32 <= hay.len());
        // SAFETY: the caller keeps `at..at + 32` inside `hay`; unaligned loads are fine.
        unsafe { _mm256_loadu_si256(hay.as_ptr().add(at).cast()) }
    }

    /// A 16-byte table in both 128-bit lanes (`vpshufb` looks up within a lane).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn table(t: &[u8; 16]) -> __m256i {
        // SAFETY: `t` is 16 bytes.
        _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr().cast()) })
    }

    /// Each byte's groups: its low nibble's in `lo` AND its high nibble's in `hi` (a byte
    /// of 0x80 and above has none, since anchors are ASCII).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn groups(v: __m256i, lo: __m256i, hi: __m256i) -> __m256i {
        let nibble = _mm256_set1_epi8(0x0f);
        let l = _mm256_shuffle_epi8(lo, _mm256_and_si256(v, nibble));
        let h = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
        _mm256_and_si256(l, h)
    }

    /// Candidates (one bit per byte) and newlines of the 32 bytes at `at`.
    ///
    /// # Safety
    /// `at + 33 <= hay.len()`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn half(hay: &[u8], at: usize, t: &[__m256i; 4]) -> (u64, u64) {
        // SAFETY: both `at..at + 32` and `at + 1..at + 33` are in `hay`.
        let (here, next) = unsafe { (load(hay, at), load(hay, at + 1)) };
        let both = _mm256_and_si256(groups(here, t[0], t[1]), groups(next, t[2], t[3]));
        let none = _mm256_movemask_epi8(_mm256_cmpeq_epi8(both, _mm256_setzero_si256()));
        let newlines = _mm256_movemask_epi8(_mm256_cmpeq_epi8(here, _mm256_set1_epi8(b'\n' as i8)));
        (u64::from(!(none as u32)), u64::from(newlines as u32))
    }

    /// As `avx512::find`, 64 bytes per step in two halves.
    ///
    /// # Safety
    /// The CPU has AVX2 and POPCNT.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn find(
        f: &PairFinder,
        hay: &[u8],
        start: usize,
        marks: &mut Marks,
    ) -> (usize, usize, usize) {
        let t = [
            table(&f.first_lo),
            table(&f.first_hi),
            table(&f.second_lo),
            table(&f.second_hi),
        ];
        blocks(hay.len(), start, marks, |i| {
            // SAFETY: `blocks` steps only while `i + 32 + 33 <= hay.len()`.
            let ((c0, n0), (c1, n1)) = unsafe { (half(hay, i, &t), half(hay, i + 32, &t)) };
            (c0 | c1 << 32, n0 | n1 << 32)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ANCHORS: &[&[u8]] = &[b"mk", b"\0k", b"ZV", b"GV", b"X2", b"X3", b"XZ", b"ZX"];

    /// A finder for `anchors` per loop this CPU runs (the scalar one at least): every
    /// test holds each of them to the naive search.
    fn finders(anchors: &[&[u8]]) -> Vec<PairFinder> {
        let list: Vec<Vec<u8>> = anchors.iter().map(|a| a.to_vec()).collect();
        levels()
            .into_iter()
            .map(|l| PairFinder::at(&list, l).unwrap())
            .collect()
    }

    /// Every `i` where an anchor starts (with the anchor) and the newline count, computed
    /// naively.
    fn naive(
        anchors: &[&[u8]],
        hay: &[u8],
        start: usize,
        end: usize,
    ) -> (Vec<(usize, usize)>, usize) {
        let end = end.min(hay.len());
        let starts = (start..end.saturating_sub(1))
            .filter_map(|i| Some((i, anchors.iter().position(|a| **a == hay[i..i + 2])?)))
            .collect();
        let newlines = hay[start.min(end)..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (starts, newlines)
    }

    /// Checks every loop in `finders` (for `anchors`) against the naive search.
    fn check(finders: &[PairFinder], anchors: &[&[u8]], hay: &[u8], start: usize, end: usize) {
        let want = naive(anchors, hay, start, end);
        for f in finders {
            let mut hits = Vec::new();
            let n = f.find(hay, start, end, &mut |i, a| hits.push((i, a)));
            assert_eq!(
                (hits, n),
                want,
                "{:?} on {start}..{end} of {hay:?}",
                f.level
            );
        }
    }

    #[test]
    fn finders_refuse_what_the_loops_cannot_hold() {
        assert!(PairFinder::at(&[b"mk".to_vec()], Level::Scalar).is_some());
        assert!(PairFinder::at(&[b"mkx".to_vec()], Level::Scalar).is_none());
        assert!(PairFinder::at(&[b"m".to_vec()], Level::Scalar).is_none());
        assert!(PairFinder::at(&[vec![b'm', 0xc3]], Level::Scalar).is_none());
    }

    #[test]
    fn anchors_at_every_block_edge() {
        let finders = finders(ANCHORS);
        for len in [
            0usize, 1, 2, 31, 32, 33, 63, 64, 65, 66, 127, 128, 129, 130, 200,
        ] {
            for at in 0..len.saturating_sub(1) {
                for a in ANCHORS {
                    let mut hay = vec![b'.'; len];
                    hay[at..at + 2].copy_from_slice(a);
                    hay[len / 2] = b'\n';
                    for start in [0, 1, at.saturating_sub(1), at, at + 1] {
                        check(&finders, ANCHORS, &hay, start, len);
                    }
                }
            }
        }
    }

    #[test]
    fn batches_of_candidate_blocks_resume_where_they_stopped() {
        // An anchor every 50 bytes: more blocks with candidates than one batch holds.
        let mut hay = Vec::new();
        while hay.len() < 64 * 4 * MARKS {
            hay.extend_from_slice(b"let k = \"mk\"; // X2 ZV\n".repeat(2).as_slice());
        }
        let finders = finders(ANCHORS);
        for start in [0, 1, 63, 64, 65, 1000] {
            check(&finders, ANCHORS, &hay, start, hay.len());
        }
    }

    #[test]
    fn non_ascii_twins_are_not_anchors() {
        // 0xed 0xeb is "mk" with the top bits set: a loop may stop there, the check not.
        let mut hay = [0xedu8, 0xeb].repeat(100);
        hay.extend_from_slice(b"mk\n");
        assert_eq!(naive(ANCHORS, &hay, 0, hay.len()), (vec![(200, 0)], 1));
        check(&finders(ANCHORS), ANCHORS, &hay, 0, hay.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn vector_loops_agree_with_the_naive_search(
            // Bytes drawn mostly from the anchors' letters, newlines and 0x80+ twins;
            // up to 62 blocks, so a batch of candidate blocks (32) fills and resumes.
            hay in proptest::collection::vec(any::<u8>(), 0..4000).prop_map(|v| {
                const COMMON: &[u8] = b"mk\0ZVGX23\n\xed\xeb";
                v.into_iter()
                    .map(|b| COMMON.get(usize::from(b) % 16).copied().unwrap_or(b))
                    .collect::<Vec<u8>>()
            }),
            start in 0usize..4100,
            end in 0usize..4100,
            // More than eight anchors share the loops' eight groups.
            many in any::<bool>(),
        ) {
            let more: &[&[u8]] = &[
                b"mk", b"\0k", b"ZV", b"GV", b"X2", b"X3", b"XZ", b"ZX", b"km", b"VZ", b"2X",
                b"m\n", b"\nk",
            ];
            let anchors = if many { more } else { ANCHORS };
            check(&finders(anchors), anchors, &hay, start.min(hay.len()), end);
        }
    }
}
