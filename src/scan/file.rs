//! Scans one file (or blob, or stdin) as a stream of bytes with bounded memory: chunks of
//! [`CHUNK`] bytes, each searched by the [`Matcher`], with enough of the previous chunk
//! kept that no key, base64 token or directive line is cut. Lines are counted up to each
//! key and, past the last chunk's keys, not at all; with a vector prefilter (AVX2,
//! AVX-512) every slice's lines come with its search, else a file without keys that fits
//! one chunk is never line-counted.

use super::mapped::{self, Mapped};
use super::matcher::{B64_LOOKAHEAD, B64_LOOKBEHIND, MAX_KEY_LEN, Matcher, RawMatch, Text};
use super::scope;
use crate::finding::Context;
use crate::rules::RuleDb;
use std::fs::File;
use std::io::{self, Read, Seek};

/// Bytes read per chunk. Each chunk keeps about 18 KiB of the one before it (see
/// `LOOKBACK` and `TAIL`): a big chunk copies and searches less of it twice.
pub const CHUNK: usize = 512 * 1024;
/// Bytes per window of a file that is searched where it lies (mapped, or a blob in
/// memory): a mapped file's pages are released a window at a time.
const SLICE_WINDOW: usize = 4 << 20;
/// Bytes searched before their lines are counted: the slice is still in L1 when the
/// count follows the search.
const SLICE: usize = 32 * 1024;
/// Bytes after `limit` that a match starting before it may need.
const TAIL: usize = B64_LOOKAHEAD + 2 * MAX_KEY_LEN;
/// Bytes before the unsearched part kept for base64 tokens and the previous line.
const LOOKBACK: usize = B64_LOOKBEHIND + 4096;
/// Content markers ("this file declares NODE_ENV=production") are looked for in the
/// file's first [`CONTENT_REACH`] bytes and within [`CONTENT_REACH`] bytes of the key:
/// every window holds that much on each side of a key it reports, so the context of a
/// key never depends on where the chunks of its file began.
pub const CONTENT_REACH: usize = 8 * 1024;
const _: () = assert!(CONTENT_REACH <= LOOKBACK && CONTENT_REACH <= TAIL);

/// How far around a key its line is searched for markers and directives.
const LINE_REACH: usize = 4096;
/// How far around a key line markers (`NEXT_PUBLIC_…=`) are searched.
const MARKER_REACH: usize = 256;

/// A key located in a file, with everything decided from the bytes around it.
#[derive(Debug)]
pub struct Located {
    /// The match (rule, key, encoding).
    pub raw: RawMatch,
    /// 0-based byte offset.
    pub offset: u64,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// 1-based column in UTF-16 code units (SARIF's default column kind).
    pub column_utf16: u64,
    /// Context.
    pub context: Context,
    /// Set when a placeholder filter matched (its id).
    pub placeholder: Option<String>,
    /// Set when a `keywarden:allow` directive covers the line (its reason, maybe empty).
    pub inline_allow: Option<String>,
}

/// What scanning one file produced.
#[derive(Debug, Default)]
pub struct FileOutcome {
    /// Keys found, in file order.
    pub hits: Vec<Located>,
    /// Bytes read.
    pub bytes: u64,
    /// The file looked binary (a NUL byte in its first 8 KiB, no UTF-16 BOM).
    pub binary: bool,
    /// The path contexts were matched against (relative to the repository), when keys
    /// were found.
    pub ctx_path: String,
    /// The kind of archive the file's first bytes say it is, if any.
    pub archive: Option<super::archive::Kind>,
}

/// Reusable per-thread scanning state.
pub struct FileScanner<'a> {
    db: &'a RuleDb,
    matcher: &'a Matcher,
    buf: Vec<u8>,
    /// Bytes per window when the whole file is in memory (mapped or a blob).
    slice_window: usize,
    raw: Vec<RawMatch>,
}

struct Lines {
    counted: u64,
    newlines: u64,
    last_nl: Option<u64>,
}

impl Lines {
    /// Counts newlines in `buf` (which starts at absolute offset `base`) up to `to`.
    fn advance(&mut self, buf: &[u8], base: u64, to: u64) {
        if to <= self.counted {
            return;
        }
        let slice = &buf[(self.counted - base) as usize..(to - base) as usize];
        let n = bytecount::count(slice, b'\n') as u64;
        self.add(buf, base, to, n);
    }

    /// Moves the count to `to`, given the `n` newlines from the current count to it.
    fn add(&mut self, buf: &[u8], base: u64, to: u64, n: u64) {
        if n > 0 {
            self.newlines += n;
            let slice = &buf[(self.counted - base) as usize..(to - base) as usize];
            let i = memchr::memrchr(b'\n', slice).unwrap_or(0);
            self.last_nl = Some(self.counted + i as u64);
        }
        self.counted = to;
    }
}

impl<'a> FileScanner<'a> {
    /// A scanner for `db`'s rules.
    pub fn new(db: &'a RuleDb, matcher: &'a Matcher) -> Self {
        let mut s = Self::with_buffer(db, matcher, CHUNK);
        s.slice_window = SLICE_WINDOW;
        s
    }

    /// A scanner that reads `size` bytes at a time (at least one window's context).
    fn with_buffer(db: &'a RuleDb, matcher: &'a Matcher, size: usize) -> Self {
        FileScanner {
            db,
            matcher,
            buf: vec![0; size.max(2 * (TAIL + LOOKBACK))],
            slice_window: size.max(2 * (TAIL + LOOKBACK) + 1),
            raw: Vec::new(),
        }
    }

    /// Scans everything `reader` yields. `ctx_path` is the `/`-separated path that
    /// context globs are matched against.
    pub fn scan(&mut self, ctx_path: &str, reader: &mut dyn Read) -> io::Result<FileOutcome> {
        self.with_buf(|s, buf| s.scan_read(ctx_path, reader, buf, State::new(), None))
    }

    /// Scans `data` where it lies (a blob in memory), without copying it.
    pub fn scan_bytes(&mut self, ctx_path: &str, data: &[u8]) -> FileOutcome {
        self.scan_slices(ctx_path, data, State::new(), 0, |_| true)
    }

    /// Scans the regular file `file`. With `mmap`, a file that fills the first read is
    /// mapped when it is big ([`mapped::MIN_LEN`]) and searched where it lies from there
    /// on: the size is asked only then, not for the small files that most trees are made
    /// of. A mapped file that shrank while it was searched is read again from its start.
    pub fn scan_file(
        &mut self,
        ctx_path: &str,
        file: &File,
        mmap: bool,
    ) -> io::Result<FileOutcome> {
        self.with_buf(|s, buf| {
            let mut st = State::new();
            let (len, eof) = fill(&mut &*file, buf, 0)?;
            let map = (mmap && !eof)
                .then(|| file.metadata().ok())
                .flatten()
                .filter(|m| m.len() >= mapped::MIN_LEN.max(len as u64))
                .and_then(|m| Mapped::new(file, m.len()));
            let Some(map) = map else {
                return s.scan_read(ctx_path, &mut &*file, buf, st, Some((len, eof)));
            };
            // The first window from the buffer (it is not the file's last), the rest
            // from the mapping.
            let base = s
                .window(ctx_path, &mut st, &buf[..len], false)
                .unwrap_or(len);
            let out = s.scan_slices(ctx_path, map.bytes(), st, base, |done| {
                map.release(done);
                !map.cut()
            });
            if !map.cut() {
                return Ok(out);
            }
            drop(map);
            tracing::debug!("{ctx_path}: the file shrank while it was scanned; reading it again");
            (&mut &*file).seek(io::SeekFrom::Start(0))?;
            s.scan_read(ctx_path, &mut &*file, buf, State::new(), None)
        })
    }

    /// Runs `f` with the read buffer taken out of `self`.
    fn with_buf<T>(&mut self, f: impl FnOnce(&mut Self, &mut [u8]) -> T) -> T {
        let mut buf = std::mem::take(&mut self.buf);
        let out = f(self, &mut buf);
        self.buf = buf;
        out
    }

    /// Scans `data` from `base` (where `st` is) in windows of [`SLICE_WINDOW`] bytes,
    /// calling `passed(offset)` once every byte before `offset` is done with; it returns
    /// false to stop there (what was found so far is returned).
    fn scan_slices(
        &mut self,
        ctx_path: &str,
        data: &[u8],
        mut st: State,
        mut base: usize,
        mut passed: impl FnMut(usize) -> bool,
    ) -> FileOutcome {
        loop {
            let end = (base + self.slice_window).min(data.len());
            match self.window(ctx_path, &mut st, &data[base..end], end == data.len()) {
                None => return st.out,
                Some(keep_from) => {
                    base += keep_from;
                    if !passed(base) {
                        return st.out;
                    }
                }
            }
        }
    }

    /// Scans what `reader` yields, from `st`; `filled` is what [`fill`] said of the
    /// bytes already in `buf`, if anything.
    fn scan_read(
        &mut self,
        ctx_path: &str,
        reader: &mut dyn Read,
        buf: &mut [u8],
        mut st: State,
        mut filled: Option<(usize, bool)>,
    ) -> io::Result<FileOutcome> {
        let mut len = 0;
        loop {
            let (l, eof) = match filled.take() {
                Some(f) => f,
                None => fill(reader, buf, len)?,
            };
            len = l;
            let Some(keep_from) = self.window(ctx_path, &mut st, &buf[..len], eof) else {
                return Ok(st.out);
            };
            buf.copy_within(keep_from..len, 0);
            len -= keep_from;
        }
    }

    /// Searches the window `buf`, which starts at `st.base` of the file; `None` at the
    /// end of the file, else the offset in the window from which the next window starts
    /// (`st` already moved there). A window that is not the file's last is longer than
    /// `2 * (TAIL + LOOKBACK)`, so each one moves the scan on.
    fn window(&mut self, ctx_path: &str, st: &mut State, buf: &[u8], eof: bool) -> Option<usize> {
        let len = buf.len();
        if st.first {
            let head = &buf[..len.min(8192)];
            st.text.utf16_le = if head.starts_with(&[0xff, 0xfe]) {
                Some(true)
            } else if head.starts_with(&[0xfe, 0xff]) {
                Some(false)
            } else {
                None
            };
            st.text.binary = st.text.utf16_le.is_none() && memchr::memchr(0, head).is_some();
            st.out.binary = st.text.binary;
            st.quoted_printable = !st.text.binary && super::qp::declared(head);
            st.out.archive = super::archive::sniff(head);
            st.first = false;
        }
        let limit = if eof { len } else { len.saturating_sub(TAIL) };
        // The window is searched a slice at a time and each slice's lines are counted
        // right after, while it is still in the core's L1 cache (with AVX2 or AVX-512,
        // by the search itself).
        let mut lo = st.from;
        while lo < limit {
            let hi = (lo + SLICE).min(limit);
            self.raw.clear();
            let newlines = self.matcher.find(
                self.db,
                buf,
                lo,
                hi,
                st.text,
                &mut st.b64_done,
                &mut self.raw,
            );
            if st.quoted_printable {
                super::qp::find_split(self.matcher, self.db, buf, lo, hi, &mut self.raw);
            }
            // Lines the search counted are taken when no key moved the count into the
            // slice (`locate` counts up to each key).
            let counted = st.lines.counted == st.base + lo as u64;
            if let (Some(n), true, true) = (newlines, counted, self.raw.is_empty()) {
                st.lines.add(buf, st.base, st.base + hi as u64, n as u64);
            }
            for m in self.raw.drain(..) {
                let located = st.locate(self.db, ctx_path, buf, m);
                st.out.hits.push(located);
            }
            // At the end of the file lines are counted only up to the last key.
            if !eof {
                st.lines.advance(buf, st.base, st.base + hi as u64);
            }
            lo = hi;
        }
        if eof {
            st.out.bytes = st.base + len as u64;
            if !st.out.hits.is_empty() {
                st.out.ctx_path = ctx_path.to_string();
            }
            return None;
        }
        let keep_from = limit.saturating_sub(LOOKBACK);
        if st.base == 0 && keep_from > 0 {
            st.head = Some(buf[..buf.len().min(CONTENT_REACH)].to_vec());
        }
        st.base += keep_from as u64;
        st.from = limit - keep_from;
        st.b64_done = st.b64_done.saturating_sub(keep_from);
        Some(keep_from)
    }
}

/// Reads into `buf` after its first `len` bytes until it is full or the reader ends:
/// the bytes now in it, and whether the reader ended.
fn fill(reader: &mut dyn Read, buf: &mut [u8], mut len: usize) -> io::Result<(usize, bool)> {
    while len < buf.len() {
        match reader.read(&mut buf[len..]) {
            Ok(0) => return Ok((len, true)),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((len, false))
}

/// Where a scan is in its file, between windows.
struct State {
    out: FileOutcome,
    /// Absolute offset of the window's first byte.
    base: u64,
    /// Where in the window the search resumes (before it: context already searched).
    from: usize,
    lines: Lines,
    first: bool,
    /// What the first 8 KiB said the file is (binary, UTF-16 by its byte order mark).
    text: Text,
    /// The head declares quoted-printable text: keys may be cut by soft line breaks.
    quoted_printable: bool,
    b64_done: usize,
    /// The file's first [`CONTENT_REACH`] bytes, kept once the first window is gone.
    head: Option<Vec<u8>>,
    /// Content-marker results on the head.
    head_markers: Option<ContentCache>,
}

impl State {
    fn new() -> State {
        State {
            out: FileOutcome::default(),
            base: 0,
            from: 0,
            lines: Lines {
                counted: 0,
                newlines: 0,
                last_nl: None,
            },
            first: true,
            text: Text::default(),
            quoted_printable: false,
            b64_done: 0,
            head: None,
            head_markers: None,
        }
    }

    /// Locates `m`, found in the window `buf`: its line and column, context, placeholder
    /// and directive.
    fn locate(&mut self, db: &RuleDb, ctx_path: &str, buf: &[u8], m: RawMatch) -> Located {
        let abs = self.base + m.start as u64;
        self.lines.advance(buf, self.base, abs);
        let line_start = self.lines.last_nl.map_or(0, |n| n + 1);
        let pos = (self.lines.newlines + 1, abs - line_start + 1, abs);
        let head = match &self.head {
            Some(h) => &h[..],
            None => &buf[..buf.len().min(CONTENT_REACH)],
        };
        let near_start = m.start.saturating_sub(CONTENT_REACH);
        let near = &buf[near_start..(m.end + CONTENT_REACH).min(buf.len())];
        let markers = self
            .head_markers
            .get_or_insert_with(|| ContentCache::new(db));
        let content = Content {
            head,
            near,
            key: m.start - near_start,
            near_is_head: self.base + near_start as u64 == 0,
            markers,
        };
        locate(db, ctx_path, buf, content, m, pos)
    }
}

/// The line holding `start..end` in `buf`, bounded to [`LINE_REACH`] each side.
fn line_bounds(buf: &[u8], start: usize, end: usize) -> (usize, usize) {
    let lo = start.saturating_sub(LINE_REACH);
    let ls = memchr::memrchr(b'\n', &buf[lo..start]).map_or(lo, |i| lo + i + 1);
    let hi = (end + LINE_REACH).min(buf.len());
    let le = memchr::memchr(b'\n', &buf[end..hi]).map_or(hi, |i| end + i);
    (ls, le)
}

const ALLOW: &[u8] = b"keywarden:allow";
const ALLOW_NEXT: &[u8] = b"keywarden:allow-next-line";

/// The reason of a `keywarden:allow` directive in `line` (not `…-next-line`), if any: the
/// text after the directive up to the end of its comment (`*/`, `-->`, `#}`, `%>`).
/// A reason that holds anything like a key (a rule's prefix) is withheld, so a directive
/// written before the key on its line never copies the key into a report.
fn directive(db: &RuleDb, line: &[u8], next_line: bool) -> Option<String> {
    let needle = if next_line { ALLOW_NEXT } else { ALLOW };
    memchr::memmem::find_iter(line, needle).find_map(|i| {
        let mut rest = &line[i + needle.len()..];
        if !next_line && rest.starts_with(b"-next-line") {
            return None;
        }
        for end in [&b"*/"[..], b"-->", b"#}", b"%>"] {
            if let Some(j) = memchr::memmem::find(rest, end) {
                rest = &rest[..j];
            }
        }
        if db
            .rules
            .iter()
            .any(|r| memchr::memmem::find(rest, &r.prefix).is_some())
        {
            return Some("(reason withheld: it contains key material)".to_string());
        }
        let reason = String::from_utf8_lossy(rest);
        let reason = reason.trim().trim_start_matches([':', '-', '=']).trim();
        Some(reason.chars().take(200).collect())
    })
}

fn locate(
    db: &RuleDb,
    ctx_path: &str,
    buf: &[u8],
    content: Content<'_>,
    raw: RawMatch,
    (line, column, offset): (u64, u64, u64),
) -> Located {
    let (ls, le) = line_bounds(buf, raw.start, raw.end);
    let mut inline_allow = directive(db, &buf[ls..le], false);
    if inline_allow.is_none() && ls > 0 {
        let (pls, _) = line_bounds(buf, ls - 1, ls - 1);
        inline_allow = directive(db, &buf[pls..ls - 1], true);
    }
    let window =
        &buf[raw.start.saturating_sub(MARKER_REACH).max(ls)..(raw.end + MARKER_REACH).min(le)];
    let context = classify_cached(db, ctx_path, window, content);
    // Columns in UTF-16 units: a continuation byte adds none, a 4-byte sequence's lead
    // byte adds two (a surrogate pair), any other byte one.
    let before = &buf[ls..raw.start];
    let units: u64 = before
        .iter()
        .map(|&b| match b {
            0x80..=0xbf => 0,
            0xf0..=0xf7 => 2,
            _ => 1,
        })
        .sum();
    let saved = (before.len() as u64).saturating_sub(units);
    // In a UTF-16 file the bytes are already code units, two each (a newline's other
    // byte rounds away).
    let column_utf16 = if raw.encoding == crate::finding::Encoding::Utf16 {
        let bom = before.starts_with(&[0xff, 0xfe]) || before.starts_with(&[0xfe, 0xff]);
        before.len() as u64 / 2 + 1 - u64::from(bom)
    } else {
        column.saturating_sub(saved).max(1)
    };
    let key = raw.key.expose();
    let body = raw.key.body();
    let placeholder = db
        .placeholders
        .iter()
        .find(|p| p.matches(key, body))
        .map(|p| p.id.clone());
    Located {
        raw,
        offset,
        line,
        column,
        column_utf16,
        context,
        placeholder,
        inline_allow,
    }
}

/// Content-marker results on a file's head: each classifier's markers run at most once.
pub struct ContentCache(Vec<Option<bool>>);

impl ContentCache {
    /// An empty cache for `db`'s classifiers.
    pub fn new(db: &RuleDb) -> Self {
        ContentCache(vec![None; db.contexts.len()])
    }
}

/// The text content markers are looked for in (see [`CONTENT_REACH`]).
struct Content<'a> {
    /// The file's first bytes.
    head: &'a [u8],
    /// The bytes around the key.
    near: &'a [u8],
    /// The key's offset in `near`.
    key: usize,
    /// `near` starts at the file's first byte, so it holds the head's markers.
    near_is_head: bool,
    markers: &'a mut ContentCache,
}

/// The context of a key: the first classifier, by priority, whose line markers match the
/// key's line window, whose globs match the path, or whose content markers reach the key
/// (see [`super::scope`]). `content` is the file's first bytes: only its top-level markers
/// count here (`NODE_ENV=production` at column 1), since no key position is known.
pub fn classify(db: &RuleDb, path: &str, line_window: &[u8], content: &[u8]) -> Context {
    let content = Content {
        head: content,
        near: b"",
        key: 0,
        near_is_head: false,
        markers: &mut ContentCache::new(db),
    };
    classify_cached(db, path, line_window, content)
}

/// The context of a key at offset `key` of `text` (a whole file, or its start): its line
/// markers, the path, and the content markers whose block reaches it.
pub fn classify_in(db: &RuleDb, path: &str, text: &[u8], key: usize) -> Context {
    let key = key.min(text.len());
    let (ls, le) = line_bounds(text, key, key);
    let content = Content {
        head: text,
        near: text,
        key,
        near_is_head: true,
        markers: &mut ContentCache::new(db),
    };
    classify_cached(db, path, &text[ls..le], content)
}

fn classify_cached(db: &RuleDb, path: &str, line_window: &[u8], content: Content<'_>) -> Context {
    for (c, cached) in db.contexts.iter().zip(content.markers.0.iter_mut()) {
        let hit = c.matches_line(line_window)
            || c.matches_path(path)
            || (c.has_content_markers()
                && (c
                    .content_matches(content.near)
                    .into_iter()
                    .any(|m| scope::reaches(content.near, m, content.key))
                    || (!content.near_is_head
                        && *cached.get_or_insert_with(|| {
                            c.content_matches(content.head)
                                .into_iter()
                                .any(|m| scope::reaches_whole_file(content.head, m))
                        }))));
        if hit {
            return c.context;
        }
    }
    Context::Source
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_with_chunk(data: &[u8], path: &str) -> FileOutcome {
        let db = crate::rules::load(Vec::new()).unwrap();
        let m = Matcher::new(&db).unwrap();
        let mut s = FileScanner::new(&db, &m);
        s.scan(path, &mut &data[..]).unwrap()
    }

    const K: &str = "mk_live_4eC39HqLyjWDarjtT1zdp7dc";

    #[test]
    fn line_and_column_across_chunks() {
        // Keys at chunk boundaries, far into a long file, and on a long single line.
        let mut data = Vec::new();
        let mut expect = Vec::new();
        for i in 0..3000u64 {
            let pad = "-".repeat((i as usize * 37) % 700);
            if i % 97 == 0 {
                expect.push((i + 1, pad.len() as u64 + 1));
                data.extend_from_slice(format!("{pad}{K}\n").as_bytes());
            } else {
                data.extend_from_slice(format!("{pad}\n").as_bytes());
            }
        }
        let out = scan_with_chunk(&data, "a.txt");
        let got: Vec<_> = out.hits.iter().map(|h| (h.line, h.column)).collect();
        assert_eq!(got, expect);
        assert_eq!(out.bytes, data.len() as u64);
    }

    #[test]
    fn chunked_reads_find_what_one_window_finds() {
        // Keys straddling the end of each window's searched part and of its kept context,
        // plain, UTF-16 and base64, with lines counted across windows: the same lines,
        // columns, offsets, keys and contexts as a scan of the whole file at once.
        let stride = CHUNK - TAIL - LOOKBACK;
        let mut edges = Vec::new();
        for w in 0..3 {
            let limit = w * stride + CHUNK - TAIL;
            edges.extend([limit - LOOKBACK + 1, limit - 7, limit + 100]);
        }
        edges.sort();
        let mut data = Vec::new();
        for (i, at) in edges.iter().enumerate() {
            while data.len() < *at {
                data.extend_from_slice(b"padding line of text\n");
            }
            // A space before the entry: a key right after a word character is not a key.
            data.truncate(*at - 1);
            data.push(b' ');
            if i == 5 {
                // A content marker right before one key: it and its neighbours are
                // production's.
                data.extend_from_slice(b"\nNODE_ENV=production\n");
            }
            match i % 3 {
                0 => data.extend_from_slice(K.as_bytes()),
                1 => data.extend_from_slice(b"key: bWtfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM="),
                _ => data.extend(K.bytes().flat_map(|b| [b, 0])),
            }
            data.push(b'\n');
        }
        data.extend_from_slice(b"end\n");
        let db = crate::rules::load(Vec::new()).unwrap();
        let m = Matcher::new(&db).unwrap();
        let spots = |size: usize| {
            let mut s = FileScanner::with_buffer(&db, &m, size);
            let o = s.scan("big.txt", &mut &data[..]).unwrap();
            assert_eq!(o.bytes, data.len() as u64);
            // Searched where it lies (a mapped file, a blob) in windows of the same size.
            let in_place = s.scan_bytes("big.txt", &data);
            assert_eq!(in_place.bytes, data.len() as u64);
            let spots = |o: &FileOutcome| {
                o.hits
                    .iter()
                    .map(|h| {
                        let fp = h.raw.key.fingerprint();
                        (h.line, h.column, h.offset, fp, h.context)
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(spots(&o), spots(&in_place), "window of {size} bytes");
            spots(&o)
        };
        let chunked = spots(CHUNK);
        assert_eq!(chunked, spots(data.len() + 1));
        assert_eq!(chunked.len(), edges.len(), "{chunked:?}");
        let production: Vec<usize> = (0..chunked.len())
            .filter(|i| chunked[*i].4 == Context::ProductionConfig)
            .collect();
        // The marker reaches the keys within CONTENT_REACH of it, not the far ones.
        assert!(production.contains(&5), "{production:?}");
        assert!(!production.contains(&0) && !production.contains(&8));
    }

    #[test]
    fn keys_at_slice_edges_keep_their_lines() {
        // Lines are counted a slice at a time: keys in each form starting just before,
        // at and after a slice's end, and a base64 token that starts in one slice with
        // its prefix in the next, are reported at the line and column the bytes say.
        let mut data = Vec::new();
        let mut starts = Vec::new();
        // Every form at every distance from an edge: 15 edges, forms cycling by 3 and
        // distances by 5. The base64 token ("ab=mk_live_…") starts four bytes before its
        // prefix, and is reported where it starts.
        for (i, edge) in (1..16).map(|j| j * SLICE).enumerate() {
            let at = edge.checked_add_signed([-40, -7, -1, 0, 1][i % 5]).unwrap();
            let entry: Vec<u8> = match i % 3 {
                0 => K.as_bytes().to_vec(),
                1 => b"YWI9bWtfbGl2ZV80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=".to_vec(),
                _ => K.bytes().flat_map(|b| [b, 0]).collect(),
            };
            let at = if i % 3 == 1 { at - 4 } else { at };
            while data.len() + 30 < at {
                data.extend_from_slice(b"padding line of text\n");
            }
            data.resize(at - 1, b'.');
            data.push(b' ');
            starts.push(data.len());
            data.extend_from_slice(&entry);
            data.push(b'\n');
        }
        // The edges lie in the first window, which is not the file's last.
        const _: () = assert!(15 * SLICE < CHUNK - TAIL);
        while data.len() < 2 * CHUNK {
            data.extend_from_slice(b"padding line of text\n");
        }
        let expect: Vec<(u64, u64)> = starts
            .iter()
            .map(|&s| {
                let before = &data[..s];
                let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                let col = s - memchr::memrchr(b'\n', before).map_or(0, |n| n + 1) + 1;
                (line, col as u64)
            })
            .collect();
        let out = scan_with_chunk(&data, "a.txt");
        let got: Vec<(u64, u64)> = out.hits.iter().map(|h| (h.line, h.column)).collect();
        assert_eq!(got, expect);
        let offsets: Vec<usize> = out.hits.iter().map(|h| h.offset as usize).collect();
        assert_eq!(offsets, starts);
    }

    /// With a byte order mark only that order is read: a big-endian key is reported at its
    /// own offset, a key followed by a character whose low byte is a letter keeps its
    /// true reading, and a key glued to a word character is not a key in either order.
    #[test]
    fn utf16_byte_order_mark_decides_the_reading() {
        let enc = |t: &str, le: bool| -> Vec<u8> {
            let mut out = if le {
                vec![0xff, 0xfe]
            } else {
                vec![0xfe, 0xff]
            };
            out.extend(
                t.encode_utf16()
                    .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() }),
            );
            out
        };
        let keys = |data: &[u8]| -> Vec<(u64, String)> {
            scan_with_chunk(data, "setup.ps1")
                .hits
                .iter()
                .map(|h| {
                    (
                        h.offset,
                        String::from_utf8_lossy(h.raw.key.expose()).into_owned(),
                    )
                })
                .collect()
        };
        let text = format!("$k = \"{K}\"\r\n");
        assert_eq!(keys(&enc(&text, false)), vec![(2 + 12, K.to_string())]);
        assert_eq!(keys(&enc(&text, true)), vec![(2 + 12, K.to_string())]);
        assert_eq!(
            keys(&enc(&format!("key = \"{K}で"), true)),
            vec![(2 + 14, K.to_string())]
        );
        assert!(keys(&enc(&format!("中x{K}\r\n"), true)).is_empty());
    }

    #[test]
    fn one_line_minified_bundle() {
        let mut data = "var a=1;".repeat(300_000).into_bytes();
        data.extend_from_slice(format!("var k=\"{K}\";").as_bytes());
        data.extend_from_slice(&"b=2;".repeat(10_000).into_bytes());
        let out = scan_with_chunk(&data, "dist/app.min.js");
        assert_eq!(out.hits.len(), 1);
        assert_eq!(out.hits[0].line, 1);
        assert_eq!(out.hits[0].column, 2_400_000 + 8);
        assert_eq!(out.hits[0].context, Context::ClientSide);
    }

    #[test]
    fn directives_cover_their_line_and_the_next() {
        let text = format!(
            "a = \"{K}\" # keywarden:allow rotated already\n# keywarden:allow-next-line fixture\nb = {K}\nc = {K}\n/* keywarden:allow */ d = \"{K}\";\n<!-- keywarden:allow {K} -->\n"
        );
        let out = scan_with_chunk(text.as_bytes(), "x.py");
        let allows: Vec<_> = out.hits.iter().map(|h| h.inline_allow.clone()).collect();
        assert_eq!(allows[3], Some(String::new()));
        assert_eq!(
            allows[4],
            Some("(reason withheld: it contains key material)".into())
        );
        let allows = &allows[..3];
        assert_eq!(
            allows,
            vec![Some("rotated already".into()), Some("fixture".into()), None]
        );
    }

    #[test]
    fn binary_detection_and_crlf() {
        let mut data = vec![0x7f, b'E', b'L', b'F', 0, 0, 0];
        data.extend_from_slice(K.as_bytes());
        // a SQLite record glues columns together: no word boundary in binary data
        data.extend_from_slice(b"\x05\x17settingsmk_api_key");
        data.extend_from_slice(K.as_bytes());
        let out = scan_with_chunk(&data, "bin/app");
        assert!(out.binary);
        assert_eq!(out.hits.len(), 2);
        assert_eq!(out.hits[0].offset, 7);
        let crlf = format!("@echo off\r\nset MK={K}\r\n");
        let out = scan_with_chunk(crlf.as_bytes(), "run.bat");
        assert!(!out.binary);
        assert_eq!((out.hits[0].line, out.hits[0].column), (2, 8));
    }

    /// A file of `len` bytes of text with `K` at each of `at` (a line of its own).
    fn big_file(len: usize, at: &[usize]) -> tempfile::NamedTempFile {
        let mut data = b"0123456789abcdef ".repeat(len / 17 + 1);
        data.truncate(len);
        for (i, b) in data.iter_mut().enumerate() {
            if i % 80 == 79 {
                *b = b'\n';
            }
        }
        for &a in at {
            data[a - 1] = b'\n';
            data[a..a + K.len()].copy_from_slice(K.as_bytes());
            data[a + K.len()] = b'\n';
        }
        let mut t = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut t, &data).unwrap();
        t
    }

    #[test]
    fn a_big_file_is_searched_mapped_with_the_same_findings() {
        // Keys on both sides of each window edge of a mapped file.
        let w = SLICE_WINDOW;
        let at = [
            100,
            w - 2 * LOOKBACK,
            w - TAIL - 20,
            w - TAIL + 3,
            w + 5,
            2 * w - 40,
        ];
        let t = big_file(2 * w + 1000, &at);
        let db = crate::rules::load(Vec::new()).unwrap();
        let m = Matcher::new(&db).unwrap();
        let mut s = FileScanner::new(&db, &m);
        let file = File::open(t.path()).unwrap();
        let len = file.metadata().unwrap().len();
        assert!(len >= mapped::MIN_LEN);
        let mapped = s.scan_file("big.txt", &file, true).unwrap();
        let read = s
            .scan("big.txt", &mut &File::open(t.path()).unwrap())
            .unwrap();
        let spots = |o: &FileOutcome| {
            o.hits
                .iter()
                .map(|h| (h.line, h.column, h.offset, h.context))
                .collect::<Vec<_>>()
        };
        assert_eq!(spots(&mapped), spots(&read));
        let offsets: Vec<u64> = mapped.hits.iter().map(|h| h.offset).collect();
        assert_eq!(offsets, at.iter().map(|&a| a as u64).collect::<Vec<_>>());
        assert_eq!((mapped.bytes, read.bytes), (len, len));
    }

    #[cfg(unix)]
    #[test]
    fn a_mapped_file_cut_while_searched_is_marked_not_crashed() {
        let w = SLICE_WINDOW;
        let t = big_file(2 * w, &[1000, w + 1000]);
        let db = crate::rules::load(Vec::new()).unwrap();
        let m = Matcher::new(&db).unwrap();
        let mut s = FileScanner::new(&db, &m);
        let file = File::open(t.path()).unwrap();
        let map = Mapped::new(&file, 2 * w as u64).unwrap();
        // Cut to half a window: the second key and everything after the cut are gone.
        t.as_file().set_len(w as u64 / 2).unwrap();
        let o = s.scan_slices("big.txt", map.bytes(), State::new(), 0, |done| {
            map.release(done);
            true
        });
        assert!(map.cut());
        assert_eq!(o.hits.len(), 1);
        drop(map);
        // What scan_file then does: read the file as it is now.
        let again = s.scan_file("big.txt", &file, true).unwrap();
        assert_eq!((again.hits.len(), again.bytes), (1, w as u64 / 2));
    }
}
