//! A TOML config error as a user needs it: file:line:column, the config key, the value
//! that is wrong (unless it may be a secret), and a hint for this kind of error.
//!
//! serde and toml quote the offending value in their messages; a value in the wrong
//! place may be a password, a webhook URL or a key. The value is shown from the file's
//! own text, through [`crate::redact::clean`] (keys redacted, control characters made
//! visible), and not at all for a setting that holds secrets or a value that looks like
//! one.

use crate::error::{Error, line_col};
use std::path::Path;

/// Settings whose values are (or name, or may embed) secrets: their values are never
/// shown.
const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "url",
    "key",
    "key_env",
    "env",
    "file",
    "credential",
    "token",
    "username",
];

/// The longest value shown, in characters.
const MAX_SHOWN: usize = 80;

/// The [`Error::Config`] for `e`, raised parsing `text` (the file at `path`). `fallback`
/// is the hint for errors without a specific one.
pub fn config_error(path: &Path, text: &str, e: &toml::de::Error, fallback: &str) -> Error {
    let span = e.span().unwrap_or(0..0);
    let (line, column) = line_col(text, span.start);
    let raw = e.message().trim();
    let key = key_at(text, span.start);
    let last = key.as_deref().map(|k| {
        k.rsplit(['.', ' '])
            .next()
            .unwrap_or(k)
            .trim_matches(['[', ']'])
    });
    let secret_key = last.is_some_and(|k| SECRET_KEYS.contains(&k));
    // Only a value that parsed and has the wrong type or value is shown: the span of a
    // syntax error may cut a secret anywhere.
    let typed = ["invalid type", "invalid value", "unknown variant"]
        .iter()
        .any(|p| raw.starts_with(p));
    let value = text
        .get(span.clone())
        .map(str::trim)
        .filter(|v| typed && !v.is_empty() && !v.starts_with('['));
    let mut message = crate::error::scrub(raw).replace(" \"…\"", "");
    let shown = match value {
        Some(_) if secret_key => Some("(not shown: this setting holds a secret)".to_string()),
        Some(v) if crate::redact::looks_like_secret_value(v) => {
            Some("(not shown: it looks like a secret)".to_string())
        }
        Some(v) => Some(shorten(&crate::redact::clean(v))),
        None => None,
    };
    let subject = match (&key, &shown) {
        (Some(k), Some(v)) => format!("{k} = {v}: "),
        (Some(k), None) => format!("{k}: "),
        (None, Some(v)) => format!("value {v}: "),
        (None, None) => String::new(),
    };
    message = format!("{subject}{message}");
    if let Some(s) = crate::daemon::config::did_you_mean(raw) {
        message = format!("{message}; {s}");
    }
    Error::Config {
        path: path.to_path_buf(),
        line,
        column,
        message,
        hint: hint(raw, last.unwrap_or("key"), fallback),
    }
}

fn shorten(v: &str) -> String {
    match v.char_indices().nth(MAX_SHOWN) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_string(),
    }
}

/// A hint for the kind of error in toml's or serde's `raw` message, about setting `key`.
fn hint(raw: &str, key: &str, fallback: &str) -> String {
    let expected = raw.rsplit_once("expected ").map(|(_, e)| e.trim());
    if raw.starts_with("invalid type") || raw.starts_with("invalid value") {
        let e = expected.unwrap_or("");
        let integer = [
            "u8",
            "u16",
            "u32",
            "u64",
            "usize",
            "i32",
            "i64",
            "an integer",
        ];
        return if integer.iter().any(|t| e.starts_with(t)) {
            let sign = if e.starts_with('u') { "0 or more " } else { "" };
            format!("{key} takes a whole number {sign}without quotes, like {key} = 30")
        } else if e.contains("bool") {
            format!("{key} takes true or false, without quotes")
        } else if e.starts_with("a string") || e.starts_with("a path") {
            format!("{key} takes text in double quotes, like {key} = \"…\"")
        } else if e.starts_with("a sequence") {
            format!("{key} takes a list in brackets, like {key} = [\"a\", \"b\"]")
        } else if e.contains("SecretSource") {
            format!(
                "{key} names where the secret is, not the secret: {key} = {{ env = \"VARIABLE_NAME\" }}, {{ file = \"path\" }} or {{ credential = \"name\" }}"
            )
        } else if e.starts_with("struct") || e.contains("map") || e.contains("table") {
            format!("{key} is a table: {key} = {{ … }}, or a [section] of its own")
        } else {
            format!("{key} takes {e}")
        };
    }
    if raw.starts_with("unknown field") || raw.starts_with("unknown variant") {
        return "use one of the names listed; see the README's configuration reference".into();
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        return format!("add {field} = … to this section");
    }
    if raw.contains("duplicate key") {
        return "a key may appear once per table: remove one of them".into();
    }
    if raw.starts_with("invalid") || raw.starts_with("expected") || raw.starts_with("unclosed") {
        return "check the TOML syntax here: text in double quotes, one key = value per line, [section] headers on their own line".into();
    }
    fallback.to_string()
}

/// The config key at byte `at` of `text`: the last `[section]` header before it and the
/// `key =` (or `key = { inner =`) on its line, as `[section] key.inner`. Parts that are
/// not plain identifiers (they might be pasted secrets) are left out.
fn key_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let header = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|h| h.split('#').next().unwrap_or(h).trim())
        .filter(|h| {
            h.trim_matches(['[', ']'])
                .split('.')
                .all(|p| identifier(p.trim()))
        });
    let mut keys = Vec::new();
    let mut rest = &before[line_start..];
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq]
            .trim_end()
            .rsplit(['{', ',', ' '])
            .next()
            .unwrap_or("");
        if !identifier(name) {
            return header.map(str::to_string);
        }
        keys.push(name);
        rest = &rest[eq + 1..];
    }
    let key = keys.join(".");
    match (header, key.is_empty()) {
        (Some(h), false) => Some(format!("{h} {key}")),
        (Some(h), true) => Some(h.to_string()),
        (None, false) => Some(key),
        (None, true) => None,
    }
}

fn identifier(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !crate::redact::looks_like_secret_value(s)
        && !s.starts_with("mk_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        let e = toml::from_str::<crate::service_config::ServiceConfig>(text).unwrap_err();
        config_error(Path::new("k.toml"), text, &e, "fallback").to_string()
    }

    #[test]
    fn type_errors_show_key_value_line_and_a_fitting_hint() {
        let m = message("[audit]\ninactive_days = \"ninety\"\n");
        assert!(
            m.starts_with(
                "k.toml:2:17: [audit] inactive_days = \"ninety\": invalid type: string, expected"
            ),
            "{m}"
        );
        assert!(
            m.contains("hint: inactive_days takes a whole number 0 or more without quotes"),
            "{m}"
        );
        let m = message("[daemon]\ncatch_up = \"yes\"\n");
        assert!(m.contains("[daemon] catch_up = \"yes\""), "{m}");
        assert!(m.contains("hint: catch_up takes true or false"), "{m}");
        let m = message("[[notify.email]]\nname = \"m\"\nto = \"a@b.c\"\n");
        assert!(m.contains("[[notify.email]] to = \"a@b.c\""), "{m}");
        assert!(m.contains("takes a list in brackets"), "{m}");
    }

    #[test]
    fn secret_values_are_not_shown() {
        let m = message("[[notify.email]]\nname = \"m\"\npassword = \"Pa55word-hunter2\"\n");
        assert!(!m.contains("hunter2"), "{m}");
        assert!(
            m.contains("password = (not shown: this setting holds a secret)"),
            "{m}"
        );
        assert!(m.contains("{ env = \"VARIABLE_NAME\" }"), "{m}");
        let m = message("[audit]\ninactive_days = \"Qw3rT9zX7vB2pL\"\n");
        assert!(!m.contains("Qw3rT9zX7vB2pL"), "{m}");
        let key = format!("mk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
        let m = message(&format!("[daemon]\ncatch_up = \"{key}\"\n"));
        assert!(!m.contains(&key[8..]), "{m}");
    }
}
