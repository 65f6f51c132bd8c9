//! Tar streams (plain, or from a gzip stream): every regular file, in order. Small
//! metadata entries are kept so that a container image's layers can be named afterwards
//! (see [`crate::scan::image`]).

use super::{Place, Walker, normalize};
use crate::scan::image;
use std::collections::HashMap;
use std::io::Read;
use tar::EntryType;

/// Metadata kept from one tar, at most (manifests and configs are a few KiB each).
const KEEP_TOTAL: u64 = 16 * 1024 * 1024;

impl Walker<'_, '_, '_> {
    /// Walks the tar read from `reader`, reported at `place`.
    pub(super) fn tar(&mut self, reader: &mut dyn Read, place: &Place, depth: usize) {
        let marks = (
            self.out.findings.len(),
            self.out.placeholders.len(),
            self.meter.skips(),
        );
        let mut kept: HashMap<String, Vec<u8>> = HashMap::new();
        let mut kept_bytes = 0u64;
        let mut ar = tar::Archive::new(reader);
        let mut entries = match ar.entries() {
            Ok(e) => e,
            Err(e) => {
                if !self.meter.stopped(&place.display) {
                    let reason = format!("corrupt tar archive ({e}): not scanned");
                    self.meter.skip(&place.display, reason, true);
                }
                return;
            }
        };
        loop {
            if self.meter.exhausted() {
                break;
            }
            let mut entry = match entries.next() {
                None => break,
                Some(Ok(e)) => e,
                Some(Err(e)) => {
                    if !self.meter.stopped(&place.display) {
                        let reason =
                            format!("corrupt tar archive ({e}): the rest of it was not scanned");
                        self.meter.skip(&place.display, reason, true);
                    }
                    break;
                }
            };
            let regular = matches!(
                entry.header().entry_type(),
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
            );
            if !regular {
                continue;
            }
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            if name.is_empty() {
                continue;
            }
            let child = place.child(&name);
            let size = entry.size();
            if image::is_metadata(&name)
                && kept_bytes + size <= KEEP_TOTAL
                && size <= image::META_MAX
            {
                let mut buf = Vec::with_capacity(size as usize);
                if entry.read_to_end(&mut buf).is_ok() {
                    self.entry(&mut &buf[..], &child, &name, depth);
                    if image::looks_like_json(&buf) {
                        kept_bytes += buf.len() as u64;
                        kept.insert(name, buf);
                    }
                }
                continue;
            }
            self.entry(&mut entry, &child, &name, depth);
        }
        let labels = image::layer_labels(&|p: &str| kept.get(p).cloned());
        if !labels.is_empty() {
            self.rename_layers(place, &labels, marks);
        }
    }

    /// Renames what was reported inside the layers of the image at `place` (since
    /// `marks`) from `image.tar!<layer entry>!…` to `image.tar!<layer label>!…`.
    fn rename_layers(
        &mut self,
        place: &Place,
        labels: &HashMap<String, String>,
        (findings, placeholders, skips): (usize, usize, usize),
    ) {
        let rename = |path: &str, base: &str| -> Option<String> {
            let rest = path.strip_prefix(base)?.strip_prefix('!')?;
            labels.iter().find_map(|(entry, label)| {
                let after = rest.strip_prefix(entry.as_str())?;
                (after.is_empty() || after.starts_with('!'))
                    .then(|| format!("{base}!{label}{after}"))
            })
        };
        for f in &mut self.out.findings[findings..] {
            if let Some(p) = rename(&f.path, &place.display) {
                f.path = p;
            }
            if let Some(p) = rename(&f.repo_path, &place.repo) {
                f.repo_path = p;
            }
        }
        for p in &mut self.out.placeholders[placeholders..] {
            if let Some(n) = rename(&p.path, &place.display) {
                p.path = n;
            }
        }
        self.meter
            .rename_skips(skips, &|p| rename(p, &place.display));
    }
}
