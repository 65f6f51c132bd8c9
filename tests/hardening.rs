//! Hostile input: secrets pasted where a name goes, keys in file names and arguments,
//! terminal escapes in names, files that never end, and two daemons on one state file.
use crate::util::*;

/// Runs `cmd` and returns (exit code, stdout, stderr), asserting no key body in either.
fn run_clean(what: &str, cmd: &mut assert_cmd::Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    assert_no_secret(&format!("{what}: stdout"), &out.stdout);
    assert_no_secret(&format!("{what}: stderr"), &out.stderr);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A key in a file name is a finding (encoding `name`) and is redacted in every format,
/// in report files and in baselines.
#[test]
fn key_in_a_file_name_is_reported_and_redacted_everywhere() {
    let t = Tree::new();
    t.write(&format!("creds_{LIVE}.txt"), "nothing to see\n");
    t.write(&format!("dir-{TEST}/notes.md"), "plain\n");
    let (code, v) = t.scan_json(&[]);
    assert_eq!(code, 1, "{v}");
    let names: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["encoding"] == "name")
        .map(|f| f["redacted"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{v}");
    assert!(
        names.contains(&"mk_live_4eC3…p7dc".to_string()),
        "{names:?}"
    );
    assert_no_secret("json", v.to_string().as_bytes());
    for format in ["text", "json", "sarif"] {
        let (code, out, _) = run_clean(format, t.cmd().args(["scan", "--format", format]));
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("creds_mk_live_4eC3"), "{format}: {out}");
        let file = t.path().join(format!("out.{format}"));
        run_clean(
            "report file",
            t.cmd().args(["scan", "--format", format, "-o"]).arg(&file),
        );
        assert_no_secret("report file", &std::fs::read(&file).unwrap());
        std::fs::remove_file(&file).unwrap();
    }
    // SARIF stays valid: a name finding has a location without a region.
    let out = t
        .cmd()
        .args(["scan", "--format", "sarif"])
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    run_clean("baseline", t.cmd().args(["baseline", "-o", "base.json"]));
    let base = std::fs::read(t.path().join("base.json")).unwrap();
    assert_no_secret("baseline", &base);
    assert!(String::from_utf8_lossy(&base).contains("creds_mk_live_4eC3…p7dc.txt"));
}

/// Escape sequences and CR/LF in a file name reach no output raw: the name is shown with
/// visible escapes, so it can neither clear the screen nor hide the finding.
#[test]
fn terminal_escapes_in_file_names_are_made_visible() {
    let t = Tree::new();
    let name = "a\u{1b}[2J\u{1b}]0;pwned\u{7}\rb\nc.py";
    t.write(name, format!("k = '{LIVE2}'\n"));
    for format in ["text", "json", "sarif"] {
        let out = t.cmd().args(["scan", "--format", format]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        for bad in [0x1bu8, b'\r', 0x07] {
            assert!(
                !out.stdout.contains(&bad),
                "{format}: raw byte {bad:#x} in {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    let (_, text, _) = run_clean("text", t.cmd().arg("scan"));
    assert!(
        text.contains("a\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\rb\\nc.py"),
        "{text}"
    );
}

/// Keys in arguments, globs and paths come back redacted in clap's and our own errors.
#[test]
fn keys_in_arguments_are_not_echoed() {
    let t = Tree::new();
    t.write("a.txt", "x\n");
    let cases: Vec<Vec<String>> = vec![
        vec!["scan".into(), format!("--bogus={LIVE}")],
        vec!["scan".into(), "--exclude".into(), format!("[{LIVE}")],
        vec!["scan".into(), format!("missing-{LIVE}")],
        vec![
            "audit".into(),
            "--key-file".into(),
            format!("/nonexistent/{LIVE}"),
        ],
        vec!["scan".into(), "--rules".into(), format!("{TEST}.toml")],
        vec!["scan".into(), "--baseline".into(), format!("{TEST}.json")],
    ];
    for args in cases {
        let (code, _, err) = run_clean(&format!("{args:?}"), t.cmd().args(&args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        if !args[1].starts_with("--bogus") {
            assert!(
                err.contains("mk_"),
                "{args:?}: the redacted form is shown: {err}"
            );
        }
    }
}

/// A key or password pasted where an environment variable's name goes is refused by
/// `config check` without echoing it.
#[test]
fn secrets_in_name_fields_are_refused_without_echo() {
    let t = Tree::new();
    let password = "S3cr3t-Pa55w0rd!x";
    let configs = [
        format!("[audit]\nkey_env = \"{LIVE}\"\n"),
        format!(
            "[[notify.email]]\nname = \"m\"\nhost = \"localhost\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nusername = \"u\"\npassword = {{ env = \"{password}\" }}\n"
        ),
        format!(
            "[[daemon.workspace]]\nname = \"w\"\nschedule = \"@daily\"\nkey = {{ env = \"{TEST}\" }}\n"
        ),
        format!(
            "[[notify.email]]\nname = \"m\"\nhost = \"localhost\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\nusername = \"u\"\npassword = {{ credential = \"{password}\" }}\n"
        ),
    ];
    for (i, c) in configs.iter().enumerate() {
        let file = t.write(&format!("c{i}.toml"), c);
        let (code, out, err) = run_clean(
            &format!("config {i}"),
            t.cmd().args(["config", "check"]).arg(&file),
        );
        assert_eq!(code, Some(2), "config {i}: {out}{err}");
        assert!(
            !err.contains(password) && !err.contains("Pa55w0rd"),
            "{err}"
        );
        assert!(err.contains("looks like a secret"), "config {i}: {err}");
    }
}

/// Names the API supplies (workspace, key name, key id, creator) may hold keys, escape
/// sequences, CR/LF and megabytes: every audit format shows them redacted, inert, bounded,
/// and Markdown table rows stay one line each.
#[test]
fn hostile_api_names_are_redacted_escaped_and_bounded() {
    let t = Tree::new();
    let mut inv: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/inventory.json"),
        )
        .unwrap(),
    )
    .unwrap();
    inv["workspace"]["name"] = format!("Acme {LIVE} \u{1b}[2J{}", "W".repeat(100_000)).into();
    inv["data"][0]["name"] = format!("dash\r\n| x | {LIVE2} *bold* `code`\u{1b}]0;t\u{7}").into();
    inv["data"][1]["id"] = format!("key_{TEST}").into();
    inv["data"][0]["created_by"]["name"] = format!("Eve\u{1b}[31m {LIVE}").into();
    t.write("inv.json", inv.to_string());
    for format in ["text", "json", "markdown", "html"] {
        let out = t
            .cmd()
            .args([
                "audit",
                "--inventory",
                "inv.json",
                "--as-of",
                "2026-11-27T12:00:00Z",
            ])
            .args(["--format", format])
            .env_remove("MASK_API_KEY")
            .output()
            .unwrap();
        assert_no_secret(&format!("audit {format}"), &out.stdout);
        assert_no_secret(&format!("audit {format} stderr"), &out.stderr);
        assert!(!out.stdout.contains(&0x1b), "{format}: raw ESC");
        assert!(out.stdout.len() < 200_000, "{format}: the name is bounded");
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains("4eC3…p7dc"), "{format}: {s}");
        if format == "markdown" {
            for line in s.lines().filter(|l| l.starts_with('|')) {
                assert!(line.ends_with('|'), "a table row broke: {line:?}");
            }
        }
    }
}

/// `keywarden` with a deadline: a hang fails the test instead of stalling it.
fn bounded_run(what: &str, cmd: &mut assert_cmd::Command) -> (Option<i32>, String) {
    let out = cmd
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.code().is_some(), "{what}: killed (hang?): {err}");
    (out.status.code(), err)
}

/// Files the tool reads for itself that never end (a link to /dev/zero, a FIFO) are
/// refused at once with a clear error or a listed skip; none hangs or floods memory.
#[test]
fn endless_own_input_files_are_refused() {
    let r = crate::util::git::Repo::new();
    r.write("a.py", format!("k = '{LIVE}'\n"));
    r.commit_all("init");
    let link = |target: &str, at: &str| {
        let p = r.path().join(at);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(target, &p).unwrap();
    };
    // In a subdirectory: that directory is skipped with an error, the rest is scanned.
    link("/dev/zero", "sub/.gitignore");
    r.write("sub/b.py", "x\n");
    let (code, err) = bounded_run("sub", r.kw().args(["scan", "--format", "json"]));
    assert_eq!(code, Some(1), "the key in a.py is still found: {err}");
    assert!(err.contains("sub/.gitignore: not a regular file"), "{err}");
    std::fs::remove_file(r.path().join("sub/.gitignore")).unwrap();
    for name in [".gitignore", ".ignore", ".keywarden.toml"] {
        link("/dev/zero", name);
        for args in [&["scan"][..], &["scan", "--staged"][..]] {
            let (code, err) = bounded_run(name, r.kw().args(args));
            // `--staged` reads only the settings file of these, and finishes either way.
            if args.len() == 1 || name == ".keywarden.toml" {
                assert_eq!(code, Some(2), "{name} {args:?}: {err}");
                assert!(err.contains("not a regular file"), "{name} {args:?}: {err}");
            }
        }
        std::fs::remove_file(r.path().join(name)).unwrap();
    }
    let fifo = r.path().join(".ignore");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (code, err) = bounded_run("fifo", r.kw().arg("scan"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(".ignore: not a regular file"), "{err}");
    std::fs::remove_file(&fifo).unwrap();
    for args in [
        &["scan", "--rules", "/dev/zero", "a.py"][..],
        &["scan", "--baseline", "/dev/zero", "a.py"][..],
        &["audit", "--inventory", "/dev/zero"][..],
        &["report", "/dev/zero"][..],
    ] {
        let (code, err) = bounded_run(&format!("{args:?}"), r.kw().args(args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("/dev/zero: not a regular file"),
            "{args:?}: {err}"
        );
    }
    let (code, err) = bounded_run("-j", r.kw().args(["scan", "-j", "100000", "a.py"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at most 1024 threads"), "{err}");
}

/// Bad data from the API (or an inventory file) is repaired with a warning, never taken
/// silently: a key listed twice is counted once, a created_at in year 9999 does not let
/// a key escape rotation, a duplicated scope does not hide an over-scoped key.
#[test]
fn bad_api_data_is_warned_about_and_does_not_change_verdicts() {
    let t = Tree::new();
    let key = |id: &str, scopes: &[&str], created: &str| {
        serde_json::json!({
            "id": id, "name": format!("key {id}"), "environment": "live", "prefix": "mk_live_",
            "last_four": "abcd", "scopes": scopes, "created_at": created, "created_by": null,
            "last_used_at": "2026-11-26T00:00:00Z", "last_used_ip": null, "revoked_at": null,
            "expires_at": null
        })
    };
    let usage = |id: &str, scopes: &[&str]| {
        let s: Vec<_> = scopes
            .iter()
            .map(|s| serde_json::json!({"scope": s, "requests": 5}))
            .collect();
        serde_json::json!({"key_id": id, "since": "2026-08-29T12:00:00Z", "until": "2026-11-27T12:00:00Z", "scopes": s})
    };
    let inv = serde_json::json!({
        "workspace": {"id": "ws_1", "name": "W"},
        "data": [
            key("key_dup", &["links:read"], "2026-10-01T00:00:00Z"),
            key("key_dup", &["links:read"], "2026-10-01T00:00:00Z"),
            key("key_future", &["links:read"], "9999-01-01T00:00:00Z"),
            key("key_scopes", &["links:read", "links:write", "links:write"], "2026-01-01T00:00:00Z"),
        ],
        "usage": [
            usage("key_dup", &["links:read"]),
            usage("key_future", &["links:read"]),
            usage("key_scopes", &["links:read", "links:read"]),
        ],
    });
    t.write("inv.json", inv.to_string());
    let out = t
        .cmd()
        .args([
            "audit",
            "--inventory",
            "inv.json",
            "--as-of",
            "2026-11-27T12:00:00Z",
            "--format",
            "json",
        ])
        .env_remove("MASK_API_KEY")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("more than once (key_dup)"), "{warnings}");
    assert!(
        warnings.contains("key_future") && warnings.contains("in the future"),
        "{warnings}"
    );
    assert!(
        warnings.contains("key_scopes") && warnings.contains("scope more than once"),
        "{warnings}"
    );
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(
        keys.iter().filter(|k| k["id"] == "key_dup").count(),
        1,
        "{v}"
    );
    let kinds = |id: &str| -> Vec<String> {
        keys.iter().find(|k| k["id"] == id).unwrap()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        kinds("key_future").contains(&"rotation-overdue".to_string()),
        "{v}"
    );
    assert!(
        kinds("key_scopes").iter().any(|k| k.contains("scope")),
        "{v}"
    );
}

/// Every other way a key typed or planted by someone comes back out: a rules file's
/// text and `rules list`, revisions in JSON's `selection`, a tampered `redacted` field
/// in `keywarden report`, a key in the API URL's path. All pass the one choke point.
#[test]
fn keys_in_rules_revisions_reports_and_urls_come_back_redacted() {
    let r = crate::util::git::Repo::new();
    r.write("a.txt", "x\n");
    r.commit_all("init");
    let rules = format!(
        "version = 1\n[[rule]]\nid = \"acme.key\"\nname = \"Acme {LIVE}\"\ndescription = \"{LIVE2}\"\nenvironment = \"live\"\nprefix = \"acme_\"\nbody = \"[a-z]{{12}}\"\nseverity = {{ default = \"high\" }}\nfix = {{ default = \"rotate\" }}\n"
    );
    r.write("rules.toml", &rules);
    r.write("bad-rules.toml", format!("{rules}\nbroken = [\"{TEST}\"\n"));
    let scan = |args: &[&str]| {
        let mut c = r.kw();
        c.args(args);
        run_clean(&format!("{args:?}"), &mut c)
    };
    let (_, out, _) = scan(&["rules", "list", "--rules", "rules.toml"]);
    assert!(out.contains("acme.key"), "{out}");
    let (code, _, _) = scan(&["rules", "check", "bad-rules.toml"]);
    assert_eq!(code, Some(2));
    let (_, out, err) = scan(&["scan", "--since", LIVE, "--format", "json"]);
    assert!(
        out.contains("mk_live_4eC3…p7dc") || err.contains("mk_live_4eC3…p7dc"),
        "{out}{err}"
    );
    let (_, out, _) = scan(&["scan", "--format", "json", "a.txt"]);
    let tampered = out.replace("\"files\"", &format!("\"redacted\": \"{LIVE}\", \"files\""));
    let tampered = serde_json::json!({
        "version": 1, "findings": [{"rule": "mask.live-key", "severity": "high", "context": "source",
        "path": format!("p/{TEST}"), "line": 1, "column": 1, "offset": 0, "binary": false,
        "encoding": "plain", "environment": "live", "redacted": LIVE, "last_four": "p7dc",
        "fingerprint": "a".repeat(64), "fix": LIVE2, "suppressed": null}],
        "summary": serde_json::from_str::<serde_json::Value>(&tampered).map(|v| v["summary"].clone()).unwrap_or_default(),
    });
    r.write("tampered.json", tampered.to_string());
    for f in ["text", "markdown", "html"] {
        scan(&["report", "tampered.json", "--format", f]);
    }
    let mut c = r.kw();
    c.args(["audit", "--api-url"])
        .arg(format!("http://127.0.0.1:9/{LIVE}/v1"))
        .env("MASK_API_KEY", LIVE2);
    let (code, _, err) = run_clean("api url", &mut c);
    assert_eq!(code, Some(2), "{err}");
}

mod fuzz {
    //! The parsers of what users and servers hand us (service config, repository config,
    //! rules files, API JSON) never panic, and their errors, as the binary prints them,
    //! never carry a secret-looking value planted anywhere in the input.
    use keywarden::redact::scrub;
    use proptest::prelude::*;
    use std::path::Path;

    /// A made-up key and a made-up password; the tests look for their bodies.
    const KEY: &str = "mk_live_Rt5Yu8Io2Pa4Sd6Fg9Hj3Kl7";
    const PASSWORD: &str = "Qw3#rT9!zX7@vB2$";

    const SERVICE: &[&str] = &[
        "[audit]\nkey_env = \"{}\"\n",
        "[audit]\napi_url = \"{}\"\n",
        "[audit]\ninactive_days = \"{}\"\n",
        "[[notify.email]]\nname = \"m\"\nhost = \"{}\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
        "[[notify.email]]\nname = \"m\"\nhost = \"h\"\nfrom = \"{}\"\nto = [\"d@e.f\"]\npassword = { env = \"{}\" }\n",
        "[[notify.webhook]]\nname = \"w\"\nurl = { env = \"{}\" }\nevents = [\"{}\"]\n",
        "[[daemon.workspace]]\nname = \"w\"\nschedule = \"{}\"\nkey = { env = \"{}\" }\n",
        "[daemon]\ntime_zone = \"{}\"\n",
        "[{}]\n",
        "{} = 1\n",
    ];
    const REPO: &[&str] = &[
        "[[allow]]\nfingerprints = [\"{}\"]\n",
        "[[allow]]\npaths = [\"{}\"]\nreason = \"r\"\n",
        "[scan]\nexclude = [\"{}\"]\n",
        "[[allow]]\npaths = [\"a\"]\nuntil = \"{}\"\n",
    ];
    const RULES: &[&str] = &[
        "version = 1\n[[rule]]\nid = \"{}\"\n",
        "version = 1\n[[rule]]\nid = \"a.b\"\nname = \"n\"\ndescription = \"d\"\nenvironment = \"live\"\nprefix = \"{}\"\nbody = \"{}\"\n",
        "version = {}\n",
    ];

    fn secret() -> impl Strategy<Value = String> {
        prop_oneof![Just(KEY.to_string()), Just(PASSWORD.to_string())]
    }

    fn fill(template: &str, values: &[String], noise: &str) -> String {
        let mut out = String::new();
        let mut parts = template.split("{}");
        out.push_str(parts.next().unwrap_or_default());
        for (i, p) in parts.enumerate() {
            out.push_str(values.get(i).map_or(noise, |s| s.as_str()));
            out.push_str(p);
        }
        out
    }

    /// The error text as the binary would print it: keys are scrubbed at the choke point;
    /// other secrets must not be in it at all.
    fn check_error(e: impl std::fmt::Display) -> Result<(), TestCaseError> {
        let text = scrub(&e.to_string()).into_owned();
        prop_assert!(!text.contains(&KEY[8..]), "key in: {}", text);
        prop_assert!(!text.contains(PASSWORD), "password in: {}", text);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn config_and_rules_parsers_never_panic_or_echo_secrets(
            which in 0..(SERVICE.len() + REPO.len() + RULES.len()),
            values in proptest::collection::vec(secret(), 0..3),
            noise in "[ -~\\n]{0,12}",
            cut in 0usize..200,
        ) {
            let (set, i) = if which < SERVICE.len() {
                (SERVICE, which)
            } else if which < SERVICE.len() + REPO.len() {
                (REPO, which - SERVICE.len())
            } else {
                (RULES, which - SERVICE.len() - REPO.len())
            };
            let mut text = fill(set[i], &values, &noise);
            // Truncated input too: a config cut mid-string.
            if cut < text.len() && text.is_char_boundary(cut) && cut % 3 == 0 {
                text.truncate(cut);
            }
            let path = Path::new("k.toml");
            if which < SERVICE.len() {
                if let Err(e) = keywarden::service_config::LoadedConfig::parse(path, text.clone()) {
                    check_error(e)?;
                }
            } else if which < SERVICE.len() + REPO.len() {
                if let Err(e) = keywarden::config::RepoConfig::parse(path, &text) {
                    check_error(e)?;
                }
            } else if let Err(e) = keywarden::rules::Source::parse("rules.toml", &text) {
                check_error(e)?;
            }
        }

        #[test]
        fn api_json_never_panics_and_names_come_out_clean(
            name in "[\\x00-\\x7f]{0,40}",
            with_key in any::<bool>(),
            cut in 0usize..400,
        ) {
            let name = if with_key { format!("{name}{KEY}") } else { name };
            let page = serde_json::json!({"data": [{
                "id": "key_1", "name": name, "environment": "live", "prefix": "mk_live_",
                "last_four": "abcd", "scopes": ["links:read"], "created_at": "2026-01-01T00:00:00Z",
            }], "has_more": false}).to_string();
            let parsed: Result<keywarden::mask::ApiKeyList, _> = serde_json::from_str(&page);
            let list = parsed.expect("a well-formed page parses");
            let shown = &list.data[0].name;
            prop_assert!(!shown.contains(&KEY[8..]), "{}", shown);
            prop_assert!(!shown.chars().any(char::is_control), "{:?}", shown);
            let cut = cut.min(page.len());
            if page.is_char_boundary(cut) {
                let r: Result<keywarden::mask::ApiKeyList, _> = serde_json::from_str(&page[..cut]);
                if let Err(e) = r {
                    check_error(e)?;
                }
            }
        }
    }
}

/// A lower-case secret (not key-shaped, so `config check` takes it as a name) pasted
/// where a variable, file or credential name goes is never echoed: not by the CLI, the
/// daemon's log, the run records and `status`, the state file, nor outage webhooks.
#[test]
fn a_secret_pasted_as_a_name_is_never_echoed() {
    use crate::daemon::{Daemon, eventually};
    use crate::notify::{Receiver, webhook_toml};
    const PASTED: &str = "hunter2hunter2";
    let t = Tree::new();
    let rx = Receiver::start(&[], 200);
    let config = t.write(
        "etc/keywarden.toml",
        format!(
            "[state]\npath = \"state/kw.db\"\n\n[audit]\nkey_env = \"{PASTED}\"\n\n[daemon]\noutage_after_failures = 1\n\n[[daemon.workspace]]\nname = \"w\"\nschedule = \"* * * * * *\"\napi_url = \"http://127.0.0.1:9/v1\"\nkey = {{ env = \"{PASTED}\" }}\n\n[[notify.email]]\nname = \"m\"\nhost = \"127.0.0.1\"\nport = 9\nfrom = \"a@example.com\"\nto = [\"d@example.com\"]\nusername = \"u\"\npassword = {{ file = \"{PASTED}\" }}\n\n[[notify.email]]\nname = \"c\"\nhost = \"127.0.0.1\"\nport = 9\nfrom = \"a@example.com\"\nto = [\"d@example.com\"]\nusername = \"u\"\npassword = {{ credential = \"{PASTED}\" }}\n\n{}",
            webhook_toml("hooks", "KW_TEST_WEBHOOK_URL", "")
        ),
    );
    let clean = |what: &str, bytes: &[u8]| {
        let s = String::from_utf8_lossy(bytes);
        assert!(!s.contains(PASTED), "{what} echoes the pasted secret:\n{s}");
    };
    let out = t
        .cmd()
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    clean("config check", &[out.stdout, out.stderr].concat());
    let out = t
        .cmd()
        .args(["audit", "--config"])
        .arg(&config)
        .env_remove("MASK_API_KEY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    clean("audit", err.as_bytes());
    assert!(err.contains("named by [audit] key_env"), "{err}");
    assert!(err.contains("pasted the secret itself"), "{err}");

    let env = [
        ("KW_TEST_WEBHOOK_URL", rx.url.as_str()),
        ("KW_TEST_WEBHOOK_SECRET", crate::notify::WEBHOOK_SECRETS),
        ("CREDENTIALS_DIRECTORY", "/nonexistent-credentials"),
    ];
    let mut d = Daemon::start(&t, &config, &env, 1);
    d.expect("READY=1");
    let notice = eventually("the outage webhook", || {
        rx.requests()
            .into_iter()
            .find(|r| r.status == 200 && r.json()["type"] == "keywarden.outage")
    });
    let detail = notice.json()["data"]["detail"].to_string();
    assert!(detail.contains("daemon.workspace[w].key"), "{detail}");
    eventually("both email channels skipped", || {
        let log = d.log_text();
        (log.contains("channel m skipped") && log.contains("channel c skipped")).then_some(())
    });
    let status = t
        .cmd()
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    d.signal("-TERM");
    assert_eq!(d.wait(), Some(0));
    let log = d.log_text();
    assert!(log.contains("not a conventional name"), "{log}");
    clean("daemon log", log.as_bytes());
    clean("status", &[status.stdout, status.stderr].concat());
    for r in rx.requests() {
        clean("webhook", &r.body);
    }
    for f in ["kw.db", "kw.db-wal"] {
        if let Ok(bytes) = std::fs::read(t.path().join("etc/state").join(f)) {
            clean(f, &bytes);
        }
    }
}
