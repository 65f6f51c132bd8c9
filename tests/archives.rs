//! Archives and container images in tree scans: fixtures built here at run time (zip,
//! tar and gzip writers, hand-made zip records and deflate streams for the bombs).

use crate::util::archive::*;
use crate::util::*;
use std::io::Write;

/// Runs `keywarden scan ARGS` in every format; asserts no key leaks, SARIF validates,
/// and returns (exit code, JSON report, text stdout).
fn scan_all_formats(t: &Tree, args: &[&str]) -> (i32, serde_json::Value, String) {
    let text = t.cmd().arg("scan").args(args).output().unwrap();
    assert_no_secret("text stdout", &text.stdout);
    assert_no_secret("text stderr", &text.stderr);
    let json = t
        .cmd()
        .arg("scan")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_no_secret("json stdout", &json.stdout);
    assert_no_secret("json stderr", &json.stderr);
    let sarif = t
        .cmd()
        .arg("scan")
        .args(args)
        .args(["--format", "sarif"])
        .output()
        .unwrap();
    assert_no_secret("sarif stdout", &sarif.stdout);
    assert_valid_sarif(&serde_json::from_slice(&sarif.stdout).unwrap());
    let code = json.status.code().unwrap();
    assert_eq!(text.status.code(), Some(code));
    let v = serde_json::from_slice(&json.stdout).unwrap();
    (code, v, String::from_utf8_lossy(&text.stdout).into_owned())
}

fn row(
    path: &str,
    line: u64,
    rule: &str,
    sev: &str,
    ctx: &str,
) -> (String, u64, String, String, String) {
    (path.into(), line, rule.into(), sev.into(), ctx.into())
}

fn skipped(v: &serde_json::Value) -> Vec<(String, String, bool)> {
    v["summary"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
                s["error"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn app_jar() -> Vec<u8> {
    zip_of(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        (
            "BOOT-INF/classes/application-prod.properties",
            format!("spring.main.banner-mode=off\nmask.api-key={LIVE}\n").as_bytes(),
        ),
    ])
}

fn archive_tree() -> Tree {
    let t = Tree::new();
    t.write("libs/app.jar", app_jar());
    // Recognised by its first bytes, whatever its name.
    t.write("misnamed.dat", app_jar());
    let inner = zip_of(&[(
        "config/.env.production",
        format!("MASK_KEY={TEST}\n").as_bytes(),
    )]);
    t.write(
        "release/app.tar.gz",
        gz(&tar_of(&[
            (
                "./docs/setup.md",
                format!("export MASK_KEY={LIVE2}\n").as_bytes(),
            ),
            ("inner.zip", &inner),
        ])),
    );
    let client = zip_of(&[(
        "public/config.js",
        format!("window.K='{LIVE2}';\n").as_bytes(),
    )]);
    t.write(
        "deploy/site.war",
        zip_of(&[("WEB-INF/lib/client.jar", &client)]),
    );
    t.write("src/main.rs", "fn main() {}\n");
    t
}

#[test]
fn keys_in_jars_wars_and_nested_archives_have_inner_paths_and_contexts() {
    let t = archive_tree();
    let (code, v, text) = scan_all_formats(&t, &["--no-config"]);
    assert_eq!(code, 1);
    let prod = "BOOT-INF/classes/application-prod.properties";
    assert_eq!(
        rows(&v),
        vec![
            row(
                "deploy/site.war!WEB-INF/lib/client.jar!public/config.js",
                1,
                "mask.live-key",
                "critical",
                "client-side"
            ),
            row(
                &format!("libs/app.jar!{prod}"),
                2,
                "mask.live-key",
                "high",
                "production-config"
            ),
            row(
                &format!("misnamed.dat!{prod}"),
                2,
                "mask.live-key",
                "high",
                "production-config"
            ),
            row(
                "release/app.tar.gz!docs/setup.md",
                1,
                "mask.live-key",
                "high",
                "docs"
            ),
            row(
                "release/app.tar.gz!inner.zip!config/.env.production",
                1,
                "mask.test-key",
                "high",
                "production-config"
            ),
        ]
    );
    let f = &v["findings"][1];
    assert_eq!(f["redacted"], "mk_live_4eC3…p7dc");
    assert_eq!(f["column"], 14);
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 64);
    // Five files on disk, plus the seven entries scanned inside them (a nested archive is
    // opened, not counted).
    assert_eq!(v["summary"]["files"], 12);
    assert_eq!(skipped(&v), vec![]);
    assert!(text.contains("libs/app.jar!BOOT-INF/classes/application-prod.properties"));
}

#[test]
fn no_archives_flag_and_config_scan_only_the_raw_bytes() {
    let t = archive_tree();
    let (code, v) = t.scan_json(&["--no-config", "--no-archives"]);
    assert!(code == 0 || code == 1, "{code}");
    assert!(
        rows(&v).iter().all(|r| !r.0.contains('!')),
        "{:?}",
        rows(&v)
    );
    assert_eq!(v["summary"]["files"], 5);
    t.write(".keywarden.toml", "[scan]\narchives = false\n");
    let (_, v) = t.scan_json(&[]);
    assert!(
        rows(&v).iter().all(|r| !r.0.contains('!')),
        "{:?}",
        rows(&v)
    );
    assert_eq!(v["summary"]["files"], 6);
    t.write(".keywarden.toml", "[scan]\narchives = true\n");
    let (_, v) = t.scan_json(&[]);
    assert_eq!(rows(&v).len(), 5);
}

/// A `docker save` tarball as Docker writes it: `<id>/layer.tar` per layer (here the
/// second one gzipped), the image config, then `manifest.json` last.
fn docker_save() -> (Vec<u8>, String) {
    let layer1 = tar_of(&[("etc/hostname", b"box\n"), ("app/README.md", b"hello\n")]);
    let layer2_tar = tar_of(&[(
        "app/.env.production",
        format!("MASK_KEY={LIVE}\n").as_bytes(),
    )]);
    let layer2 = gz(&layer2_tar);
    let (d1, d2) = (sha256_hex(&layer1), sha256_hex(&layer2_tar));
    let config = format!(
        r#"{{"architecture":"amd64","config":{{"Env":["PATH=/usr/bin","MASK_KEY={TEST}"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{d1}","sha256:{d2}"]}}}}"#
    );
    let cfg_name = format!("{}.json", sha256_hex(config.as_bytes()));
    let (id1, id2) = (sha256_hex(b"layer one"), sha256_hex(b"layer two"));
    let manifest = format!(
        r#"[{{"Config":"{cfg_name}","RepoTags":["shop:1.0"],"Layers":["{id1}/layer.tar","{id2}/layer.tar"]}}]"#
    );
    let image = tar_of(&[
        (&format!("{id1}/VERSION"), b"1.0"),
        (&format!("{id1}/layer.tar"), &layer1),
        (&format!("{id2}/VERSION"), b"1.0"),
        (&format!("{id2}/layer.tar"), &layer2),
        (&cfg_name, config.as_bytes()),
        ("manifest.json", manifest.as_bytes()),
    ]);
    (image, d2)
}

#[test]
fn docker_save_layers_are_scanned_and_named() {
    let t = Tree::new();
    let (image, d2) = docker_save();
    t.write("images/shop.tar", &image);
    t.write("images/shop.tar.gz", gz(&image));
    let (code, v, _) = scan_all_formats(&t, &["--no-config"]);
    assert_eq!(code, 1);
    let layer = format!("layer 2 (sha256:{})", &d2[..12]);
    let rows = rows(&v);
    for img in ["images/shop.tar", "images/shop.tar.gz"] {
        let path = format!("{img}!{layer}!app/.env.production");
        assert!(
            rows.contains(&row(&path, 1, "mask.live-key", "high", "production-config")),
            "{path} not in {rows:#?}"
        );
    }
    // The image config's ENV is scanned too.
    let cfg: Vec<_> = rows.iter().filter(|r| r.0.ends_with(".json")).collect();
    assert_eq!(cfg.len(), 2, "{rows:#?}");
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_eq!(skipped(&v), vec![]);
}

/// An OCI image layout: `oci-layout`, `index.json`, and blobs named by their digests.
fn oci_layout() -> (Vec<(String, Vec<u8>)>, String) {
    let l1 = gz(&tar_of(&[("etc/os-release", b"ID=distroless\n")]));
    let l2 = gz(&tar_of(&[(
        "app/public/config.js",
        format!("window.MASK_KEY = '{LIVE2}';\n").as_bytes(),
    )]));
    let config = br#"{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let (h1, h2, hc) = (sha256_hex(&l1), sha256_hex(&l2), sha256_hex(&config));
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{hc}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{h1}","size":{}}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{h2}","size":{}}}]}}"#,
        config.len(),
        l1.len(),
        l2.len()
    )
    .into_bytes();
    let hm = sha256_hex(&manifest);
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{hm}","size":{}}}]}}"#,
        manifest.len()
    );
    let files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (format!("blobs/sha256/{h1}"), l1),
        (format!("blobs/sha256/{h2}"), l2),
        (format!("blobs/sha256/{hc}"), config),
        (format!("blobs/sha256/{hm}"), manifest),
        ("index.json".to_string(), index.into_bytes()),
    ];
    (files, h2)
}

#[test]
fn oci_layouts_as_directory_and_tar_have_every_layer_scanned() {
    let t = Tree::new();
    let (files, h2) = oci_layout();
    for (name, data) in &files {
        t.write(&format!("shop-oci/{name}"), data);
    }
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    t.write("shop-oci.tar", tar_of(&entries));
    let (code, v, text) = scan_all_formats(&t, &["--no-config"]);
    assert_eq!(code, 1);
    let layer = format!("layer 2 (sha256:{})", &h2[..12]);
    assert_eq!(
        rows(&v),
        vec![
            row(
                &format!("shop-oci!{layer}!app/public/config.js"),
                1,
                "mask.live-key",
                "critical",
                "client-side"
            ),
            row(
                &format!("shop-oci.tar!{layer}!app/public/config.js"),
                1,
                "mask.live-key",
                "critical",
                "client-side"
            ),
        ]
    );
    assert!(text.contains(&format!("shop-oci!{layer}!app/public/config.js")));
}

#[test]
fn archives_nested_too_deep_are_listed_not_opened() {
    let t = Tree::new();
    let d5 = zip_of(&[("deep.env", format!("K={LIVE}\n").as_bytes())]);
    let d4 = zip_of(&[
        ("ok.txt", format!("K={LIVE2}\n").as_bytes()),
        ("d5.zip", &d5),
    ]);
    let d3 = zip_of(&[("d4.zip", &d4)]);
    let d2 = zip_of(&[("d3.zip", &d3)]);
    t.write("d1.zip", zip_of(&[("d2.zip", &d2)]));
    let (code, v) = t.scan_json(&["--no-config"]);
    assert_eq!(code, 1);
    let paths: Vec<_> = rows(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(paths, vec!["d1.zip!d2.zip!d3.zip!d4.zip!ok.txt"]);
    assert_eq!(
        skipped(&v),
        vec![(
            "d1.zip!d2.zip!d3.zip!d4.zip!d5.zip".to_string(),
            "an archive nested more than 4 deep: not opened".to_string(),
            false
        )]
    );
}

/// Peak resident memory of a child, in KiB, polled from /proc until it exits.
#[cfg(target_os = "linux")]
fn run_measured(
    mut cmd: std::process::Command,
) -> (std::process::ExitStatus, u64, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            for l in s
                .lines()
                .filter(|l| l.starts_with("VmHWM:") || l.starts_with("VmRSS:"))
            {
                let kb: u64 = l
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status, peak, started.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn zip_bombs_are_cut_off_with_bounded_memory_and_time() {
    use assert_cmd::cargo::CommandCargoExt;
    let t = Tree::new();
    let zeros = zeros_deflate(512);
    let (len, declared) = (zeros.len() as u32, 512u32 << 20);
    // One entry that says what it is: 512 MiB from half a MiB.
    t.write(
        "bomb.zip",
        raw_zip(&[("zeros.bin", 8, &zeros, 0, declared)]),
    );
    // The same entry, lying about its size: the zip reader calls that corrupt.
    t.write("liar.zip", raw_zip(&[("zeros.bin", 8, &zeros, 0, len * 2)]));
    // A gzip stream of zeros (no sizes declared at all): cut by its measured ratio.
    let mut gzip = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    gzip.extend_from_slice(&zeros);
    gzip.extend_from_slice(&[0; 8]);
    t.write("zeros.gz", gzip);
    // 42.zip-style: 16 zips of 16 zips of 4 entries of 256 MiB of zeros (64 GiB in all;
    // each middle zip inflates to 16 MiB, more than is held in memory).
    let quarter = zeros_deflate(256);
    let size = 256u32 << 20;
    let leaf = raw_zip(&[
        ("a.bin", 8, &quarter, 0, size),
        ("b.bin", 8, &quarter, 0, size),
        ("c.bin", 8, &quarter, 0, size),
        ("d.bin", 8, &quarter, 0, size),
    ]);
    let names: Vec<String> = (0..16).map(|i| format!("{i:x}.zip")).collect();
    let level2 = zip_of(
        &names
            .iter()
            .map(|n| (n.as_str(), &leaf[..]))
            .collect::<Vec<_>>(),
    );
    let top = zip_of(
        &names
            .iter()
            .map(|n| (n.as_str(), &level2[..]))
            .collect::<Vec<_>>(),
    );
    t.write("42.zip", &top);
    // Nothing but ordinary entries, 300 MiB of them in about 5 MiB: the per-archive
    // budget stops it.
    let mut mib = vec![b'0'; 1 << 20];
    let mut x = 12345u32;
    for i in (0..mib.len()).step_by(200) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        mib[i] = b'a' + (x >> 16) as u8 % 26;
    }
    let mut crc = flate2::Crc::new();
    crc.update(&mib);
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut packed = Vec::with_capacity(1 << 20);
    c.compress_vec(&mib, &mut packed, flate2::FlushCompress::Finish)
        .unwrap();
    let ratio = mib.len() / packed.len();
    assert!((10..100).contains(&ratio), "ratio {ratio}");
    let names: Vec<String> = (0..300).map(|i| format!("part-{i:03}.txt")).collect();
    let entries: Vec<_> = names
        .iter()
        .map(|n| (n.as_str(), 8, &packed[..], crc.sum(), 1u32 << 20))
        .collect();
    t.write("big.zip", raw_zip(&entries));
    t.write("src/app.py", "print('hi')\n");
    let on_disk: u64 = ["bomb.zip", "liar.zip", "zeros.gz", "42.zip"]
        .iter()
        .map(|f| std::fs::metadata(t.path().join(f)).unwrap().len())
        .sum();
    assert!(on_disk < 2 << 20, "bombs take {on_disk} bytes");

    let mut cmd = std::process::Command::cargo_bin("keywarden").unwrap();
    cmd.current_dir(t.path())
        .args([
            "scan",
            "--no-config",
            "--format",
            "json",
            "--output",
            "report.json",
            ".",
        ])
        .env_remove("KEYWARDEN_FAIL_ON")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let (status, peak_kib, took) = run_measured(cmd);
    let report = std::fs::read_to_string(t.path().join("report.json")).unwrap_or_default();
    assert_eq!(status.code(), Some(2), "the liar is corrupt: {report}");
    eprintln!("bombs: peak RSS {peak_kib} KiB, {took:?}");
    assert!(peak_kib < 200 * 1024, "peak RSS {peak_kib} KiB");
    assert!(took < std::time::Duration::from_secs(120), "took {took:?}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("report.json")).unwrap()).unwrap();
    let sk = skipped(&v);
    let reason = |path: &str| {
        sk.iter()
            .find(|s| s.0 == path)
            .map(|s| (s.1.clone(), s.2))
            .unwrap_or_else(|| panic!("{path} not skipped: {sk:#?}"))
    };
    let (r, error) = reason("bomb.zip!zeros.bin");
    assert!(
        r.starts_with("declares a compression ratio over 100:1"),
        "{r}"
    );
    assert!(!error);
    let (r, error) = reason("liar.zip!zeros.bin");
    assert!(
        r.contains("larger than its declared uncompressed size"),
        "{r}"
    );
    assert!(error);
    let (r, _) = reason("zeros.gz");
    assert!(r.starts_with("compression ratio over 100:1"), "{r}");
    let (r, _) = reason("42.zip!0.zip!0.zip");
    assert!(
        r.starts_with("declares a compression ratio over 100:1"),
        "{r}"
    );
    let (r, _) = reason("big.zip");
    assert!(r.contains("256 MiB decompressed from this archive"), "{r}");
    let files = v["summary"]["files"].as_u64().unwrap();
    // Six files on disk and the parts read before the budget ran out (256 and the one it
    // ran out in), the gzip's content, the liar's entry.
    assert!((260..=270).contains(&files), "{files} files");
    // Only the liar is an error; the bombs are limits, listed.
    assert_eq!(v["summary"]["errors"], 1, "{sk:#?}");
}

#[test]
fn corrupt_archives_are_errors_and_the_scan_goes_on() {
    let t = Tree::new();
    let mut junk = b"PK\x03\x04".to_vec();
    junk.extend((0..2000u32).map(|i| (i * 7 + 3) as u8));
    t.write("corrupt.zip", junk);
    t.write("src/app.py", "print('hi')\n");
    let (code, v, _) = scan_all_formats(&t, &["--no-config"]);
    assert_eq!(
        code, 2,
        "an unreadable archive is an error, like an unreadable file"
    );
    let sk = skipped(&v);
    assert_eq!(sk.len(), 1);
    assert_eq!(sk[0].0, "corrupt.zip");
    assert!(sk[0].1.starts_with("corrupt zip archive"), "{}", sk[0].1);
    assert!(sk[0].2);
    assert_eq!(v["summary"]["errors"], 1);

    // A stored entry with a wrong checksum is still scanned up to the error; a truncated
    // tar.gz is scanned as far as it goes. Findings make the exit code 1, the errors
    // are listed.
    let t = Tree::new();
    let env = format!("MASK_KEY={LIVE}\n");
    t.write(
        "bad-crc.zip",
        raw_zip(&[(
            "config/.env.production",
            0,
            env.as_bytes(),
            0xdead_beef,
            env.len() as u32,
        )]),
    );
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let tgz = gz(&tar_of(&[
        (".env.production", format!("K={LIVE2}\n").as_bytes()),
        ("noise.bin", &noise),
    ]));
    t.write("cut.tar.gz", &tgz[..tgz.len() / 2]);
    let (code, v, _) = scan_all_formats(&t, &["--no-config"]);
    assert_eq!(code, 1);
    let paths: Vec<_> = rows(&v).into_iter().map(|r| (r.0, r.4)).collect();
    assert_eq!(
        paths,
        vec![
            (
                "bad-crc.zip!config/.env.production".to_string(),
                "production-config".to_string()
            ),
            (
                "cut.tar.gz!.env.production".to_string(),
                "production-config".to_string()
            ),
        ]
    );
    let sk = skipped(&v);
    assert_eq!(sk.len(), 2, "{sk:#?}");
    assert!(
        sk.iter()
            .all(|s| s.2 && s.1.starts_with("corrupt or unreadable")),
        "{sk:#?}"
    );
    assert_eq!(v["summary"]["errors"], 2);
}

#[test]
fn a_key_only_in_the_raw_bytes_is_reported_at_the_archive() {
    // A stored entry shows its key in the raw bytes too: it is reported once, at the
    // entry. The zip comment's key is in no entry: it is reported at the archive.
    let t = Tree::new();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("config/.env.production", stored).unwrap();
    w.write_all(format!("MASK_KEY={LIVE}\n").as_bytes())
        .unwrap();
    w.set_comment(format!("built with {LIVE2}")).unwrap();
    t.write("bundle.zip", w.finish().unwrap().into_inner());
    let (code, v) = t.scan_json(&["--no-config"]);
    assert_eq!(code, 1);
    // (Lines in a binary file are whatever its bytes say: not compared.)
    let found: Vec<_> = rows(&v).into_iter().map(|r| (r.0, r.2, r.4)).collect();
    let f = |p: &str, c: &str| (p.to_string(), "mask.live-key".to_string(), c.to_string());
    assert_eq!(
        found,
        vec![
            f("bundle.zip", "source"),
            f("bundle.zip!config/.env.production", "production-config")
        ]
    );
    assert_eq!(v["findings"][0]["redacted"], "mk_live_Zq8W…9Mh4");
}

#[test]
fn a_nested_zip_too_big_for_memory_is_spilled_and_scanned() {
    // A 10 MiB jar inside a war: more than the 8 MiB held in memory.
    let t = Tree::new();
    let mut rng = fastrand::Rng::with_seed(42);
    let noise: Vec<u8> = (0..10 << 20).map(|_| rng.u8(..)).collect();
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut jar = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    jar.start_file("lib/native.so", stored).unwrap();
    jar.write_all(&noise).unwrap();
    jar.start_file("application-prod.properties", stored)
        .unwrap();
    jar.write_all(format!("mask.key={TEST}\n").as_bytes())
        .unwrap();
    let jar = jar.finish().unwrap().into_inner();
    let mut war = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    war.start_file("WEB-INF/lib/big.jar", stored).unwrap();
    war.write_all(&jar).unwrap();
    t.write("shop.war", war.finish().unwrap().into_inner());
    let (code, v) = t.scan_json(&["--no-config"]);
    assert_eq!(code, 1);
    assert_eq!(
        rows(&v),
        vec![row(
            "shop.war!WEB-INF/lib/big.jar!application-prod.properties",
            1,
            "mask.test-key",
            "high",
            "production-config"
        )]
    );
    assert_eq!(skipped(&v), vec![]);
}
