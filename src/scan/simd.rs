//! The matcher's hot loop on CPUs with AVX-512 VBMI: one pass over a slice that finds
//! every place where one of the prefilter's two-byte anchors may start *and* counts the
//! slice's newlines.
//!
//! This is the crate's one module with `unsafe` (`style.md`: a measured hot path, one
//! small module). Measured on the 1 GiB big-file corpus (`perf record --all-user`, Zen 5),
//! aho-corasick's Teddy (AVX2) took 62% of keywarden's user time and `bytecount`'s line
//! count 21%; both are replaced here by a loop that, per 64 bytes, loads the block and the
//! block one byte later, looks up each byte of both in a 128-entry table with one
//! `vpermi2b` each, ANDs the two, and counts `\n` with one compare and a popcount.
//! `cargo bench --bench matcher` went from 14.1 to 21.7 GB/s on code without keys (the
//! bench copies its input as a file read would), and keywarden's user time on the big-file
//! corpus from 71 to 28 ms (ripgrep's plain `mk_` search: 40 ms).
//!
//! The tables hold, for each ASCII byte, one bit per anchor group (anchor `i` is in group
//! `i % 8`) whose first (or second) byte it is. `vpermi2b` ignores an index's top bit, so
//! a byte of 0x80 and above looks like its ASCII twin: such hits are false ones, and the
//! caller rejects every hit whose two bytes are not an anchor. Nothing here can miss one.
//!
//! Where the CPU lacks the features, [`PairFinder::new`] gives `None` and the matcher
//! keeps aho-corasick and `bytecount`.
#![allow(unsafe_code)]

/// Blocks with candidates that the vector loop collects before it hands them back.
const MARKS: usize = 32;

/// Finds candidate starts of two-byte ASCII anchors and counts newlines, in one pass.
#[derive(Clone, Debug)]
pub struct PairFinder {
    /// Per byte value below 0x80: a bit per anchor group that starts with it.
    first: [u8; 128],
    /// Per byte value below 0x80: a bit per anchor group whose second byte it is.
    second: [u8; 128],
    /// The CPU runs the vector loop (always, for finders from [`PairFinder::new`]).
    vector: bool,
}

impl PairFinder {
    /// A finder for `anchors`, when this CPU can run it (x86-64 with AVX-512 F, BW and
    /// VBMI) and every anchor is two ASCII bytes; else `None`.
    pub fn new(anchors: &[Vec<u8>]) -> Option<PairFinder> {
        Self::tables(anchors).filter(|f| f.vector)
    }

    /// The lookup tables for `anchors`, on any CPU (the scalar loop where the vector one
    /// cannot run).
    fn tables(anchors: &[Vec<u8>]) -> Option<PairFinder> {
        let mut f = PairFinder {
            first: [0; 128],
            second: [0; 128],
            vector: available(),
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
        }
        Some(f)
    }

    /// Calls `hit(i)`, in increasing order, for every `i` with `start <= i` and
    /// `i + 1 < end` where `hay[i..i + 2]` may be an anchor: every anchor there, and some
    /// other pairs. Returns the number of `\n` bytes in `hay[start..end]`.
    pub fn find(&self, hay: &[u8], start: usize, end: usize, hit: &mut impl FnMut(usize)) -> usize {
        let hay = &hay[..end.min(hay.len())];
        if start >= hay.len() {
            return 0;
        }
        #[cfg(target_arch = "x86_64")]
        if self.vector {
            // The vector loop hands back the blocks that hold candidates in batches, so
            // that no call (which would spill its registers) sits inside it.
            let mut marks = [(0usize, 0u64); MARKS];
            let (mut pos, mut newlines) = (start, 0);
            loop {
                // SAFETY: `vector` is set only when `available()` found every feature
                // that `avx512::find` is compiled for.
                let (next, n, count) = unsafe { avx512::find(self, hay, pos, &mut marks) };
                newlines += n;
                for &(at, mut bits) in &marks[..count] {
                    while bits != 0 {
                        hit(at + bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
                if count < MARKS {
                    return newlines + self.find_scalar(hay, next, hit);
                }
                pos = next;
            }
        }
        self.find_scalar(hay, start, hit)
    }

    /// [`PairFinder::find`] a byte at a time, for what is left after the last full block
    /// (and as the reference the tests hold the vector loop to). `end` is `hay.len()`.
    fn find_scalar(&self, hay: &[u8], start: usize, hit: &mut impl FnMut(usize)) -> usize {
        let mut newlines = 0;
        for i in start..hay.len() {
            let b = hay[i];
            newlines += usize::from(b == b'\n');
            if let Some(&c) = hay.get(i + 1)
                && self.first[usize::from(b & 0x7f)] & self.second[usize::from(c & 0x7f)] != 0
            {
                hit(i);
            }
        }
        newlines
    }
}

/// True when this CPU runs the vector loop.
fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{MARKS, PairFinder};
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
        marks: &mut [(usize, u64); MARKS],
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
        let (mut newlines, mut count) = (0usize, 0usize);
        let mut i = start;
        while i + 65 <= hay.len() && count < MARKS {
            let (here, next) = unsafe { (load(hay, i), load(hay, i + 1)) };
            let a = _mm512_permutex2var_epi8(first_lo, here, first_hi);
            let b = _mm512_permutex2var_epi8(second_lo, next, second_hi);
            let candidates = _mm512_test_epi8_mask(a, b);
            newlines += _mm512_cmpeq_epi8_mask(here, newline).count_ones() as usize;
            if candidates != 0 {
                marks[count] = (i, candidates);
                count += 1;
            }
            i += 64;
        }
        (i, newlines, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ANCHORS: [&[u8]; 8] = [b"mk", b"\0k", b"ZV", b"GV", b"X2", b"X3", b"XZ", b"ZX"];

    fn anchors() -> Vec<Vec<u8>> {
        ANCHORS.iter().map(|a| a.to_vec()).collect()
    }

    /// Every `i` where an anchor starts and the newline count, computed naively.
    fn naive(hay: &[u8], start: usize, end: usize) -> (Vec<usize>, usize) {
        let end = end.min(hay.len());
        let starts = (start..end.saturating_sub(1))
            .filter(|&i| ANCHORS.contains(&&hay[i..i + 2]))
            .collect();
        let newlines = hay[start.min(end)..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (starts, newlines)
    }

    fn run(f: &PairFinder, hay: &[u8], start: usize, end: usize) -> (Vec<usize>, usize) {
        let mut hits = Vec::new();
        let n = f.find(hay, start, end, &mut |i| hits.push(i));
        // The caller's check: the two bytes are an anchor.
        hits.retain(|&i| ANCHORS.contains(&&hay[i..i + 2]));
        (hits, n)
    }

    #[test]
    fn tables_refuse_what_the_loop_cannot_hold() {
        assert!(PairFinder::tables(&[b"mk".to_vec()]).is_some());
        assert!(PairFinder::tables(&[b"mkx".to_vec()]).is_none());
        assert!(PairFinder::tables(&[b"m".to_vec()]).is_none());
        assert!(PairFinder::tables(&[vec![b'm', 0xc3]]).is_none());
    }

    #[test]
    fn anchors_at_every_block_edge() {
        // Without AVX-512 VBMI this holds the scalar loop alone to the naive search.
        let f = PairFinder::tables(&anchors()).unwrap();
        for len in [0usize, 1, 2, 63, 64, 65, 66, 127, 128, 129, 130, 200] {
            for at in 0..len.saturating_sub(1) {
                for a in ANCHORS {
                    let mut hay = vec![b'.'; len];
                    hay[at..at + 2].copy_from_slice(a);
                    hay[len / 2] = b'\n';
                    for start in [0, 1, at.saturating_sub(1), at, at + 1] {
                        assert_eq!(run(&f, &hay, start, len), naive(&hay, start, len));
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
        let f = PairFinder::tables(&anchors()).unwrap();
        for start in [0, 1, 63, 64, 65, 1000] {
            assert_eq!(
                run(&f, &hay, start, hay.len()),
                naive(&hay, start, hay.len())
            );
        }
    }

    #[test]
    fn non_ascii_twins_are_not_anchors() {
        // 0xed 0xeb is "mk" with the top bits set: the loop may stop there, the check not.
        let mut hay = [0xedu8, 0xeb].repeat(100);
        hay.extend_from_slice(b"mk\n");
        let f = PairFinder::tables(&anchors()).unwrap();
        assert_eq!(run(&f, &hay, 0, hay.len()), (vec![200], 1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn vector_loop_agrees_with_the_naive_search(
            hay in proptest::collection::vec(
                prop_oneof![
                    Just(b'm'), Just(b'k'), Just(0u8), Just(b'Z'), Just(b'V'), Just(b'G'),
                    Just(b'X'), Just(b'2'), Just(b'3'), Just(b'\n'), Just(0xedu8),
                    Just(0xebu8), any::<u8>(),
                ],
                0..400,
            ),
            start in 0usize..420,
            end in 0usize..420,
        ) {
            let f = PairFinder::tables(&anchors()).unwrap();
            let start = start.min(hay.len());
            prop_assert_eq!(run(&f, &hay, start, end), naive(&hay, start, end));
        }
    }
}
