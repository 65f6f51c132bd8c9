//! `keywarden hook check|install --agent`: recorded Claude Code, Cursor and generic hook
//! payloads (tests/data/agent/, `{{KEY}}` replaced by a key made up at test time), and
//! installed hooks run the way the agents run them.

use crate::util::git::Repo;
use crate::util::*;
use std::path::Path;

/// A live or test key with a random body, made up for this run.
fn made_up_key(env: &str) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let body: String = (0..24)
        .map(|_| ALNUM[rand::random_range(0..ALNUM.len())] as char)
        .collect();
    format!("mk_{env}_{body}")
}

fn payload(name: &str, key: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/agent")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .replace("{{KEY}}", key)
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn check(agent: &str, input: &str) -> Ran {
    let out = Tree::new()
        .cmd()
        .args(["hook", "check", "--agent", agent])
        .write_stdin(input)
        .output()
        .unwrap();
    Ran {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn assert_redacted(r: &Ran, key: &str) {
    assert!(
        !r.stdout.contains(&key[8..]),
        "stdout leaks the key: {}",
        r.stdout
    );
    assert!(
        !r.stderr.contains(&key[8..]),
        "stderr leaks the key: {}",
        r.stderr
    );
    let redacted = format!("{}…{}", &key[..12], &key[key.len() - 4..]);
    assert!(
        r.stdout.contains(&redacted) || r.stderr.contains(&redacted),
        "no {redacted} in the message:\n{}{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn claude_code_blocks_tool_calls_and_prompts_that_hold_a_key_with_exit_2() {
    for (file, what) in [
        ("claude-write.json", "Write content"),
        ("claude-edit.json", "Edit new_string"),
        ("claude-multiedit.json", "MultiEdit new_string"),
        ("claude-bash.json", "Bash command"),
        ("claude-prompt.json", "prompt"),
    ] {
        let key = made_up_key("live");
        let r = check("claude-code", &payload(file, &key));
        assert_eq!(r.code, 2, "{file} not blocked: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{file}: {}", r.stdout);
        assert!(
            r.stderr.starts_with("keywarden blocked this "),
            "{file}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(what), "{file}: {}", r.stderr);
        assert!(r.stderr.contains("MASK_API_KEY"), "{file}: {}", r.stderr);
        assert_redacted(&r, &key);
    }
    // A live key written to browser code is critical and named with its file.
    let r = check(
        "claude-code",
        &payload("claude-write.json", &made_up_key("live")),
    );
    assert!(
        r.stderr.contains("critical in web/public/mask.js, line 2"),
        "{}",
        r.stderr
    );
}

#[test]
fn claude_code_allows_clean_calls_and_removing_a_key() {
    let key = made_up_key("live");
    let r = check(
        "claude-code",
        &payload("claude-edit-removes-key.json", &key),
    );
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    for file in [
        "claude-write.json",
        "claude-bash.json",
        "claude-prompt.json",
    ] {
        let r = check("claude-code", &payload(file, "process.env.MASK_KEY"));
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (0, "", ""),
            "{file}"
        );
    }
    // Placeholders and lines marked keywarden:allow are not keys to block.
    let r = check(
        "claude-code",
        &payload("claude-write.json", "mk_live_XXXXXXXXXXXXXXXXXXXXXXXX"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let marked = format!("{} keywarden:allow doc example", made_up_key("test"));
    let r = check("claude-code", &payload("claude-write.json", &marked));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn cursor_gets_its_answers_as_json_on_stdout() {
    let key = made_up_key("test");
    let json = |r: &Ran| -> serde_json::Value {
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
    };
    let shell = check("cursor", &payload("cursor-shell.json", &key));
    let v = json(&shell);
    assert_eq!(v["permission"], "deny");
    assert!(
        v["agent_message"]
            .as_str()
            .unwrap()
            .contains("shell command")
    );
    assert_redacted(&shell, &key);
    let mcp = check("cursor", &payload("cursor-mcp.json", &key));
    assert_eq!(json(&mcp)["permission"], "deny");
    let read = check("cursor", &payload("cursor-read.json", &key));
    assert_eq!(json(&read), serde_json::json!({"permission": "deny"}));
    let prompt = check("cursor", &payload("cursor-prompt.json", &key));
    let v = json(&prompt);
    assert_eq!(v["continue"], false);
    assert_redacted(&prompt, &key);
    // afterFileEdit cannot block: an empty answer and a warning in the hook log.
    let edit = check("cursor", &payload("cursor-after-edit.json", &key));
    assert_eq!(json(&edit), serde_json::json!({}));
    assert_redacted(&edit, &key);

    let clean = |f: &str| json(&check("cursor", &payload(f, "$MASK_KEY")));
    assert_eq!(
        clean("cursor-shell.json"),
        serde_json::json!({"permission": "allow"})
    );
    assert_eq!(
        clean("cursor-read.json"),
        serde_json::json!({"permission": "allow"})
    );
    assert_eq!(
        clean("cursor-prompt.json"),
        serde_json::json!({"continue": true})
    );
}

#[test]
fn generic_scans_every_string_and_broken_input_fails_closed() {
    let key = made_up_key("live");
    let r = check("generic", &payload("generic.json", &key));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("in deploy/values.yaml"), "{}", r.stderr);
    assert_redacted(&r, &key);
    assert_eq!(check("generic", &payload("generic.json", "none")).code, 0);
    let broken = check("claude-code", "{\"hook_event_name\": \"PreToolUse\", ");
    assert_eq!(broken.code, 2);
    assert!(
        broken.stderr.contains("could not check this call"),
        "{}",
        broken.stderr
    );
    let broken = check("cursor", "not json");
    let v: serde_json::Value = serde_json::from_str(&broken.stdout).unwrap();
    assert_eq!(
        (v["permission"].as_str(), v["continue"].as_bool()),
        (Some("deny"), Some(false))
    );
}

/// Runs the installed hook's command with `sh -c`, as the agents do, with `input` on stdin.
fn run_installed(command: &str, dir: &Path, input: &str) -> (i32, String, String) {
    let out = assert_cmd::Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .write_stdin(input)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn installed_claude_code_hooks_block_and_uninstall_leaves_the_rest() {
    let repo = Repo::new();
    repo.write(
        ".claude/settings.local.json",
        r#"{"permissions": {"allow": ["Bash(npm test)"]}}"#,
    );
    repo.write("web/src/.keep", "");
    let out = repo
        .kw_in("web/src")
        .args(["hook", "install", "--agent", "claude-code"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(".claude/settings.local.json"), "{said}");
    let settings_path = repo.path().join(".claude/settings.local.json");
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings_path).unwrap()).unwrap();
    assert_eq!(settings["permissions"]["allow"][0], "Bash(npm test)");
    let pre = &settings["hooks"]["PreToolUse"][0];
    assert!(pre["matcher"].as_str().unwrap().contains("Write|Edit"));
    let command = pre["hooks"][0]["command"].as_str().unwrap();
    assert_eq!(
        settings["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
        command
    );
    let key = made_up_key("live");
    let (code, _, err) = run_installed(command, repo.path(), &payload("claude-bash.json", &key));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keywarden blocked this call"), "{err}");
    let (code, _, _) = run_installed(
        command,
        repo.path(),
        &payload("claude-bash.json", "$MASK_KEY"),
    );
    assert_eq!(code, 0);

    let out = repo
        .kw()
        .args(["hook", "uninstall", "--agent", "claude-code"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings_path).unwrap()).unwrap();
    assert_eq!(
        settings,
        serde_json::json!({"permissions": {"allow": ["Bash(npm test)"]}})
    );
}

#[test]
fn installed_cursor_hooks_answer_in_json() {
    let repo = Repo::new();
    let out = repo
        .kw()
        .args(["hook", "install", "--agent", "cursor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let path = repo.path().join(".cursor/hooks.json");
    let hooks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(hooks["version"], 1);
    let command = hooks["hooks"]["beforeShellExecution"][0]["command"]
        .as_str()
        .unwrap();
    for event in [
        "beforeReadFile",
        "beforeSubmitPrompt",
        "beforeMCPExecution",
        "afterFileEdit",
    ] {
        assert_eq!(hooks["hooks"][event][0]["command"], command, "{event}");
    }
    let key = made_up_key("live");
    let (code, out, _) = run_installed(command, repo.path(), &payload("cursor-shell.json", &key));
    assert_eq!(code, 0);
    assert!(out.contains("\"permission\":\"deny\""), "{out}");
    assert!(!out.contains(&key[8..]));
    repo.kw()
        .args(["hook", "uninstall", "--agent", "cursor"])
        .assert()
        .success();
    assert!(!path.exists());
    // generic has no settings file: a usage error that says what to configure.
    let out = repo
        .kw()
        .args(["hook", "install", "--agent", "generic"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hook check --agent generic"));
}
