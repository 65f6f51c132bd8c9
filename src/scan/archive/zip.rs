//! Zip containers (zip, jar, war, ear, whl, apk, aar): every file entry, in the order of
//! the central directory.

use super::guard::{Compressed, Guard, RATIO_FLOOR};
use super::{Place, Walker, normalize};
use std::io::{Read, Seek};
use zip::result::ZipError;

impl Walker<'_, '_, '_> {
    /// Walks the zip in `src`, reported at `place`.
    pub(super) fn zip<R: Read + Seek>(&mut self, src: R, place: &Place, depth: usize) {
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
