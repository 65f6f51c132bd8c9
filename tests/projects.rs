//! Project fixtures (`tests/data/projects/*`, see its README): real-looking layouts of
//! Next.js, Django, Kubernetes, Terraform, Rails and Spring projects with keys planted
//! where teams leak them. Each runs through the default `keywarden scan .`, `scan
//! --staged` and `scan --history`, and every run must report exactly the planted keys
//! (recall and false alarms), each with its severity, at its line and exposure.

use crate::util::git::Repo;
use base64::Engine as _;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/projects");

/// One planted key: where it is and what keywarden must say of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Plant {
    path: String,
    line: u64,
    severity: String,
    exposure: String,
}

#[derive(serde::Deserialize)]
struct Fixture {
    force_add: Vec<String>,
    untracked: Vec<String>,
}

/// A random key body (24 to 40 letters and digits) that no placeholder filter takes.
fn random_body(rng: &mut fastrand::Rng) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let n = rng.usize(24..=40);
    (0..n).map(|_| A[rng.usize(..A.len())] as char).collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Copies project `name` into a fresh repository with fresh keys; the plants (exposure
/// still unknown: filled in from git) and the keys' bodies.
fn plant(name: &str, rng: &mut fastrand::Rng) -> (Repo, Fixture, Vec<Plant>, Vec<String>) {
    let src = Path::new(ROOT).join(name);
    let fixture: Fixture =
        toml::from_str(&std::fs::read_to_string(src.join("FIXTURE.toml")).unwrap()).unwrap();
    let repo = Repo::new();
    let (mut plants, mut bodies) = (Vec::new(), Vec::new());
    let mut all = Vec::new();
    files(&src, &mut all);
    for file in all {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "FIXTURE.toml" {
            continue;
        }
        let target = if rel == "gitignore" {
            ".gitignore".to_string()
        } else {
            rel
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let mut out = String::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("{{mk:") {
                let end = rest[at..].find("}}").unwrap() + at;
                let spec: Vec<&str> = rest[at + 5..end].split(':').collect();
                let body = random_body(rng);
                let key = format!("mk_{}_{body}", spec[0]);
                out.push_str(&rest[..at]);
                if spec.get(2) == Some(&"b64") {
                    out.push_str(&base64::engine::general_purpose::STANDARD.encode(&key));
                } else {
                    out.push_str(&key);
                }
                plants.push(Plant {
                    path: target.clone(),
                    line: i as u64 + 1,
                    severity: spec[1].to_string(),
                    exposure: String::new(),
                });
                bodies.push(body);
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
        }
        repo.write(&target, out);
    }
    (repo, fixture, plants, bodies)
}

/// What git says of `path`: tracked, ignored or untracked.
fn git_exposure(repo: &Repo, path: &str) -> &'static str {
    if !repo.git(&["ls-files", "--", path]).trim().is_empty() {
        "tracked"
    } else if repo
        .git_output_in(repo.path(), &["check-ignore", "-q", "--", path])
        .status
        .success()
    {
        "ignored"
    } else {
        "untracked"
    }
}

fn reported(v: &serde_json::Value) -> BTreeSet<Plant> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Plant {
            path: f["path"].as_str().unwrap().to_string(),
            line: f["line"].as_u64().unwrap(),
            severity: f["severity"].as_str().unwrap().to_string(),
            exposure: f["exposure"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// Compares what was planted with what was reported; a readable diff on mismatch.
fn check(project: &str, mode: &str, want: &BTreeSet<Plant>, v: &serde_json::Value) {
    let got = reported(v);
    let missed: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{project} ({mode}): {} planted, {} reported\n  missed or judged otherwise: {missed:#?}\n  reported but not planted so: {extra:#?}",
        want.len(),
        got.len()
    );
}

fn no_key_in(text: &str, bodies: &[String]) {
    for b in bodies {
        assert!(!text.contains(b.as_str()), "a full key leaked");
    }
}

#[test]
fn real_project_layouts_report_exactly_the_planted_keys() {
    let mut rng = fastrand::Rng::with_seed(0x6d61_736b);
    let mut names: Vec<String> = std::fs::read_dir(ROOT)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 6,
        "the project fixtures are missing: {names:?}"
    );
    let (mut planted, mut projects) = (0usize, 0usize);
    for name in &names {
        let (repo, fixture, mut plants, bodies) = plant(name, &mut rng);
        // Stage what a team would: everything git does not ignore, the force-added files,
        // and not the files the fixture leaves untracked.
        repo.git(&["add", "-A"]);
        for f in &fixture.force_add {
            repo.git(&["add", "-f", "--", f]);
        }
        for f in &fixture.untracked {
            repo.git(&["rm", "-q", "--cached", "--", f]);
        }
        for p in &mut plants {
            p.exposure = git_exposure(&repo, &p.path).to_string();
        }
        let shared: BTreeSet<Plant> = plants
            .iter()
            .filter(|p| p.exposure == "tracked")
            .cloned()
            .collect();
        let as_exposure = |e: &str| -> BTreeSet<Plant> {
            shared
                .iter()
                .map(|p| Plant {
                    exposure: e.to_string(),
                    ..p.clone()
                })
                .collect()
        };

        // `keywarden scan ARGS --format json`: exit code and report, no key in either stream.
        let scan = |args: &[&str]| -> (Option<i32>, serde_json::Value) {
            let out = repo
                .kw()
                .arg("scan")
                .args(args)
                .args(["--format", "json"])
                .output()
                .unwrap();
            no_key_in(&String::from_utf8_lossy(&out.stdout), &bodies);
            no_key_in(&String::from_utf8_lossy(&out.stderr), &bodies);
            (
                out.status.code(),
                serde_json::from_slice(&out.stdout).unwrap(),
            )
        };

        // The pre-commit hook: every staged key, judged as shared.
        let (_, v) = scan(&["--staged"]);
        check(name, "--staged", &as_exposure("staged"), &v);

        repo.git(&[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            &format!("{name}: import"),
        ]);

        // The tree: tracked, ignored local secret files and untracked files.
        let (code, v) = scan(&["."]);
        check(name, "scan .", &plants.iter().cloned().collect(), &v);
        assert_eq!(code, Some(1), "{name}: findings fail the scan");

        // The history: what was committed.
        let (_, v) = scan(&["--history"]);
        check(name, "--history", &as_exposure("history"), &v);

        planted += plants.len();
        projects += 1;
    }
    assert!(
        planted >= 30,
        "only {planted} keys planted in {projects} projects"
    );
}
