//! Finds keys in a byte buffer: a literal prefilter (SIMD) for every rule's prefix in
//! plain, UTF-16 (LE and BE) and base64 forms, then the rule's anchored regex at each
//! candidate only. The prefilter is [`super::simd`]'s AVX2 or AVX-512 loop where the CPU
//! has one (it counts lines on the way), else aho-corasick's Teddy.
//!
//! Base64: for each prefix and each of the three byte alignments, the part of the encoding
//! that the prefix alone determines is searched for; a hit decodes the whole base64 token
//! around it and searches the decoded bytes for plain keys.

use super::simd::PairFinder;
use crate::finding::Encoding;
use crate::rules::RuleDb;
use aho_corasick::{AhoCorasick, Input, MatchKind};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The longest key (prefix + body) the matcher looks at.
pub const MAX_KEY_LEN: usize = 1024;
/// How far back from a base64 hit the token may start.
pub const B64_LOOKBEHIND: usize = 4 * 1024;
/// How far forward from a base64 hit the token may end.
pub const B64_LOOKAHEAD: usize = 8 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    Plain,
    Utf16Le,
    Utf16Be,
    Base64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Pattern {
    rule: usize,
    form: Form,
}

/// What the caller knows of the bytes it hands to [`Matcher::find`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Text {
    /// Binary data: the word-boundary check before a prefix is skipped, since binary
    /// records glue fields together (`…mk_api_keymk_live_…` in a SQLite page).
    pub binary: bool,
    /// UTF-16 text whose byte order mark says little-endian (`Some(true)`) or big-endian
    /// (`Some(false)`): only that order is read. Without one, both are.
    pub utf16_le: Option<bool>,
}

/// One key found in a buffer. Holds the full key: keep it in memory only.
#[derive(Debug)]
pub struct RawMatch {
    /// Index of the rule in [`RuleDb::rules`].
    pub rule: usize,
    /// Start of the key (or of its encoded form) in the buffer.
    pub start: usize,
    /// End (exclusive) of the key or its encoded form.
    pub end: usize,
    /// The decoded key.
    pub key: crate::secret::SecretKey,
    /// How it was written.
    pub encoding: Encoding,
}

/// The compiled prefilter for a [`RuleDb`]. Cheap to share between threads.
///
/// The searcher does not look for the literals (a prefix in one of its forms) themselves
/// but for one two-byte *anchor* inside each: the adjacent pair of bytes that is least
/// common in source code and text ([`anchor`]): for the built-ins, `mk` in `mk_live_`,
/// `\0k` in all four UTF-16 forms and `ZV`, `GV`, `X2`, `X3`, `XZ`, `ZX` in the base64
/// forms. Two-byte anchors keep the SIMD searcher (Teddy) on its fastest path, and rare
/// ones keep it from stopping on false candidates (a head such as `\0m\0` would stop at
/// every `m` of UTF-16 text). At every anchor hit,
/// each literal that owns the anchor is checked at its own offset, for every rule that
/// owns the literal, so rules that share or extend a prefix (`mk_`, `mk_live_`,
/// `mk_live_ci_`) never hide each other.
#[derive(Debug)]
pub struct Matcher {
    ac: AhoCorasick,
    /// The same search with a fused line count, where the CPU has AVX2 or AVX-512 VBMI
    /// (anchors numbered as in `ac`).
    pairs: Option<PairFinder>,
    /// Per anchor (in the order `ac` knows them): the literals that hold it (index into
    /// `literals`) and at which offset.
    anchored: Vec<Vec<(usize, usize)>>,
    /// The furthest an anchor sits from the start of its literal.
    max_offset: usize,
    literals: Vec<Vec<u8>>,
    owners: Vec<Vec<Pattern>>,
    plain_ac: AhoCorasick,
    plain: Vec<Vec<u8>>,
    plain_owners: Vec<Vec<usize>>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Does `before` end with an encoded separator, whose last character is a word character
/// but which stands for punctuation or white space: URL percent-encoding (`%3D`, and
/// `%253D` encoded twice), quoted-printable (`=3D`), JSON and JavaScript escapes (`\n`,
/// `\t`, `\u003d`, `\x3d`)? A key right after one is a key: logs, HAR files, JSON
/// inside JSON and query strings are full of them.
fn escaped_separator(before: &[u8]) -> bool {
    let hex = |b: &[u8]| b.iter().all(u8::is_ascii_hexdigit);
    let ends = |n: usize| before.len() >= n;
    let tail = |n: usize| &before[before.len() - n..];
    (ends(3) && matches!(tail(3)[0], b'%' | b'=') && hex(&tail(3)[1..]))
        || (ends(5) && tail(5).starts_with(b"%25") && hex(&tail(5)[3..]))
        || (ends(2)
            && tail(2)[0] == b'\\'
            && matches!(tail(2)[1], b'n' | b't' | b'r' | b'b' | b'f' | b'v' | b'0'))
        || (ends(4)
            && tail(4)[0] == b'\\'
            && matches!(tail(4)[1], b'x' | b'X')
            && hex(&tail(4)[2..]))
        || (ends(6)
            && tail(6)[0] == b'\\'
            && matches!(tail(6)[1], b'u' | b'U')
            && hex(&tail(6)[2..]))
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// The parts of base64(prefix) that do not depend on the bytes around it, one per
/// alignment, in the standard and URL-safe alphabets.
fn base64_forms(prefix: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for align in 0..3usize {
        let mut bytes = vec![0u8; align];
        bytes.extend_from_slice(prefix);
        let enc = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        let skip = [0, 2, 3][align];
        let full = (bytes.len() * 8) / 6;
        if full <= skip + 4 {
            continue;
        }
        let stable = enc.as_bytes()[skip..full].to_vec();
        let url: Vec<u8> = stable
            .iter()
            .map(|&b| match b {
                b'+' => b'-',
                b'/' => b'_',
                b => b,
            })
            .collect();
        if url != stable && !out.contains(&url) {
            out.push(url);
        }
        if !out.contains(&stable) {
            out.push(stable);
        }
    }
    out
}

fn utf16(prefix: &[u8], le: bool) -> Vec<u8> {
    prefix
        .iter()
        .flat_map(|&b| if le { [b, 0] } else { [0, b] })
        .collect()
}

const B64_ENGINES: [GeneralPurpose; 2] = [
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    ),
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    ),
];

/// Adds `lit` (owned by `owner`) to the distinct literal list.
fn add_literal<T: PartialEq>(
    lits: &mut Vec<Vec<u8>>,
    owners: &mut Vec<Vec<T>>,
    lit: Vec<u8>,
    owner: T,
) {
    match lits.iter().position(|l| *l == lit) {
        Some(i) if !owners[i].contains(&owner) => owners[i].push(owner),
        Some(_) => {}
        None => {
            lits.push(lit);
            owners.push(vec![owner]);
        }
    }
}

/// Printable ASCII and whitespace from the most to the least frequent in source code
/// (counted over 30,000 files of crates.io sources); the rest of the bytes count as rare.
const BY_FREQUENCY: &[u8] = b" etrsinao\n_:culdp,mf/bh()0.x1gy2SET;v=wIAR3\">CO\t-NL4PD6k<85{}[]F#M*9%qB7U&`$zGVH\\!'XWKY|+j@QZ?\rJ^~";

/// How common `b` is in text: higher is more common. NUL is ranked as a middling byte,
/// since binary files are full of it.
fn commonness(b: u8) -> usize {
    let n = BY_FREQUENCY.len();
    match BY_FREQUENCY.iter().position(|&c| c == b) {
        Some(i) => n - i,
        None if b == 0 => n / 2,
        None => 0,
    }
}

/// The offset of the least common adjacent byte pair in `lit` (a literal of at least two
/// bytes), preferring one of the `taken` anchors when it is as rare: fewer distinct
/// anchors share the searcher's buckets less.
fn anchor(lit: &[u8], taken: &[Vec<u8>]) -> usize {
    let score = |i: usize| commonness(lit[i]) + commonness(lit[i + 1]);
    (0..lit.len().saturating_sub(1))
        .min_by_key(|&i| {
            let fresh = !taken.iter().any(|a| a[..] == lit[i..i + 2]);
            (score(i), fresh)
        })
        .unwrap_or(0)
}

fn build_ac(lits: &[Vec<u8>]) -> crate::Result<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(lits)
        .map_err(|e| crate::Error::Usage(format!("the rules' prefixes cannot be compiled: {e}")))
}

/// The key of `rule` that UTF-16 units (`le`, or big-endian) from `s` of `hay` spell,
/// after the word-boundary check on the unit before it; with `true` when the key runs to
/// the end of `hay` (the data may have cut it short).
fn utf16_key(rule: &crate::rules::Rule, hay: &[u8], s: usize, le: bool) -> Option<(Vec<u8>, bool)> {
    // Index of the ASCII byte within each 2-byte unit.
    let (lo, hi) = if le { (0, 1) } else { (1, 0) };
    if rule.boundary && s >= 2 && hay[s - 2 + hi] == 0 && is_word(hay[s - 2 + lo]) {
        return None;
    }
    let mut ascii = Vec::with_capacity(64);
    let mut i = s;
    let mut ended = true;
    while i + 1 < hay.len() && ascii.len() < MAX_KEY_LEN {
        let (a, z) = (hay[i + lo], hay[i + hi]);
        if z != 0 || a == 0 || !a.is_ascii() {
            ended = false;
            break;
        }
        ascii.push(a);
        i += 2;
    }
    let key = try_rule(rule, &ascii, 0, false)?;
    Some((key.to_vec(), ended && key.len() == ascii.len()))
}

/// Tries `rule`'s anchored regex at `s` of `hay` (after the boundary check); the key it
/// matches, if any.
fn try_rule<'h>(
    rule: &crate::rules::Rule,
    hay: &'h [u8],
    s: usize,
    boundary: bool,
) -> Option<&'h [u8]> {
    if boundary && rule.boundary && s > 0 && is_word(hay[s - 1]) && !escaped_separator(&hay[..s]) {
        return None;
    }
    let window = &hay[s..(s + MAX_KEY_LEN).min(hay.len())];
    rule.regex.find(window).map(|k| k.as_bytes())
}

impl Matcher {
    /// Builds the prefilter for every rule in `db`.
    pub fn new(db: &RuleDb) -> crate::Result<Matcher> {
        let (mut literals, mut owners) = (Vec::new(), Vec::new());
        let (mut plain, mut plain_owners) = (Vec::new(), Vec::new());
        for (i, r) in db.rules.iter().enumerate() {
            let mut add = |lit: Vec<u8>, form| {
                add_literal(&mut literals, &mut owners, lit, Pattern { rule: i, form })
            };
            add(r.prefix.clone(), Form::Plain);
            add(utf16(&r.prefix, true), Form::Utf16Le);
            add(utf16(&r.prefix, false), Form::Utf16Be);
            for b in base64_forms(&r.prefix) {
                add(b, Form::Base64);
            }
            add_literal(&mut plain, &mut plain_owners, r.prefix.clone(), i);
        }
        let mut anchors: Vec<Vec<u8>> = Vec::new();
        let mut anchored: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut max_offset = 0;
        for (li, lit) in literals.iter().enumerate() {
            let off = anchor(lit, &anchors);
            max_offset = max_offset.max(off);
            // Prefixes have three bytes or more; a shorter literal is its own anchor.
            let head = lit[off..(off + 2).min(lit.len())].to_vec();
            add_literal(&mut anchors, &mut anchored, head, (li, off));
        }
        Ok(Matcher {
            ac: build_ac(&anchors)?,
            pairs: PairFinder::new(&anchors),
            anchored,
            max_offset,
            literals,
            owners,
            plain_ac: build_ac(&plain)?,
            plain,
            plain_owners,
        })
    }

    /// Finds keys whose start lies in `from..limit` of `hay`; `hay` beyond `limit` is
    /// context only (the caller keeps enough of it that no key is cut); `text` says what
    /// the bytes are. `b64_done` is the end of the last base64 token decoded (an index
    /// into `hay`); tokens that start before it were decoded already (by this call or, for
    /// a token across chunks, an earlier one).
    ///
    /// Returns the number of newlines in `hay[from..limit]` when the search counted them
    /// on its way (the AVX2 and AVX-512 loops do), else `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn find(
        &self,
        db: &RuleDb,
        hay: &[u8],
        from: usize,
        limit: usize,
        text: Text,
        b64_done: &mut usize,
        out: &mut Vec<RawMatch>,
    ) -> Option<usize> {
        let limit = limit.min(hay.len());
        // An anchor at `h` belongs to a literal that starts up to `max_offset` before it,
        // and ends two bytes later: one for a literal starting at `limit - 1` ends at
        // `limit + max_offset + 1`.
        let search_end = (limit + self.max_offset + 1).min(hay.len());
        let before = out.len();
        let mut at_anchor = |h: usize, anchor: usize| {
            // Anchors are distinct two-byte strings: only the one found starts at `h`.
            for &(li, off) in &self.anchored[anchor] {
                let Some(s) = h.checked_sub(off) else {
                    continue;
                };
                // Before `from`: an earlier call owned that start.
                if s < from || s >= limit || !hay[s..].starts_with(&self.literals[li]) {
                    continue;
                }
                for p in &self.owners[li] {
                    self.try_pattern(db, *p, hay, s, text, b64_done, out);
                }
            }
        };
        let newlines = match &self.pairs {
            Some(pairs) => {
                let n = pairs.find(hay, from, search_end, &mut at_anchor);
                let past = hay[limit.max(from).min(search_end)..search_end]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                Some(n - past)
            }
            None => {
                let mut pos = from;
                while pos < search_end {
                    let Some(m) = self
                        .ac
                        .find(Input::new(&hay[..search_end]).span(pos..search_end))
                    else {
                        break;
                    };
                    pos = m.start() + 1;
                    at_anchor(m.start(), m.pattern().as_usize());
                }
                None
            }
        };
        // Several literals may start at one place; keep the report in file order.
        out[before..].sort_by_key(|m| m.start);
        newlines
    }

    #[allow(clippy::too_many_arguments)]
    fn try_pattern(
        &self,
        db: &RuleDb,
        p: Pattern,
        hay: &[u8],
        s: usize,
        text: Text,
        b64_done: &mut usize,
        out: &mut Vec<RawMatch>,
    ) {
        let rule = &db.rules[p.rule];
        match p.form {
            Form::Plain => {
                if let Some(k) = try_rule(rule, hay, s, !text.binary) {
                    out.push(RawMatch {
                        rule: p.rule,
                        start: s,
                        end: s + k.len(),
                        key: crate::secret::SecretKey::new(k),
                        encoding: Encoding::Plain,
                    });
                }
            }
            Form::Utf16Le | Form::Utf16Be => {
                let le = matches!(p.form, Form::Utf16Le);
                if text.utf16_le.is_some_and(|order| order != le) {
                    return;
                }
                let Some((k, cut)) = utf16_key(rule, hay, s, le) else {
                    return;
                };
                // Little-endian text read one byte earlier is big-endian text, and the
                // other way round. Without a byte order mark, when both readings spell
                // the same key, it is reported once, as little-endian; a reading that the
                // end of the data cut short yields to the other one if that extends it.
                // Readings that differ otherwise are both reported: either may be the
                // real one, and a missed key is worse than a wrong one.
                let twin = match (text.utf16_le, le) {
                    (Some(_), _) => None,
                    (None, true) => s
                        .checked_sub(1)
                        .and_then(|t| utf16_key(rule, hay, t, false)),
                    (None, false) => utf16_key(rule, hay, s + 1, true),
                };
                if let Some((t, _)) = twin
                    && ((t == k && !le) || (cut && t.len() > k.len() && t.starts_with(&k)))
                {
                    return;
                }
                out.push(RawMatch {
                    rule: p.rule,
                    start: s,
                    end: s + 2 * k.len(),
                    key: crate::secret::SecretKey::new(&k),
                    encoding: Encoding::Utf16,
                });
            }
            Form::Base64 => {
                let mut lo = s;
                while lo > 0 && s - lo < B64_LOOKBEHIND && is_b64(hay[lo - 1]) {
                    lo -= 1;
                }
                if lo < *b64_done {
                    return;
                }
                let mut hi = s;
                while hi < hay.len() && hi - s < B64_LOOKAHEAD && is_b64(hay[hi]) {
                    hi += 1;
                }
                *b64_done = hi;
                self.find_base64(db, &hay[lo..hi], lo, out);
            }
        }
    }

    /// Decodes a base64 token (trying each start offset, since the token may begin with
    /// characters that are not part of the encoding) and reports plain keys inside it at
    /// the token's location.
    fn find_base64(&self, db: &RuleDb, token: &[u8], at: usize, out: &mut Vec<RawMatch>) {
        let url = token.iter().any(|&b| b == b'-' || b == b'_');
        let engine = &B64_ENGINES[usize::from(url)];
        for skip in 0..4 {
            if token.len() <= skip {
                break;
            }
            let mut t = &token[skip..];
            if t.len() % 4 == 1 {
                t = &t[..t.len() - 1];
            }
            let Ok(decoded) = engine.decode(t) else {
                continue;
            };
            let before = out.len();
            let mut pos = 0;
            while let Some(m) = self
                .plain_ac
                .find(Input::new(&decoded).span(pos..decoded.len()))
            {
                let s = m.start();
                pos = s + 1;
                for (lit, owners) in self.plain.iter().zip(&self.plain_owners) {
                    if !decoded[s..].starts_with(lit) {
                        continue;
                    }
                    for &r in owners {
                        if let Some(k) = try_rule(&db.rules[r], &decoded, s, true) {
                            out.push(RawMatch {
                                rule: r,
                                start: at,
                                end: at + token.len(),
                                key: crate::secret::SecretKey::new(k),
                                encoding: Encoding::Base64,
                            });
                        }
                    }
                }
            }
            if out.len() > before {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> RuleDb {
        crate::rules::load(Vec::new()).unwrap()
    }

    fn keys(hay: &[u8]) -> Vec<(String, Encoding, usize)> {
        let db = db();
        let m = Matcher::new(&db).unwrap();
        let mut out = Vec::new();
        m.find(&db, hay, 0, hay.len(), Text::default(), &mut 0, &mut out);
        out.iter()
            .map(|r| {
                (
                    String::from_utf8_lossy(r.key.expose()).into_owned(),
                    r.encoding,
                    r.start,
                )
            })
            .collect()
    }

    const K: &str = "mk_live_4eC39HqLyjWDarjtT1zdp7dc";

    #[test]
    fn plain_key_with_boundary() {
        assert_eq!(
            keys(format!("x = \"{K}\"").as_bytes()),
            vec![(K.into(), Encoding::Plain, 5)]
        );
        assert!(keys(format!("x{K}").as_bytes()).is_empty());
        assert!(keys(b"mk_live_short").is_empty());
    }

    #[test]
    fn keys_behind_every_encoded_separator_and_up_to_encoded_ends() {
        let before = [
            "key%3D",
            "key%253D",
            "key=3D",
            "{\\\"a\\\":1}\\n",
            "\\t",
            "\\u003d",
            "\\x3d",
            "value=&quot;",
            "k&#61;",
            "k&#x3D;",
            "k&equals;",
            "?a=1&key=",
        ];
        let after = [
            "", "&amp;b=2", "%26b=2", "\\n", "\\u0026", "&quot;", "\\\"}",
        ];
        for b in before {
            for a in after {
                let text = format!("{b}{K}{a}");
                let found = keys(text.as_bytes());
                assert_eq!(found.len(), 1, "{text}");
                assert_eq!(found[0].0, K, "{text}");
            }
        }
        // A prefix glued to a word that is not an encoding stays no key.
        for b in ["x", "key3D", "u003d"] {
            assert!(keys(format!("{b}{K}").as_bytes()).is_empty(), "{b}");
        }
    }

    #[test]
    fn utf16_both_endians() {
        let text = format!("$k = \"{K}\"\r\n");
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(keys(&le)[0].0, K);
        assert_eq!(keys(&le)[0].1, Encoding::Utf16);
        assert_eq!(keys(&be)[0].0, K);
    }

    #[test]
    fn base64_every_alignment() {
        for pre in ["", " ", "x:::", "{\"k\":\"", "user:"] {
            let raw = format!("{pre}{K}");
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                let enc = engine.encode(raw.as_bytes());
                let hay = format!("data:\n  MASK_API_KEY: {enc}\n");
                let found = keys(hay.as_bytes());
                assert_eq!(found.len(), 1, "{pre:?} {enc}");
                assert_eq!(found[0].0, K);
                assert_eq!(found[0].1, Encoding::Base64);
                assert_eq!(found[0].2, hay.find(&enc).unwrap());
            }
        }
    }

    #[test]
    fn invalid_utf8_around_a_key() {
        let mut hay = vec![0xff, 0xfe, 0x80, b' '];
        hay.extend_from_slice(K.as_bytes());
        hay.extend_from_slice(&[0xc3, 0x28]);
        assert_eq!(keys(&hay)[0].0, K);
    }

    /// Every form of a key is found exactly once whatever the split of the buffer into
    /// `from..limit` ranges, even when its anchor lies past `limit` or the key starts
    /// just before `from`.
    #[test]
    fn each_key_once_across_range_edges() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let db = db();
        let m = Matcher::new(&db).unwrap();
        let text = |utf16: Option<bool>, mid: &str| -> (Vec<u8>, usize) {
            let before = "some text; ".repeat(8);
            let all = format!("{before}{mid} and more text\n");
            match utf16 {
                None => (all.into_bytes(), before.len()),
                Some(le) => {
                    let bytes = all
                        .encode_utf16()
                        .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
                        .collect();
                    // Big-endian text is reported as the little-endian reading one byte on.
                    (bytes, 2 * before.len() + usize::from(!le))
                }
            }
        };
        let mut cases = vec![text(None, K), text(Some(true), K), text(Some(false), K)];
        // Base64 at all three alignments (the key first in its token puts the anchor
        // furthest into its literal), in both alphabets.
        for lead in ["", ":", "x:"] {
            for engine in [STANDARD, URL_SAFE_NO_PAD] {
                cases.push(text(None, &engine.encode(format!("{lead}{K}"))));
            }
        }
        for (hay, at) in cases {
            for cut in at.saturating_sub(24)..(at + 80).min(hay.len()) {
                let (mut out, mut done) = (Vec::new(), 0);
                m.find(&db, &hay, 0, cut, Text::default(), &mut done, &mut out);
                m.find(
                    &db,
                    &hay,
                    cut,
                    hay.len(),
                    Text::default(),
                    &mut done,
                    &mut out,
                );
                let starts: Vec<usize> = out.iter().map(|r| r.start).collect();
                assert_eq!(starts, vec![at], "{hay:?} cut at {cut}");
                assert_eq!(out[0].key.expose(), K.as_bytes());
            }
        }
    }

    /// UTF-16 text whose byte order cannot be told locally: a key at the very end of
    /// big-endian text is still found whole, once; a key followed by a character whose
    /// low byte is a letter (`で` is 0x3067) keeps its true little-endian reading.
    #[test]
    fn utf16_readings_at_the_edges() {
        let enc = |t: &str, le: bool| -> Vec<u8> {
            t.encode_utf16()
                .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
                .collect()
        };
        let found = |hay: &[u8]| -> Vec<String> {
            let db = db();
            let m = Matcher::new(&db).unwrap();
            let mut out = Vec::new();
            m.find(&db, hay, 0, hay.len(), Text::default(), &mut 0, &mut out);
            out.iter()
                .map(|r| String::from_utf8_lossy(r.key.expose()).into_owned())
                .collect()
        };
        assert_eq!(found(&enc(&format!("k = {K}"), false)), vec![K]);
        assert_eq!(found(&enc(&format!("k = {K}"), true)), vec![K]);
        let after = found(&enc(&format!("key = \"{K}で"), true));
        assert!(after.contains(&K.to_string()), "{after:?}");
    }

    /// Each literal gets a two-byte anchor inside it, and the built-ins' anchors are rare
    /// pairs, not the common letters their heads start with.
    #[test]
    fn anchors_are_rare_pairs_inside_their_literals() {
        let m = Matcher::new(&db()).unwrap();
        let mut anchors = Vec::new();
        for list in &m.anchored {
            for &(li, off) in list {
                let lit = &m.literals[li];
                assert!(off + 2 <= lit.len());
                anchors.push(lit[off..off + 2].to_vec());
            }
        }
        assert_eq!(anchors.len(), m.literals.len());
        assert!(anchors.contains(&b"mk".to_vec()));
        assert!(anchors.contains(&b"\0k".to_vec()));
        for common in [&b"ta"[..], b"1r", b"bW", b"_l", b"e_"] {
            assert!(!anchors.contains(&common.to_vec()), "{common:?}");
        }
    }

    /// Where the search counts lines, it counts those of `from..limit` only, not of the
    /// bytes after `limit` that it searches for anchors of keys starting before it.
    #[test]
    fn lines_are_counted_up_to_the_limit() {
        let db = db();
        let m = Matcher::new(&db).unwrap();
        assert_eq!(m.pairs.is_some(), super::super::simd::vector_loop());
        let hay = format!("{}\n{K}\n", "x\n\n".repeat(60)).into_bytes();
        for from in [0, 1, 63, 64, 65] {
            for limit in from..hay.len() {
                let (mut out, mut done) = (Vec::new(), 0);
                if let Some(n) =
                    m.find(&db, &hay, from, limit, Text::default(), &mut done, &mut out)
                {
                    let naive = hay[from..limit].iter().filter(|&&b| b == b'\n').count();
                    assert_eq!(n, naive, "{from}..{limit}");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// The vector search (where this CPU has one) finds what aho-corasick finds, in
        /// every form and whatever the range, and counts the range's lines.
        #[test]
        fn vector_search_finds_what_aho_corasick_finds(
            parts in proptest::collection::vec(0usize..9, 0..120),
            from in 0usize..3000,
            len in 0usize..3000,
        ) {
            use base64::engine::general_purpose::STANDARD;
            let db = db();
            let fast = Matcher::new(&db).unwrap();
            proptest::prop_assert_eq!(fast.pairs.is_some(), super::super::simd::vector_loop());
            let mut slow = Matcher::new(&db).unwrap();
            slow.pairs = None;
            let le = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(|u| u.to_le_bytes()).collect() };
            let mut hay = Vec::new();
            for p in parts {
                match p {
                    0 => hay.extend_from_slice(K.as_bytes()),
                    1 => hay.extend_from_slice(&le(K)),
                    2 => hay.extend_from_slice(STANDARD.encode(format!(":{K}")).as_bytes()),
                    3 => hay.extend_from_slice(STANDARD.encode(format!("x:{K}")).as_bytes()),
                    4 => hay.extend_from_slice(b"\n"),
                    5 => hay.extend_from_slice(&[0xed, 0xeb, 0x80]),
                    6 => hay.extend_from_slice(b"mk_live_ mkX2 ZV"),
                    _ => hay.extend_from_slice(b"let x = compute(y); "),
                }
            }
            let from = from.min(hay.len());
            let limit = (from + len).min(hay.len());
            let run = |m: &Matcher| {
                let (mut out, mut done) = (Vec::new(), 0);
                let n = m.find(&db, &hay, from, limit, Text::default(), &mut done, &mut out);
                let found: Vec<_> = out
                    .iter()
                    .map(|r| (r.rule, r.start, r.end, r.key.expose().to_vec(), r.encoding))
                    .collect();
                (found, n)
            };
            let (found, n) = run(&fast);
            proptest::prop_assert_eq!(&found, &run(&slow).0);
            if let Some(n) = n {
                let naive = hay[from..limit].iter().filter(|&&b| b == b'\n').count();
                proptest::prop_assert_eq!(n, naive);
            }
        }
    }
}
