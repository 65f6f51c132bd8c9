//! Writing and removing keywarden's entries in an agent's hook settings, leaving every
//! other setting and hook as it was.
//!
//! - Claude Code: `.claude/settings.local.json` (personal, not committed): a `PreToolUse`
//!   hook on the tools that write files, run commands or call MCP servers, and a
//!   `UserPromptSubmit` hook.
//! - Cursor: `.cursor/hooks.json`: `beforeShellExecution`, `beforeMCPExecution`,
//!   `beforeReadFile`, `beforeSubmitPrompt` and `afterFileEdit`.
//!
//! An entry is ours when its command runs `hook check --agent NAME`.

use super::Agent;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Claude Code tools whose input can carry a key into a file, a command or a server.
pub const CLAUDE_TOOLS: &str = "Write|Edit|MultiEdit|NotebookEdit|Bash|WebFetch|mcp__.*";

/// Cursor events keywarden hooks.
pub const CURSOR_EVENTS: [&str; 5] = [
    "beforeShellExecution",
    "beforeMCPExecution",
    "beforeReadFile",
    "beforeSubmitPrompt",
    "afterFileEdit",
];

/// The settings file of `agent` under the project directory `top`.
pub fn settings_path(agent: Agent, top: &Path) -> Result<PathBuf> {
    match agent {
        Agent::ClaudeCode => Ok(top.join(".claude").join("settings.local.json")),
        Agent::Cursor => Ok(top.join(".cursor").join("hooks.json")),
        Agent::Generic => Err(Error::Usage(
            "--agent generic has no settings file to write\n  hint: configure your agent to run `keywarden hook check --agent generic` with the hook's JSON on stdin (exit code 2 blocks)".into(),
        )),
    }
}

/// The command the agent runs.
pub fn command(agent: Agent, exe: &Path) -> String {
    format!(
        "{} hook check --agent {}",
        crate::git::hooks::sh_quote(&exe.to_string_lossy()),
        agent.as_str()
    )
}

fn is_ours(entry: &Value, agent: Agent) -> bool {
    let marker = format!("hook check --agent {}", agent.as_str());
    let has = |v: &Value| {
        v.get("command")
            .and_then(Value::as_str)
            .is_some_and(|c| c.contains(&marker))
    };
    has(entry)
        || entry
            .get("hooks")
            .and_then(Value::as_array)
            .is_some_and(|hs| hs.iter().any(has))
}

/// What [`install`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// Added keywarden's hooks to the settings file.
    New(PathBuf),
    /// Replaced keywarden's earlier hooks in it.
    Updated(PathBuf),
}

fn read(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    if text.trim().is_empty() {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(bad(path, "it is not a JSON object".into())),
        Err(e) => Err(bad(path, format!("it is not valid JSON ({e})"))),
    }
}

fn bad(path: &Path, why: String) -> Error {
    Error::Hook {
        path: path.to_path_buf(),
        message: format!("cannot add keywarden's hooks: {why}"),
        hint: "fix the file (or move it away) and run the command again".into(),
    }
}

fn write(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut text = serde_json::to_string_pretty(doc).map_err(|e| bad(path, e.to_string()))?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The hooks object of `doc`, created when absent.
fn hooks_of<'a>(
    path: &Path,
    doc: &'a mut Map<String, Value>,
) -> Result<&'a mut Map<String, Value>> {
    doc.entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| bad(path, "\"hooks\" is not an object".into()))
}

/// Removes our entries from every event; returns whether there were any. Events left
/// empty are removed.
fn remove_ours(hooks: &mut Map<String, Value>, agent: Agent) -> bool {
    let mut found = false;
    for list in hooks.values_mut() {
        if let Some(a) = list.as_array_mut() {
            let before = a.len();
            a.retain(|e| !is_ours(e, agent));
            found |= a.len() != before;
        }
    }
    hooks.retain(|_, v| v.as_array().is_none_or(|a| !a.is_empty()));
    found
}

/// Adds keywarden's hooks for `agent` in the project at `top`, running `exe`.
pub fn install(agent: Agent, top: &Path, exe: &Path) -> Result<Installed> {
    let path = settings_path(agent, top)?;
    let mut doc = read(&path)?.unwrap_or_default();
    let cmd = command(agent, exe);
    let hooks = hooks_of(&path, &mut doc)?;
    let had = remove_ours(hooks, agent);
    let mut add = |event: &str, entry: Value| -> Result<()> {
        let list = hooks
            .entry(event)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .ok_or_else(|| bad(&path, format!("hooks.{event} is not a list")))?;
        list.push(entry);
        Ok(())
    };
    match agent {
        Agent::ClaudeCode => {
            let hook = json!({"type": "command", "command": cmd});
            add(
                "PreToolUse",
                json!({"matcher": CLAUDE_TOOLS, "hooks": [hook.clone()]}),
            )?;
            add("UserPromptSubmit", json!({"hooks": [hook]}))?;
        }
        Agent::Cursor => {
            for event in CURSOR_EVENTS {
                add(event, json!({"command": cmd}))?;
            }
        }
        // Refused by settings_path above.
        Agent::Generic => {}
    }
    if agent == Agent::Cursor {
        doc.entry("version").or_insert(json!(1));
    }
    write(&path, &doc)?;
    Ok(if had {
        Installed::Updated(path)
    } else {
        Installed::New(path)
    })
}

/// Removes keywarden's hooks for `agent` from the project at `top`. Returns the settings
/// file when there was something to remove. A file left with nothing in it is deleted.
pub fn uninstall(agent: Agent, top: &Path) -> Result<Option<PathBuf>> {
    let path = settings_path(agent, top)?;
    let Some(mut doc) = read(&path)? else {
        return Ok(None);
    };
    let Some(hooks) = doc.get_mut("hooks").and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    if !remove_ours(hooks, agent) {
        return Ok(None);
    }
    if hooks.is_empty() {
        doc.remove("hooks");
    }
    let only_version = doc.keys().all(|k| k == "version");
    if only_version {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    } else {
        write(&path, &doc)?;
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_keeps_other_hooks_and_uninstall_restores_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude/settings.local.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let theirs = json!({"permissions": {"allow": ["Bash(ls)"]},
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "lint"}]}]}});
        std::fs::write(&path, theirs.to_string()).unwrap();
        let exe = Path::new("/opt/kw/keywarden");
        assert_eq!(
            install(Agent::ClaudeCode, dir.path(), exe).unwrap(),
            Installed::New(path.clone())
        );
        assert_eq!(
            install(Agent::ClaudeCode, dir.path(), exe).unwrap(),
            Installed::Updated(path.clone())
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        assert_eq!(
            doc["hooks"]["UserPromptSubmit"].as_array().unwrap().len(),
            1
        );
        assert_eq!(doc["permissions"], theirs["permissions"]);
        assert_eq!(
            uninstall(Agent::ClaudeCode, dir.path()).unwrap(),
            Some(path.clone())
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc, theirs);
        assert_eq!(uninstall(Agent::ClaudeCode, dir.path()).unwrap(), None);
    }

    #[test]
    fn a_file_that_only_held_our_hooks_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        install(Agent::Cursor, dir.path(), Path::new("/k")).unwrap();
        let path = dir.path().join(".cursor/hooks.json");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["hooks"].as_object().unwrap().len(), CURSOR_EVENTS.len());
        uninstall(Agent::Cursor, dir.path()).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn broken_settings_are_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cursor/hooks.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{ not json").unwrap();
        assert!(install(Agent::Cursor, dir.path(), Path::new("/k")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }
}
