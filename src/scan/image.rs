//! Container images: `docker save` tarballs (`manifest.json` naming each image's layer
//! tars, old `<id>/layer.tar` or newer `blobs/sha256/<hex>`) and OCI image layouts
//! (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`, as a directory or a tar). Layers are
//! scanned as the archives they are; this module only names them: the n-th distinct layer
//! of the image(s), in manifest order, is reported as `layer n (sha256:<12 hex digits>)`,
//! e.g. `image.tar!layer 2 (sha256:3f2a9c0e1b7d)!app/.env.production`.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Largest metadata file read (manifests, indexes, image configs).
pub const META_MAX: u64 = 1024 * 1024;
/// How deep image indexes may nest (a multi-platform index names per-platform indexes).
const MAX_INDEX_DEPTH: usize = 4;

/// Could the tar entry `name` be image metadata (kept while its tar is walked)?
pub fn is_metadata(name: &str) -> bool {
    matches!(name, "manifest.json" | "index.json")
        || (!name.contains('/') && name.ends_with(".json"))
        || name
            .strip_prefix("blobs/")
            .is_some_and(|rest| rest.split('/').count() == 2)
}

/// Does `bytes` start like a JSON object or array?
pub fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

#[derive(Deserialize)]
struct DockerManifest {
    #[serde(rename = "Config", default)]
    config: Option<String>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    rootfs: RootFs,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[derive(Deserialize)]
struct OciIndexOrManifest {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// `blobs/<alg>/<hex>` of a digest `<alg>:<hex>` (`None` if it is not one).
fn blob_path(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(alg) && ok(hex)).then(|| format!("blobs/{alg}/{hex}"))
}

/// The digest a `blobs/<alg>/<hex>` path names.
fn path_digest(path: &str) -> Option<String> {
    let mut parts = path.strip_prefix("blobs/")?.split('/');
    let (alg, hex) = (parts.next()?, parts.next()?);
    parts.next().is_none().then(|| format!("{alg}:{hex}"))
}

#[derive(Default)]
struct Labels(HashMap<String, String>);

impl Labels {
    fn add(&mut self, path: String, digest: &str) {
        if self.0.contains_key(&path) {
            return;
        }
        let (alg, hex) = digest.split_once(':').unwrap_or(("id", digest));
        let short: String = hex.chars().take(12).collect();
        let label = format!("layer {} ({alg}:{short})", self.0.len() + 1);
        self.0.insert(path, label);
    }
}

/// The labels of an image's layers, by their path in the image (tar entry or layout
/// file): empty when `get` (the image's metadata by path) shows no image.
pub fn layer_labels(get: &dyn Fn(&str) -> Option<Vec<u8>>) -> HashMap<String, String> {
    let mut labels = Labels::default();
    if let Some(manifests) =
        get("manifest.json").and_then(|m| serde_json::from_slice::<Vec<DockerManifest>>(&m).ok())
    {
        for m in manifests {
            let config: Config = m
                .config
                .and_then(|c| get(&c))
                .and_then(|c| serde_json::from_slice(&c).ok())
                .unwrap_or_default();
            for (i, layer) in m.layers.into_iter().enumerate() {
                let layer = layer.trim_start_matches("./").to_string();
                let digest = path_digest(&layer)
                    .or_else(|| config.rootfs.diff_ids.get(i).cloned())
                    .unwrap_or_else(|| layer.split('/').next().unwrap_or_default().to_string());
                labels.add(layer, &digest);
            }
        }
    } else if let Some(index) = get("index.json") {
        oci_layers(get, &index, 0, &mut labels);
    }
    labels.0
}

fn oci_layers(
    get: &dyn Fn(&str) -> Option<Vec<u8>>,
    json: &[u8],
    depth: usize,
    labels: &mut Labels,
) {
    let Ok(doc) = serde_json::from_slice::<OciIndexOrManifest>(json) else {
        return;
    };
    for l in &doc.layers {
        if let Some(path) = blob_path(&l.digest) {
            labels.add(path, &l.digest);
        }
    }
    if depth >= MAX_INDEX_DEPTH {
        return;
    }
    for m in &doc.manifests {
        if let Some(blob) = blob_path(&m.digest).and_then(|p| get(&p)) {
            oci_layers(get, &blob, depth + 1, labels);
        }
    }
}

/// Reads a metadata file of a layout directory (at most [`META_MAX`] bytes).
fn read_small(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_file() && meta.len() <= META_MAX)
        .then(|| std::fs::read(path).ok())
        .flatten()
}

/// The layer labels of OCI layout directories met during a walk, each read once.
#[derive(Debug, Default)]
pub struct Layouts(Mutex<HashMap<PathBuf, Arc<HashMap<String, String>>>>);

impl Layouts {
    /// For `file` at `<layout>/blobs/<alg>/<hex>` in an OCI layout directory that lists
    /// it as a layer: the layout directory and the layer's label.
    pub fn layer(&self, file: &Path) -> Option<(PathBuf, String)> {
        let hex = file.file_name()?.to_str()?;
        let alg_dir = file.parent()?;
        let alg = alg_dir.file_name()?.to_str()?;
        let blobs = alg_dir.parent()?;
        if blobs.file_name()? != "blobs" {
            return None;
        }
        let layout = blobs.parent()?;
        if !layout.join("oci-layout").is_file() {
            return None;
        }
        let labels = {
            let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .entry(layout.to_path_buf())
                .or_insert_with(|| Arc::new(layer_labels(&|p: &str| read_small(&layout.join(p)))))
                .clone()
        };
        let label = labels.get(&format!("blobs/{alg}/{hex}"))?;
        Some((layout.to_path_buf(), label.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_and_oci_layers_are_numbered_in_manifest_order() {
        let files: HashMap<&str, &str> = HashMap::from([
            (
                "manifest.json",
                r#"[{"Config":"c.json","Layers":["aaa/layer.tar","blobs/sha256/bbbbbbbbbbbbbbbbbbbb"]}]"#,
            ),
            (
                "c.json",
                r#"{"rootfs":{"diff_ids":["sha256:0123456789abcdef0123","sha256:ffff"]}}"#,
            ),
        ]);
        let get = |p: &str| files.get(p).map(|s| s.as_bytes().to_vec());
        let l = layer_labels(&get);
        assert_eq!(l["aaa/layer.tar"], "layer 1 (sha256:0123456789ab)");
        assert_eq!(
            l["blobs/sha256/bbbbbbbbbbbbbbbbbbbb"],
            "layer 2 (sha256:bbbbbbbbbbbb)"
        );
        let files: HashMap<&str, &str> = HashMap::from([
            ("index.json", r#"{"manifests":[{"digest":"sha256:m1"}]}"#),
            (
                "blobs/sha256/m1",
                r#"{"layers":[{"digest":"sha256:l1"},{"digest":"sha256:l2"},{"digest":"../x:y"}]}"#,
            ),
        ]);
        let get = |p: &str| files.get(p).map(|s| s.as_bytes().to_vec());
        let l = layer_labels(&get);
        assert_eq!(l.len(), 2);
        assert_eq!(l["blobs/sha256/l2"], "layer 2 (sha256:l2)");
        assert!(layer_labels(&|_| None).is_empty());
    }
}
