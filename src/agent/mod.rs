//! Coding-agent hooks: what a Claude Code, Cursor or other agent hook payload asks to do,
//! and which of its text could carry a key.
//!
//! Agents run a command before a tool call (write a file, edit one, run a shell command,
//! read a file) or before a prompt goes to the model, with the call as JSON on stdin. This
//! module turns that JSON into [`Piece`]s of text to scan; `commands::agent_hook` scans
//! them and answers in the agent's protocol. [`install`] writes the agents' settings.
//!
//! Protocols followed (each agent's hooks reference):
//! - Claude Code: `PreToolUse` (`tool_name`, `tool_input`) and `UserPromptSubmit`
//!   (`prompt`); exit code 2 blocks the call and stderr is what Claude sees.
//! - Cursor: `.cursor/hooks.json`, `beforeShellExecution` (`command`),
//!   `beforeMCPExecution` (`tool_input`), `beforeReadFile` (`file_path`, `content`),
//!   `beforeSubmitPrompt` (`prompt`), `afterFileEdit` (`edits[].new_string`, cannot
//!   block); the answer is JSON on stdout (`permission`, `continue`).
//! - Generic: any JSON; every string in it is scanned; exit code 2 blocks.

pub mod install;

use serde_json::Value;

/// Which agent's protocol to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Agent {
    /// Claude Code (`.claude/settings.local.json`; PreToolUse, UserPromptSubmit).
    ClaudeCode,
    /// Cursor (`.cursor/hooks.json`; beforeShellExecution, beforeReadFile, …).
    Cursor,
    /// Any agent that runs a command with JSON on stdin and blocks on exit code 2.
    Generic,
}

impl Agent {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Cursor => "cursor",
            Agent::Generic => "generic",
        }
    }
}

/// A piece of text from the payload to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// What it is, for the message: `Write content`, `Bash command`, `prompt`.
    pub what: String,
    /// The path its keys are classified under (the file being written, or a name such
    /// as `<prompt>`).
    pub path: String,
    /// The text.
    pub text: String,
}

/// What the hook was called for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The event name (`PreToolUse`, `beforeShellExecution`, …; `generic`).
    pub event: String,
    /// The text to scan.
    pub pieces: Vec<Piece>,
}

/// Fields that hold text being replaced, not written: removing a key must stay possible.
const OLD_TEXT: [&str; 3] = ["old_string", "old_str", "old_source"];

/// Reads the payload of `agent`. Unknown events and tools give no pieces (allowed).
pub fn parse(agent: Agent, payload: &Value) -> Call {
    let event = payload
        .get("hook_event_name")
        .and_then(Value::as_str)
        .unwrap_or("generic")
        .to_string();
    let cwd = payload.get("cwd").and_then(Value::as_str).or_else(|| {
        payload
            .get("workspace_roots")
            .and_then(|r| r.get(0))
            .and_then(Value::as_str)
    });
    let mut pieces = Vec::new();
    let str_of = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
    match (agent, event.as_str()) {
        (Agent::ClaudeCode, "PreToolUse") => {
            let tool = str_of("tool_name").unwrap_or_else(|| "tool".into());
            if let Some(input) = payload.get("tool_input") {
                let path = input
                    .get("file_path")
                    .or_else(|| input.get("notebook_path"))
                    .and_then(Value::as_str)
                    .map(|p| relative(p, cwd))
                    .unwrap_or_else(|| format!("<{tool}>"));
                leaves(input, &tool, &path, &mut pieces);
            }
        }
        (Agent::ClaudeCode, "UserPromptSubmit") | (Agent::Cursor, "beforeSubmitPrompt") => {
            if let Some(p) = str_of("prompt") {
                pieces.push(piece("prompt", "<prompt>", p));
            }
        }
        (Agent::Cursor, "beforeShellExecution") => {
            if let Some(c) = str_of("command") {
                pieces.push(piece("shell command", "<shell>", c));
            }
        }
        (Agent::Cursor, "beforeMCPExecution") => {
            let tool = str_of("tool_name").unwrap_or_else(|| "MCP tool".into());
            if let Some(input) = payload.get("tool_input") {
                leaves(input, &tool, &format!("<{tool}>"), &mut pieces);
            }
        }
        (Agent::Cursor, "beforeReadFile") => {
            let path = str_of("file_path").map_or_else(|| "<file>".into(), |p| relative(&p, cwd));
            if let Some(c) = str_of("content") {
                pieces.push(piece("file content", &path, c));
            }
        }
        (Agent::Cursor, "afterFileEdit") => {
            let path = str_of("file_path").map_or_else(|| "<file>".into(), |p| relative(&p, cwd));
            for e in payload
                .get("edits")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(s) = e.get("new_string").and_then(Value::as_str) {
                    pieces.push(piece("edit", &path, s.to_string()));
                }
            }
        }
        (Agent::Generic, _) => {
            let path = ["file_path", "path"]
                .iter()
                .find_map(|k| payload.get(*k).and_then(Value::as_str))
                .map_or_else(|| "<hook input>".into(), |p| relative(p, cwd));
            leaves(payload, "hook input", &path, &mut pieces);
        }
        _ => {}
    }
    Call { event, pieces }
}

fn piece(what: &str, path: &str, text: String) -> Piece {
    Piece {
        what: what.to_string(),
        path: path.to_string(),
        text,
    }
}

/// Every string under `v` (a tool's input), except text being replaced.
fn leaves(v: &Value, tool: &str, path: &str, out: &mut Vec<Piece>) {
    fn walk(v: &Value, field: &str, tool: &str, path: &str, out: &mut Vec<Piece>) {
        match v {
            Value::String(s) => out.push(piece(&format!("{tool} {field}"), path, s.clone())),
            // MCP tool inputs can be JSON inside a string: scanning the string covers it.
            Value::Array(a) => a.iter().for_each(|x| walk(x, field, tool, path, out)),
            Value::Object(m) => {
                // An object naming a file classifies the text under it by that file.
                let named = ["file_path", "path"]
                    .iter()
                    .find_map(|k| m.get(*k).and_then(Value::as_str));
                let path = named.map_or(path, |p| if path.starts_with('<') { p } else { path });
                for (k, x) in m {
                    if !OLD_TEXT.contains(&k.as_str()) {
                        walk(x, k, tool, path, out);
                    }
                }
            }
            _ => {}
        }
    }
    walk(v, "input", tool, path, out);
}

/// `file` relative to the agent's working directory when it is inside it, so that path
/// contexts (tests/, public/, .env.production) apply as they do in `keywarden scan`.
fn relative(file: &str, cwd: Option<&str>) -> String {
    cwd.and_then(|c| std::path::Path::new(file).strip_prefix(c).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| file.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claude_edit_scans_the_new_text_not_the_old() {
        let call = parse(
            Agent::ClaudeCode,
            &json!({"hook_event_name": "PreToolUse", "cwd": "/p", "tool_name": "Edit",
                    "tool_input": {"file_path": "/p/src/app.js", "old_string": "OLD", "new_string": "NEW"}}),
        );
        assert_eq!(call.pieces.len(), 2, "{call:?}");
        assert!(
            call.pieces
                .iter()
                .any(|p| p.text == "NEW" && p.path == "src/app.js")
        );
        assert!(call.pieces.iter().all(|p| p.text != "OLD"));
    }

    #[test]
    fn unknown_events_give_nothing_to_scan() {
        let call = parse(
            Agent::ClaudeCode,
            &json!({"hook_event_name": "Stop", "prompt": "x"}),
        );
        assert!(call.pieces.is_empty());
        let call = parse(Agent::Cursor, &json!({"hook_event_name": "stop"}));
        assert!(call.pieces.is_empty());
    }

    #[test]
    fn paths_outside_the_working_directory_stay_absolute() {
        assert_eq!(relative("/a/b.txt", Some("/p")), "/a/b.txt");
        assert_eq!(relative("/p/b.txt", Some("/p")), "b.txt");
        assert_eq!(relative("b.txt", None), "b.txt");
    }
}
