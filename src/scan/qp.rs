//! Keys cut by quoted-printable soft line breaks. An email body in quoted-printable keeps
//! its lines under 76 bytes by ending them with `=`: a key of 32–48 bytes is cut about
//! every other time (`mk_live_4eC39Hq=\nLyjWDarjt…`). In a file whose head declares the
//! encoding, each slice is searched a second time with its soft breaks removed, and the
//! keys that span one are reported at their place in the file.

use super::matcher::{Matcher, RawMatch, Text};
use crate::finding::Encoding;
use crate::rules::RuleDb;

/// Bytes before a slice joined with it, so that the word-boundary check before a key sees
/// the byte that precedes it.
const LOOKBEHIND: usize = 64;

/// Whether `head` (a file's first bytes) declares quoted-printable content, as the
/// `Content-Transfer-Encoding` header of an email or of one of its parts does.
pub fn declared(head: &[u8]) -> bool {
    const NAME: &[u8] = b"quoted-printable";
    memchr::memchr_iter(b'-', head)
        .any(|i| i >= 6 && head.len() >= i + 10 && head[i - 6..i + 10].eq_ignore_ascii_case(NAME))
}

/// `raw` without its soft line breaks (`=` before `\n` or `\r\n`), and for each byte
/// kept, its offset in `raw`; `None` when `raw` has none.
fn join(raw: &[u8]) -> Option<(Vec<u8>, Vec<u32>)> {
    memchr::memmem::find(raw, b"=\n").or_else(|| memchr::memmem::find(raw, b"=\r\n"))?;
    let (mut bytes, mut at) = (Vec::with_capacity(raw.len()), Vec::with_capacity(raw.len()));
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            let rest = &raw[i + 1..];
            let cut = if rest.starts_with(b"\n") {
                2
            } else if rest.starts_with(b"\r\n") {
                3
            } else {
                0
            };
            if cut > 0 {
                i += cut;
                continue;
            }
        }
        bytes.push(raw[i]);
        at.push(i as u32);
        i += 1;
    }
    Some((bytes, at))
}

/// Searches `window[from..limit]` again with its soft line breaks removed (`window`
/// beyond `limit` is context, as for [`Matcher::find`]), and adds to `out` the keys that
/// span a break, at their offsets in `window`. A key the plain search reported cut short
/// at the break (same start, shorter) is replaced.
pub fn find_split(
    matcher: &Matcher,
    db: &RuleDb,
    window: &[u8],
    from: usize,
    limit: usize,
    out: &mut Vec<RawMatch>,
) {
    let lo = from.saturating_sub(LOOKBEHIND);
    let Some((joined, at)) = join(&window[lo..]) else {
        return;
    };
    let raw = |j: usize| lo + at[j] as usize;
    // The joined slice's `from..limit`: bytes kept whose offset lies there.
    let start = at.partition_point(|&o| (o as usize) + lo < from);
    let end = at.partition_point(|&o| (o as usize) + lo < limit);
    let mut found = Vec::new();
    matcher.find(db, &joined, start, end, Text::default(), &mut 0, &mut found);
    for m in found {
        // Only plain keys: base64 and UTF-16 forms are not written in quoted-printable text.
        if m.encoding != Encoding::Plain || m.end <= m.start {
            continue;
        }
        let (s, e) = (raw(m.start), raw(m.end - 1) + 1);
        if e - s == m.end - m.start {
            continue; // no break inside: the plain search has it
        }
        out.retain(|o| o.start != s);
        out.push(RawMatch {
            start: s,
            end: e,
            ..m
        });
    }
    out.sort_by_key(|m| m.start);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_is_found_in_any_case() {
        assert!(declared(
            b"MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n"
        ));
        assert!(declared(b"Content-Transfer-Encoding: Quoted-Printable\r\n"));
        assert!(!declared(b"Content-Transfer-Encoding: base64\n"));
        assert!(!declared(b"-printable"));
    }

    #[test]
    fn soft_breaks_are_removed_and_offsets_kept() {
        let (bytes, at) = join(b"ab=\ncd=\r\ne=3D").unwrap();
        assert_eq!(bytes, b"abcde=3D");
        assert_eq!(at, [0, 1, 4, 5, 9, 10, 11, 12]);
        assert!(join(b"a=3Db\n").is_none());
    }
}
