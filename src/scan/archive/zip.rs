//! Zip containers (zip, jar, war, ear, whl, apk, aar): every file entry, in the order of
//! the central directory.

use super::guard::{Compressed, Guard, RATIO_FLOOR};
use super::{Place, Walker, normalize};
use std::io::{self, Read, Seek, SeekFrom};
use zip::result::ZipError;

/// The number of entries the zip in `src` declares in its end-of-central-directory record
/// (zip64's when there is one), if the record is found. The zip reader holds the whole
/// central directory in memory, so this is checked before it is read.
fn declared_entries<R: Read + Seek>(src: &mut R) -> io::Result<Option<u64>> {
    let len = src.seek(SeekFrom::End(0))?;
    let tail_len = len.min(22 + 65535 + 20);
    src.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    src.read_exact(&mut tail)?;
    let Some(at) = memchr::memmem::rfind(&tail, b"PK\x05\x06").filter(|at| at + 22 <= tail.len())
    else {
        return Ok(None);
    };
    let u16_at = |i: usize| u16::from_le_bytes([tail[i], tail[i + 1]]);
    let entries = u16_at(at + 10);
    if entries != u16::MAX || at < 20 || &tail[at - 20..at - 16] != b"PK\x06\x07" {
        return Ok(Some(u64::from(entries)));
    }
    // Zip64: the locator before the record gives the zip64 record's offset.
    let mut off = [0u8; 8];
    off.copy_from_slice(&tail[at - 12..at - 4]);
    src.seek(SeekFrom::Start(u64::from_le_bytes(off).saturating_add(32)))?;
    let mut n = [0u8; 8];
    src.read_exact(&mut n)?;
    Ok(Some(u64::from_le_bytes(n)))
}

impl Walker<'_, '_, '_> {
    /// Walks the zip in `src`, reported at `place`.
    pub(super) fn zip<R: Read + Seek>(&mut self, mut src: R, place: &Place, depth: usize) {
        let max = self.limits.max_entries;
        if let Ok(Some(n)) = declared_entries(&mut src)
            && n > max
        {
            let reason = format!("declares {n} entries, more than the limit of {max}: not opened");
            self.meter.skip(&place.display, reason, false);
            return;
        }
        let mut ar = match zip::ZipArchive::new(src) {
            Ok(a) => a,
            Err(e) => {
                let reason = format!("corrupt zip archive ({e}): its entries were not scanned");
                self.meter.skip(&place.display, reason, true);
                return;
            }
        };
        let max_ratio = self.limits.max_ratio;
        for i in 0..ar.len() {
            if self.meter.exhausted() {
                break;
            }
            let (name, compressed, size) = match ar.by_index_raw(i) {
                Ok(f) if f.is_dir() || f.is_symlink() => continue,
                Ok(f) => {
                    let name = match f.name() {
                        Ok(n) => normalize(&n),
                        Err(_) => format!("entry #{i}"),
                    };
                    if name.is_empty() {
                        continue;
                    }
                    if f.encrypted() {
                        let child = place.child(&name);
                        self.meter.skip(
                            &child.display,
                            "encrypted entry: not scanned".into(),
                            false,
                        );
                        continue;
                    }
                    (name, f.compressed_size(), f.size())
                }
                Err(e) => {
                    let reason = format!("corrupt zip entry #{i} ({e}): not scanned");
                    self.meter.skip(&place.display, reason, true);
                    continue;
                }
            };
            let child = place.child(&name);
            if size > RATIO_FLOOR && size / compressed.max(1) > max_ratio {
                let reason = format!(
                    "declares a compression ratio over {max_ratio}:1 ({size} bytes from {compressed}; a zip bomb?): not scanned"
                );
                self.meter.skip(&child.display, reason, false);
                continue;
            }
            match ar.by_index(i) {
                Ok(f) => {
                    let mut g = Guard::new(
                        f,
                        self.meter,
                        &child.display,
                        Compressed::Known(compressed),
                        max_ratio,
                    );
                    self.entry(&mut g, &child, &name, depth);
                }
                Err(
                    e @ (ZipError::UnsupportedArchive(_)
                    | ZipError::CompressionMethodNotSupported(_)),
                ) => {
                    self.meter
                        .skip(&child.display, format!("{e}: not scanned"), false);
                }
                Err(e) => {
                    let reason = format!("corrupt zip entry ({e}): not scanned");
                    self.meter.skip(&child.display, reason, true);
                }
            }
        }
    }
}
