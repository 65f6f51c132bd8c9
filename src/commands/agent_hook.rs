//! `keywarden hook check --agent NAME`: a coding agent's hook. Reads the hook's JSON on
//! stdin, scans the text the call would write, run or send, and answers in the agent's
//! protocol (see [`crate::agent`]).

use super::{Exit, emit};
use crate::agent::{self, Agent, Call};
use crate::error::Result;
use crate::finding::{Exposure, Finding, Severity};
use crate::scan::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};

/// Payloads larger than this are read up to it; a key is never that far into a tool call.
const MAX_PAYLOAD: u64 = 64 * 1024 * 1024;

/// Runs the hook: reads stdin, writes the answer to `out` (and the reason to stderr).
pub fn run(a: Agent, fail_on: Severity, out: &mut dyn Write) -> Result<Exit> {
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD)
        .read_to_end(&mut raw);
    let payload = match read {
        Ok(_) => serde_json::from_slice::<Value>(&raw)
            .map_err(|e| format!("the hook input is not JSON ({e})")),
        Err(e) => Err(format!("cannot read the hook input on stdin ({e})")),
    };
    let payload = match payload {
        Ok(p) => p,
        // A hook that fails open lets keys through: refuse, and say why.
        Err(why) => {
            let msg = format!(
                "keywarden could not check this call: {why}; it is blocked until the hook works (check `keywarden hook check --agent {}`)",
                a.as_str()
            );
            return answer(a, "", Some(&msg), out);
        }
    };
    let call = agent::parse(a, &payload);
    let engine = Engine::new(crate::rules::load(Vec::new())?)?;
    let found = scan(&engine, &call);
    let blocking: Vec<&(String, Finding)> = found
        .iter()
        .filter(|(_, f)| f.is_active() && f.severity >= fail_on)
        .collect();
    if blocking.is_empty() {
        return answer(a, &call.event, None, out);
    }
    let msg = message(&call.event, &blocking);
    answer(a, &call.event, Some(&msg), out)
}

/// The findings of every piece, each with what the piece was.
fn scan(engine: &Engine, call: &Call) -> Vec<(String, Finding)> {
    let mut scanner = engine.file_scanner();
    let mut found = Vec::new();
    for piece in &call.pieces {
        let Ok(outcome) = scanner.scan(&piece.path, &mut piece.text.as_bytes()) else {
            continue;
        };
        let mut findings = Vec::new();
        engine.findings(
            &piece.path,
            outcome,
            Exposure::OutsideGit,
            &mut findings,
            &mut Vec::new(),
        );
        found.extend(findings.into_iter().map(|f| (piece.what.clone(), f)));
    }
    found
}

/// What the agent (and the user) read: which key, where, and what to do instead. Only
/// redacted keys.
fn message(event: &str, blocking: &[&(String, Finding)]) -> String {
    let mut m = format!(
        "keywarden blocked this {}: it holds {}:",
        if matches!(event, "UserPromptSubmit" | "beforeSubmitPrompt") {
            "prompt"
        } else {
            "call"
        },
        if blocking.len() == 1 {
            "a MASK API key".to_string()
        } else {
            format!("{} MASK API keys", blocking.len())
        }
    );
    for (what, f) in blocking {
        let place = if f.path.starts_with('<') {
            String::new()
        } else {
            format!(" in {}", f.path)
        };
        m.push_str(&format!(
            "\n  {} ({}, {}{place}, line {} of the {what})",
            f.redacted, f.rule, f.severity, f.line
        ));
    }
    m.push_str(
        "\nDo not put keys in files, commands or prompts: read the key from an environment \
         variable (such as MASK_API_KEY) or a secrets manager at run time. A real key that \
         reached the agent may already be in its logs: rotate it in Settings → API Keys. If \
         this is a made-up example, use a placeholder (mk_live_XXXXXXXX) or mark the line \
         with a `keywarden:allow` comment.",
    );
    m
}

/// Answers `event` for agent `a`: allow when `block` is `None`.
fn answer(a: Agent, event: &str, block: Option<&str>, out: &mut dyn Write) -> Result<Exit> {
    match a {
        Agent::ClaudeCode | Agent::Generic => {
            let Some(msg) = block else {
                return Ok(Exit::Clean);
            };
            // Exit code 2 blocks; stderr is what the agent reads.
            let _ = writeln!(std::io::stderr().lock(), "{msg}");
            Ok(Exit::Error)
        }
        Agent::Cursor => {
            let doc = cursor_answer(event, block);
            emit(|| writeln!(out, "{doc}"))?;
            Ok(Exit::Clean)
        }
    }
}

/// Cursor reads its answer from stdout; the shape depends on the event.
fn cursor_answer(event: &str, block: Option<&str>) -> Value {
    match (event, block) {
        ("beforeSubmitPrompt", None) => json!({"continue": true}),
        ("beforeSubmitPrompt", Some(m)) => json!({"continue": false, "user_message": m}),
        ("beforeShellExecution" | "beforeMCPExecution", None) => json!({"permission": "allow"}),
        ("beforeShellExecution" | "beforeMCPExecution", Some(m)) => {
            json!({"permission": "deny", "user_message": m, "agent_message": m})
        }
        ("beforeReadFile", None) => json!({"permission": "allow"}),
        ("beforeReadFile", Some(_)) => json!({"permission": "deny"}),
        // afterFileEdit cannot block: warn on stderr (Cursor's hook log) and answer {}.
        ("afterFileEdit", Some(m)) => {
            let _ = writeln!(std::io::stderr().lock(), "{m}");
            json!({})
        }
        // Unreadable input: the event is unknown, so deny in every shape Cursor reads.
        ("", Some(m)) => {
            json!({"permission": "deny", "continue": false, "user_message": m, "agent_message": m})
        }
        _ => json!({}),
    }
}
