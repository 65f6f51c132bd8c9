//! Placeholder filters: strings that match a key rule but are not keys (documentation
//! examples, `YOUR_KEY_HERE`, counting and keyboard sequences, a word repeated). Each
//! test looks at the key's body (after the prefix). A real key is random, so every test
//! here is built to fire on it with a probability far below one in a million: runs long
//! enough, exact steps, words long enough or in one case (see the property test in
//! `tests/props.rs`).

use super::schema::{Ctx, PlaceholderKind, PlaceholderSpec};
use crate::error::Result;
use std::collections::HashSet;

/// Keyboard rows, letters only: digits are counting sequences already.
const KEYBOARD_ROWS: [&[u8]; 3] = [b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];

/// Words of at least this many letters match in any case (`YourApiKey`); shorter ones
/// only in lower case, upper case or capitalized, which random bodies seldom spell.
const ANY_CASE_WORD: usize = 7;

/// A compiled placeholder filter.
#[derive(Debug)]
pub struct Placeholder {
    /// Its id.
    pub id: String,
    /// What it catches.
    pub description: String,
    test: PlaceholderTest,
}

#[derive(Debug)]
enum PlaceholderTest {
    Literal(HashSet<Vec<u8>>),
    /// Each word in the forms it is looked for (one, or lower, upper and capitalized).
    Words(Vec<Vec<Vec<u8>>>),
    Repeated {
        min_share: f64,
        min_run: usize,
    },
    Sequence {
        min_run: usize,
        ignore_case: bool,
    },
    Variety {
        max_distinct: usize,
    },
    Keyboard {
        min_run: usize,
    },
    Periodic {
        min_run: usize,
    },
    Counter {
        min_run: usize,
    },
}

impl Placeholder {
    /// True when `key` (full) with `body` (after the prefix) is a placeholder.
    pub fn matches(&self, key: &[u8], body: &[u8]) -> bool {
        match &self.test {
            PlaceholderTest::Literal(set) => set.contains(key),
            PlaceholderTest::Words(words) => {
                let mut lower = [0u8; 64];
                let n = body.len().min(lower.len());
                for (l, b) in lower.iter_mut().zip(body) {
                    *l = b.to_ascii_lowercase();
                }
                words.iter().any(|forms| match forms.as_slice() {
                    [any_case] => memchr::memmem::find(&lower[..n], any_case).is_some(),
                    forms => forms
                        .iter()
                        .any(|f| memchr::memmem::find(body, f).is_some()),
                }) || filled_words(&lower[..n], words) >= 2
            }
            PlaceholderTest::Repeated { min_share, min_run } => {
                let mut counts = [0usize; 256];
                let (mut run, mut best_run, mut prev) = (0usize, 0usize, None);
                for &b in body {
                    counts[b as usize] += 1;
                    run = if prev == Some(b) { run + 1 } else { 1 };
                    best_run = best_run.max(run);
                    prev = Some(b);
                }
                let top = counts.iter().copied().max().unwrap_or(0);
                !body.is_empty()
                    && (top as f64 >= min_share * body.len() as f64 || best_run >= *min_run)
            }
            PlaceholderTest::Sequence {
                min_run,
                ignore_case,
            } => {
                let fold = |b: u8| {
                    if *ignore_case {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    }
                };
                // Counting down (`zyxwvu`, `987654`) is as much a placeholder as up.
                longest_run(body, |a, b| fold(b) == fold(a).wrapping_add(1)) >= *min_run
                    || longest_run(body, |a, b| fold(b) == fold(a).wrapping_sub(1)) >= *min_run
            }
            PlaceholderTest::Variety { max_distinct } => {
                let mut seen = [false; 256];
                body.iter().for_each(|&b| seen[b as usize] = true);
                seen.iter().filter(|s| **s).count() <= *max_distinct
            }
            PlaceholderTest::Keyboard { min_run } => keyboard_run(body) >= *min_run,
            PlaceholderTest::Periodic { min_run } => periodic(body, *min_run),
            PlaceholderTest::Counter { min_run } => counter(body) >= *min_run,
        }
    }
}

/// How many of `words` the letters of `lower` (a lowered body) spell once the filler
/// between them is dropped (`your0test0key0goes0here00`, `insert_your_key_here`): 0 unless
/// the letters are split by fillers at least twice. Two words are asked for: a random body
/// spells one listed word with a chance near 1e-8, two far below that.
fn filled_words(lower: &[u8], words: &[Vec<Vec<u8>>]) -> usize {
    let fillers = lower
        .windows(2)
        .filter(|w| w[0].is_ascii_lowercase() && !w[1].is_ascii_lowercase())
        .count();
    if fillers < 2 {
        return 0;
    }
    let mut letters = [0u8; 64];
    let mut n = 0;
    for &b in lower.iter().filter(|b| b.is_ascii_lowercase()) {
        letters[n] = b;
        n += 1;
    }
    words
        .iter()
        .filter_map(|forms| forms.first())
        .filter(|w| memchr::memmem::find(&letters[..n], w).is_some())
        .count()
}

/// The longest run of bytes in which each byte follows the one before by `step`.
fn longest_run(body: &[u8], step: impl Fn(u8, u8) -> bool) -> usize {
    let (mut run, mut best) = (1usize, usize::from(!body.is_empty()));
    for w in body.windows(2) {
        run = if step(w[0], w[1]) { run + 1 } else { 1 };
        best = best.max(run);
    }
    best
}

/// The forms `word` is looked for in: any case for long words (stored lower case, matched
/// against the lowered body), else lower, upper or capitalized.
fn word_forms(word: &str) -> Vec<Vec<u8>> {
    let lower = word.to_ascii_lowercase().into_bytes();
    if lower.len() >= ANY_CASE_WORD {
        return vec![lower];
    }
    let upper = lower.to_ascii_uppercase();
    let mut capital = lower.clone();
    if let Some(c) = capital.first_mut() {
        *c = c.to_ascii_uppercase();
    }
    vec![lower, upper, capital]
}

/// Row and column of a letter on the keyboard (`None` for anything else).
fn key_position(b: u8) -> Option<(usize, isize)> {
    let b = b.to_ascii_lowercase();
    KEYBOARD_ROWS.iter().enumerate().find_map(|(r, row)| {
        let c = memchr::memchr(b, row)?;
        Some((r, c as isize))
    })
}

/// The longest walk along a keyboard row (`qwerty`, `lkjhgf`) in one case and one
/// direction.
fn keyboard_run(body: &[u8]) -> usize {
    let (mut run, mut best, mut last_dir) = (1usize, usize::from(!body.is_empty()), 0isize);
    let mut prev = body.first().and_then(|&b| key_position(b));
    for w in body.windows(2) {
        let here = key_position(w[1]);
        let step = match (prev, here) {
            (Some((r1, c1)), Some((r2, c2)))
                if r1 == r2
                    && (c2 - c1).abs() == 1
                    && w[0].is_ascii_lowercase() == w[1].is_ascii_lowercase() =>
            {
                Some(c2 - c1)
            }
            _ => None,
        };
        run = match step {
            Some(d) if run > 1 && d == last_dir => run + 1,
            Some(_) => 2,
            None => 1,
        };
        last_dir = step.unwrap_or(0);
        best = best.max(run);
        prev = here;
    }
    best
}

/// A stretch of `body` that repeats itself with a period of 2 to 10 characters for at
/// least `min_run` characters past its first period (`TESTKEYTESTKEY…`, `ab12ab12ab12`).
fn periodic(body: &[u8], min_run: usize) -> bool {
    (2..=10usize).any(|p| {
        let mut run = 0usize;
        (p..body.len()).any(|i| {
            run = if body[i] == body[i - p] { run + 1 } else { 0 };
            run >= min_run
        })
    })
}

/// How many characters from the start of `body` count up in interleaved runs of letters
/// and digits, each run going on from the last run of its class (`abc123def456ghi789`,
/// `a1b2c3d4e5f6`): 0 when the body does not switch class at least once.
fn counter(body: &[u8]) -> usize {
    #[derive(Clone, Copy, PartialEq)]
    enum Class {
        Lower,
        Upper,
        Digit,
    }
    let class = |b: u8| match b {
        b'a'..=b'z' => Some(Class::Lower),
        b'A'..=b'Z' => Some(Class::Upper),
        b'0'..=b'9' => Some(Class::Digit),
        _ => None,
    };
    let succ = |a: u8, b: u8| b == a + 1 || (a == b'9' && b == b'0');
    let mut last: [Option<u8>; 3] = [None; 3];
    let (mut prev, mut switches) = (None::<(Class, u8)>, 0usize);
    for (i, &b) in body.iter().enumerate() {
        let Some(c) = class(b) else { return 0 };
        let ok = match prev {
            None => true,
            Some((pc, pb)) if pc == c => succ(pb, b),
            Some(_) => {
                switches += 1;
                last[c as usize].is_none_or(|l| succ(l, b))
            }
        };
        if !ok {
            return if switches > 0 { i } else { 0 };
        }
        last[c as usize] = Some(b);
        prev = Some((c, b));
    }
    if switches > 0 { body.len() } else { 0 }
}

/// Compiles one `[[placeholder]]` table.
pub(super) fn compile_placeholder(cx: &Ctx<'_>, spec: &PlaceholderSpec) -> Result<Placeholder> {
    let id = spec.id.get_ref().clone();
    let span = spec.kind.span();
    let need = |what: &str| -> Result<Placeholder> {
        cx.err(
            span.clone(),
            format!("placeholder {id:?} of this kind needs `{what}`"),
        )
    };
    let run = |least: usize| spec.min_run.filter(|n| *n >= least);
    let test = match spec.kind.get_ref() {
        PlaceholderKind::Literal if spec.keys.is_empty() => return need("keys"),
        PlaceholderKind::Literal => {
            PlaceholderTest::Literal(spec.keys.iter().map(|k| k.as_bytes().to_vec()).collect())
        }
        PlaceholderKind::Words if spec.words.is_empty() => return need("words"),
        PlaceholderKind::Words => {
            PlaceholderTest::Words(spec.words.iter().map(|w| word_forms(w)).collect())
        }
        PlaceholderKind::Repeated => PlaceholderTest::Repeated {
            min_share: spec.min_share.unwrap_or(1.0).clamp(0.0, 1.0),
            min_run: spec.min_run.unwrap_or(usize::MAX),
        },
        PlaceholderKind::Sequence => match run(3) {
            Some(min_run) => PlaceholderTest::Sequence {
                min_run,
                ignore_case: spec.ignore_case.unwrap_or(false),
            },
            None => return need("min_run (3 or more)"),
        },
        PlaceholderKind::Variety => match spec.max_distinct {
            Some(max_distinct) => PlaceholderTest::Variety { max_distinct },
            None => return need("max_distinct"),
        },
        PlaceholderKind::Keyboard => match run(4) {
            Some(min_run) => PlaceholderTest::Keyboard { min_run },
            None => return need("min_run (4 or more)"),
        },
        PlaceholderKind::Periodic => match run(4) {
            Some(min_run) => PlaceholderTest::Periodic { min_run },
            None => return need("min_run (4 or more)"),
        },
        PlaceholderKind::Counter => match run(6) {
            Some(min_run) => PlaceholderTest::Counter { min_run },
            None => return need("min_run (6 or more)"),
        },
    };
    Ok(Placeholder {
        id,
        description: spec.description.clone().unwrap_or_default(),
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_words_rows_periods_and_counters() {
        assert_eq!(longest_run(b"xabcdefy", |a, b| b == a + 1), 6);
        assert_eq!(word_forms("yourapi"), vec![b"yourapi".to_vec()]);
        assert_eq!(word_forms("dummy").len(), 3);
        let words = Placeholder {
            id: "w".into(),
            description: String::new(),
            test: PlaceholderTest::Words(vec![word_forms("yourapi"), word_forms("dummy")]),
        };
        assert!(words.matches(b"", b"YourApiKeyGoesHere123"));
        assert!(words.matches(b"", b"xxDummyxx") && !words.matches(b"", b"xxdUmmyxx"));
        let words = Placeholder {
            id: "w".into(),
            description: String::new(),
            test: PlaceholderTest::Words(
                ["yourkey", "testkey", "goeshere", "keyhere"]
                    .iter()
                    .map(|w| word_forms(w))
                    .collect(),
            ),
        };
        assert!(words.matches(b"", b"your0test0key0goes0here00"));
        assert!(words.matches(b"", b"YOUR1KEY1GOES1HERE"));
        assert!(
            !words.matches(b"", b"your0test0keyAbc"),
            "one word is not enough"
        );
        assert!(
            !words.matches(b"", b"yourtestXkeyQgoesZhere"),
            "letters are no filler"
        );
        assert_eq!(keyboard_run(b"qwertyuiop12"), 10);
        assert_eq!(keyboard_run(b"poiuytXX"), 6);
        assert_eq!(keyboard_run(b"qwewqewq"), 3);
        assert_eq!(keyboard_run(b"qWeRtY"), 1);
        assert!(periodic(b"TESTKEYTESTKEYTESTKEY", 8));
        assert!(!periodic(b"TESTKEYTESTKE", 8));
        assert_eq!(counter(b"abc123def456ghi789"), 18);
        assert_eq!(counter(b"a1b2c3d4e5f6g7h8"), 16);
        assert_eq!(counter(b"abc123def457Xq"), 11);
        assert_eq!(counter(b"abcdefghijkl"), 0);
        assert_eq!(counter(b"4eC39HqLyjWD"), 3);
    }
}
