//! Archives in tree scans: zip containers (`.zip`, `.jar`, `.war`, `.whl`, `.apk`, …),
//! tar, gzip (`.tar.gz`, `.tgz`, `.gz`), nested in one another and in container images
//! (see [`super::image`]), recognised by their first bytes, never by their names.
//!
//! Every entry is streamed through the same [`FileScanner`] as a file on disk, with its
//! context decided from its path inside the archive. A finding in an entry is reported
//! at `outer.tar.gz!inner.zip!config/.env.production`. What an archive may cost is
//! bounded ([`ArchiveLimits`], enforced by the guards in `guard.rs`): what goes past a
//! bound, and what is corrupt, is listed as skipped with the reason.

mod guard;
mod tar;
mod zip;

use super::{Engine, FileScanner, PlaceholderHit, Skipped};
use crate::finding::{Exposure, Finding};
use guard::{Compressed, CountIn, Guard, Meter};
use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

/// Bytes looked at to recognise an archive (a tar header's magic ends at byte 262).
const SNIFF: usize = 512;

/// A kind of archive, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A zip container (`PK\3\4`, or `PK\5\6` when empty): zip, jar, war, ear, whl, apk, aar.
    Zip,
    /// A POSIX/GNU tar (`ustar` at byte 257).
    Tar,
    /// A gzip stream (`1f 8b 08`), usually a tar.
    Gzip,
}

/// The kind of archive that begins with `head`, if any. A few byte compares: this runs on
/// the first window of every file the scanner reads.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Kind::Zip)
    } else if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Kind::Gzip)
    } else if head.get(257..262) == Some(b"ustar") {
        Some(Kind::Tar)
    } else {
        None
    }
}

/// Bounds on one top-level archive. Build with [`ArchiveLimits::default`] and the setters.
///
/// In order: an archive nested deeper than [`max_depth`](Self::max_depth) is not opened;
/// a stream (a zip entry, a gzip stream) that decompresses to more than
/// [`max_ratio`](Self::max_ratio) times its compressed size (past its first MiB) is cut
/// there; once [`max_bytes`](Self::max_bytes) have been decompressed, the rest of the
/// top-level archive is not read; a zip declaring more than
/// [`max_entries`](Self::max_entries) entries is not opened. Each is listed as skipped
/// with the reason.
#[derive(Debug, Clone)]
pub struct ArchiveLimits {
    max_depth: usize,
    max_bytes: u64,
    max_ratio: u64,
    memory: usize,
    max_entries: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_depth: 4,
            max_bytes: 256 * 1024 * 1024,
            max_ratio: 100,
            memory: 8 * 1024 * 1024,
            max_entries: 200_000,
        }
    }
}

impl ArchiveLimits {
    /// Archives opened one inside the other (a `.tar.gz` counts once). 4 by default.
    pub fn max_depth(&mut self, n: usize) -> &mut Self {
        self.max_depth = n.max(1);
        self
    }

    /// Decompressed bytes read from one top-level archive, all levels together (bytes of
    /// a plain tar on disk are not decompressed and do not count). 256 MiB by default.
    pub fn max_bytes(&mut self, n: u64) -> &mut Self {
        self.max_bytes = n;
        self
    }

    /// Highest compression ratio of one stream past its first MiB. 100 by default.
    pub fn max_ratio(&mut self, n: u64) -> &mut Self {
        self.max_ratio = n.max(1);
        self
    }

    /// Entries a zip may declare (its reader holds the whole central directory in
    /// memory, a few hundred bytes an entry). 200,000 by default.
    pub fn max_entries(&mut self, n: u64) -> &mut Self {
        self.max_entries = n;
        self
    }

    /// A zip nested in another archive needs random access: up to this many bytes it is
    /// held in memory, beyond it spilled to an unnamed temporary file. 8 MiB by default.
    pub fn memory(&mut self, n: usize) -> &mut Self {
        self.memory = n;
        self
    }
}

/// Where an archive or entry is: its display path and its path from the repository root
/// (what allowlists and baselines match), both `outer!inner`-joined.
#[derive(Debug, Clone)]
pub struct Place {
    /// Reported path.
    pub display: String,
    /// Path from the repository (context base).
    pub repo: String,
}

impl Place {
    fn child(&self, name: &str) -> Place {
        Place {
            display: format!("{}!{name}", self.display),
            repo: format!("{}!{name}", self.repo),
        }
    }
}

/// What scanning one top-level archive found and counted.
#[derive(Debug, Default)]
pub struct ArchiveOutput {
    /// Findings in its entries.
    pub findings: Vec<Finding>,
    /// Placeholders in its entries.
    pub placeholders: Vec<PlaceholderHit>,
    /// Entries (or the rest of the archive) not scanned, with why.
    pub skipped: Vec<Skipped>,
    /// Entries scanned.
    pub files: u64,
    /// Their uncompressed bytes.
    pub bytes: u64,
}

impl ArchiveOutput {
    /// Adds what the scan of the archive's own bytes found, except keys its entries
    /// already showed: a key seen only in the raw bytes (a zip comment, a damaged or
    /// skipped part) is still reported, at the archive's path.
    pub fn merge_raw(&mut self, findings: Vec<Finding>, placeholders: Vec<PlaceholderHit>) {
        let seen: HashSet<_> = self
            .findings
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect();
        self.findings.extend(
            findings
                .into_iter()
                .filter(|f| !seen.contains(&f.fingerprint)),
        );
        let seen: HashSet<_> = self
            .placeholders
            .iter()
            .map(|p| (p.rule.clone(), p.redacted.clone()))
            .collect();
        self.placeholders.extend(
            placeholders
                .into_iter()
                .filter(|p| !seen.contains(&(p.rule.clone(), p.redacted.clone()))),
        );
    }
}

/// Scans the entries of `file`, a top-level archive of `kind` with `exposure`, reported
/// at `place`. Never fails: what cannot be read is listed in the output's `skipped`.
pub fn scan_file(
    engine: &Engine,
    scanner: &mut FileScanner<'_>,
    limits: &ArchiveLimits,
    kind: Kind,
    (file, exposure): (&std::fs::File, Exposure),
    place: &Place,
) -> ArchiveOutput {
    let meter = Meter::new(place.display.clone(), limits.max_bytes);
    let mut out = ArchiveOutput::default();
    let mut w = Walker {
        engine,
        scanner,
        limits,
        meter: &meter,
        out: &mut out,
        exposure,
    };
    let mut f = file;
    if let Err(e) = f.seek(SeekFrom::Start(0)) {
        meter.skip(&place.display, format!("unreadable: {e}"), true);
    } else {
        match kind {
            Kind::Zip => w.zip(BufReader::new(f), place, 1),
            Kind::Tar => {
                let mut g = Guard::new(
                    BufReader::new(f),
                    &meter,
                    &place.display,
                    Compressed::Plain,
                    1,
                );
                w.tar(&mut g, place, 1);
            }
            Kind::Gzip => w.gzip(&mut BufReader::new(f), place, 1),
        }
    }
    out.skipped = meter.into_skipped();
    out
}

/// The state of one top-level archive's scan, passed down the nesting.
struct Walker<'a, 's, 'm> {
    engine: &'a Engine,
    scanner: &'a mut FileScanner<'s>,
    limits: &'a ArchiveLimits,
    meter: &'m Meter,
    out: &'a mut ArchiveOutput,
    /// The exposure of the archive file: its entries share it.
    exposure: Exposure,
}

/// Reads until `buf` is full or the stream ends.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// An entry's path as reported: `/`-separated, without a leading `./` or `/`.
fn normalize(name: &str) -> String {
    let mut s = name.replace('\\', "/");
    loop {
        if let Some(r) = s.strip_prefix("./") {
            s = r.to_string();
        } else if let Some(r) = s.strip_prefix('/') {
            s = r.to_string();
        } else {
            break;
        }
    }
    s.trim_end_matches('/').to_string()
}

/// The name of what a gzip stream at `display` holds: its last path segment without
/// `.gz` (`.tgz` gives `.tar`).
fn gunzipped_name(display: &str) -> String {
    let last = display.rsplit(['!', '/']).next().unwrap_or(display);
    if let Some(stem) = last.strip_suffix(".tgz") {
        format!("{stem}.tar")
    } else {
        let stem = last
            .strip_suffix(".gz")
            .or_else(|| last.strip_suffix(".gzip"))
            .unwrap_or(last);
        stem.to_string()
    }
}

impl Walker<'_, '_, '_> {
    /// One entry at `place` (`inner` is its path inside its archive, what its context is
    /// decided from): an archive is opened, anything else scanned.
    fn entry(&mut self, reader: &mut dyn Read, place: &Place, inner: &str, depth: usize) {
        let mut head = [0u8; SNIFF];
        let n = match read_full(reader, &mut head) {
            Ok(n) => n,
            Err(e) => {
                self.meter
                    .skip(&place.display, format!("unreadable: {e}"), true);
                return;
            }
        };
        let head = &head[..n];
        if let Some(kind) = sniff(head) {
            if depth >= self.limits.max_depth {
                let reason = format!(
                    "an archive nested more than {} deep: not opened",
                    self.limits.max_depth
                );
                self.meter.skip(&place.display, reason, false);
                return;
            }
            self.open(kind, &mut head.chain(reader), place, depth + 1);
            return;
        }
        match self.scanner.scan(inner, &mut head.chain(reader)) {
            Ok(mut outcome) => {
                self.out.files += 1;
                self.out.bytes += outcome.bytes;
                if !outcome.hits.is_empty() {
                    outcome.ctx_path = place.repo.clone();
                    self.engine.findings(
                        &place.display,
                        outcome,
                        self.exposure,
                        &mut self.out.findings,
                        &mut self.out.placeholders,
                    );
                }
            }
            Err(e) => self
                .meter
                .skip(&place.display, format!("unreadable: {e}"), true),
        }
    }

    /// Opens an archive of `kind` read from `reader`, at nesting `depth`.
    fn open(&mut self, kind: Kind, reader: &mut dyn Read, place: &Place, depth: usize) {
        match kind {
            Kind::Tar => self.tar(reader, place, depth),
            Kind::Gzip => self.gzip(reader, place, depth),
            Kind::Zip => self.nested_zip(reader, place, depth),
        }
    }

    /// A gzip stream: a tar inside is walked as if it were the gzip (`x.tar.gz!entry`);
    /// anything else is one entry named after the stream (`x.gz!x`).
    fn gzip(&mut self, reader: &mut dyn Read, place: &Place, depth: usize) {
        let count = Cell::new(0);
        let dec = flate2::read::MultiGzDecoder::new(CountIn {
            inner: reader,
            n: &count,
        });
        let mut g = Guard::new(
            dec,
            self.meter,
            &place.display,
            Compressed::Counted(&count),
            self.limits.max_ratio,
        );
        let mut head = [0u8; SNIFF];
        let n = read_full(&mut g, &mut head).unwrap_or(0);
        if self.meter.stopped(&place.display) {
            return;
        }
        let head = &head[..n];
        if sniff(head) == Some(Kind::Tar) {
            self.tar(&mut head.chain(&mut g), place, depth);
        } else {
            let name = gunzipped_name(&place.display);
            self.entry(&mut head.chain(&mut g), &place.child(&name), &name, depth);
        }
    }

    /// A zip inside another archive: zip needs random access, so it is read into memory
    /// up to [`ArchiveLimits::memory`], beyond it into an unnamed temporary file.
    fn nested_zip(&mut self, reader: &mut dyn Read, place: &Place, depth: usize) {
        let mut buf = Vec::new();
        let cap = self.limits.memory as u64 + 1;
        if let Err(e) = reader.take(cap).read_to_end(&mut buf) {
            self.meter
                .skip(&place.display, format!("unreadable: {e}"), true);
            return;
        }
        if buf.len() < cap as usize {
            if !self.meter.stopped(&place.display) {
                self.zip(io::Cursor::new(buf), place, depth);
            }
            return;
        }
        let spilled = tempfile::tempfile().and_then(|mut f| {
            f.write_all(&buf)?;
            drop(std::mem::take(&mut buf));
            io::copy(reader, &mut f)?;
            f.seek(SeekFrom::Start(0))?;
            Ok(f)
        });
        match spilled {
            Ok(f) if !self.meter.stopped(&place.display) => {
                self.zip(BufReader::new(f), place, depth)
            }
            Ok(_) => {}
            Err(e) => self.meter.skip(
                &place.display,
                format!(
                    "a nested zip larger than {} could not be written to a temporary file ({e}): not scanned",
                    guard::mib(self.limits.memory as u64)
                ),
                true,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sniffs_by_magic_bytes() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Some(Kind::Zip));
        assert_eq!(sniff(b"PK\x05\x06"), Some(Kind::Zip));
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0]), Some(Kind::Gzip));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&tar), Some(Kind::Tar));
        assert_eq!(sniff(b"PK is a fine start for text"), None);
        assert_eq!(sniff(&tar[..200]), None);
    }

    /// Damaged archives of every kind (bytes flipped, cut short) never panic, and every
    /// run ends with its damage listed or its entries scanned.
    #[test]
    fn damaged_archives_never_panic() {
        let engine = Engine::new(crate::rules::load(Vec::new()).unwrap()).unwrap();
        let mut scanner = engine.file_scanner();
        let key = b"K=mk_live_4eC39HqLyjWDarjtT1zdp7dc\n";
        let mut tar = ::tar::Builder::new(Vec::new());
        let mut h = ::tar::Header::new_gnu();
        h.set_size(key.len() as u64);
        tar.append_data(&mut h, ".env.production", &key[..])
            .unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let tgz = gz.finish().unwrap();
        let mut zip = ::zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        zip.start_file("inner.tar.gz", ::zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&tgz).unwrap();
        let zip = zip.finish().unwrap().into_inner();
        let dir = tempfile::tempdir().unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut scanned, mut listed) = (0, 0);
        for (kind, good) in [(Kind::Tar, &tar), (Kind::Gzip, &tgz), (Kind::Zip, &zip)] {
            for round in 0..150 {
                let mut bytes = good.clone();
                if round % 3 == 0 {
                    bytes.truncate(rng.usize(..bytes.len()));
                } else {
                    for _ in 0..rng.usize(1..8) {
                        let i = rng.usize(..bytes.len());
                        bytes[i] = rng.u8(..);
                    }
                }
                let path = dir.path().join("a");
                std::fs::write(&path, &bytes).unwrap();
                let file = std::fs::File::open(&path).unwrap();
                let place = Place {
                    display: "a".into(),
                    repo: "a".into(),
                };
                let limits = ArchiveLimits::default();
                let out = scan_file(
                    &engine,
                    &mut scanner,
                    &limits,
                    kind,
                    (&file, Exposure::OutsideGit),
                    &place,
                );
                scanned += out.files;
                listed += out.skipped.len();
            }
        }
        // The damage was seen, and so were entries that survived it.
        assert!(
            scanned > 50 && listed > 100,
            "{scanned} scanned, {listed} listed"
        );
    }

    #[test]
    fn a_stop_silences_the_errors_it_causes_downstream() {
        let m = Meter::new("a.zip".into(), 1 << 30);
        let mut g = Guard::new(
            io::repeat(0).take(8 << 20),
            &m,
            "a.zip!b.gz",
            Compressed::Known(1000),
            100,
        );
        let mut sink = Vec::new();
        g.read_to_end(&mut sink).unwrap();
        // Cut just past the first MiB: 100:1 of 1000 bytes is long exceeded by then.
        assert!(sink.len() <= (1 << 20) + 64 * 1024, "{}", sink.len());
        assert!(m.stopped("a.zip!b.gz"));
        assert!(m.stopped("a.zip!b.gz!c.tar"));
        assert!(!m.stopped("a.zip!b.gzip"));
        assert!(!m.stopped("a.zip"));
        let skipped = m.into_skipped();
        assert_eq!(skipped.len(), 1);
        assert!(!skipped[0].error);
    }

    #[test]
    fn a_zip_declaring_too_many_entries_is_not_opened() {
        let engine = Engine::new(crate::rules::load(Vec::new()).unwrap()).unwrap();
        let mut scanner = engine.file_scanner();
        let mut zip = ::zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for name in ["a.env", "b.env", "c.env"] {
            zip.start_file(name, ::zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"x=1\n").unwrap();
        }
        let zip = zip.finish().unwrap().into_inner();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("z"), &zip).unwrap();
        let file = std::fs::File::open(dir.path().join("z")).unwrap();
        let place = Place {
            display: "z".into(),
            repo: "z".into(),
        };
        let mut limits = ArchiveLimits::default();
        let out = scan_file(
            &engine,
            &mut scanner,
            &limits,
            Kind::Zip,
            (&file, Exposure::OutsideGit),
            &place,
        );
        assert_eq!((out.files, out.skipped.len()), (3, 0));
        limits.max_entries(2);
        let out = scan_file(
            &engine,
            &mut scanner,
            &limits,
            Kind::Zip,
            (&file, Exposure::OutsideGit),
            &place,
        );
        assert_eq!(out.files, 0);
        assert_eq!(
            out.skipped[0].reason,
            "declares 3 entries, more than the limit of 2: not opened"
        );
    }

    #[test]
    fn names() {
        assert_eq!(normalize("./app/.env"), "app/.env");
        assert_eq!(normalize("/etc/x/"), "etc/x");
        assert_eq!(gunzipped_name("a/b.tgz"), "b.tar");
        assert_eq!(gunzipped_name("x.zip!logs/app.log.gz"), "app.log");
        assert_eq!(gunzipped_name("blob"), "blob");
    }
}
