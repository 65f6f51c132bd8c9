//! SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps): each rule listed once,
//! relative `uri`s, `partialFingerprints` tied to the key's content (its SHA-256), and no
//! secret in any message: only the redacted form.

use crate::finding::Severity;
use crate::rules::RuleDb;
use crate::scan::ScanReport;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// Percent-encodes a `/`-separated relative path into a URI reference; an absolute path
/// becomes a `file://` URI.
pub fn path_to_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if path.starts_with('/') {
        format!("file://{out}")
    } else {
        out
    }
}

/// Writes `report` as a SARIF 2.1.0 log.
pub fn write_sarif(db: &RuleDb, report: &ScanReport, out: &mut dyn Write) -> std::io::Result<()> {
    // Rules that appear in the results, each once, in id order.
    let mut used: BTreeMap<&str, Severity> = BTreeMap::new();
    for f in &report.findings {
        let e = used.entry(f.rule.as_str()).or_insert(f.severity);
        *e = (*e).max(f.severity);
    }
    let index: BTreeMap<&str, usize> = used.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules: Vec<Value> = used
        .iter()
        .map(|(id, sev)| {
            let (name, desc) = match db.rule(id) {
                Some(r) => (r.name.clone(), r.description.clone()),
                None if *id == db.cross_env.id => (db.cross_env.name.clone(), db.cross_env.description.clone()),
                None => (id.to_string(), String::new()),
            };
            json!({
                "id": id,
                "name": name,
                "shortDescription": {"text": name},
                "fullDescription": {"text": if desc.is_empty() { name.clone() } else { desc.clone() }},
                "help": {"text": "Revoke an exposed key in MASK's Settings → API Keys and load keys from the environment or a secrets manager. Mark a deliberate exception with `keywarden:allow` or `.keywarden.toml`."},
                "defaultConfiguration": {"level": level(*sev)},
                "properties": {"security-severity": security_severity(*sev), "tags": ["security", "secret"], "precision": "high"}
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut region = json!({"startLine": f.line, "startColumn": f.column_utf16.max(1)});
            if f.binary {
                region = json!({"byteOffset": f.offset});
            }

            let mut r = json!({
                "ruleId": f.rule,
                "ruleIndex": index[f.rule.as_str()],
                "level": level(f.severity),
                "message": {"text": format!("{} {} key {} in {} context ({} file): {}", f.severity, f.environment.as_str(), f.redacted, f.context, f.exposure, f.fix)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": path_to_uri(&f.path)},
                    "region": region,
                }}],
                "partialFingerprints": {"keywarden/key-sha256/v1": f.fingerprint.as_str()},
                "properties": {
                    "severity": f.severity,
                    "context": f.context,
                    "exposure": f.exposure,
                    "environment": f.environment,
                    "redacted": f.redacted,
                    "fingerprint": f.fingerprint,
                    "encoding": f.encoding,
                },
            });
            if f.encoding == crate::finding::Encoding::Name
                && let Some(loc) = r["locations"][0]["physicalLocation"].as_object_mut()
            {
                // The key is in the artifact's name: no region of its content holds it.
                loc.remove("region");
            }
            if let Some(c) = &f.commit {
                r["properties"]["commit"] = json!(c);
                r["message"]["text"] = json!(format!(
                    "{} (introduced in commit {} by {} on {}: {}; {})",
                    r["message"]["text"].as_str().unwrap_or_default(),
                    c.commit.get(..12).unwrap_or(&c.commit),
                    c.author,
                    c.date,
                    c.subject,
                    c.status
                ));
            }
            if let Some(s) = &f.suppressed {
                let kind = if s.kind == "inline" { "inSource" } else { "external" };
                let mut sup = json!({"kind": kind, "status": "accepted"});
                if let Some(reason) = &s.reason {
                    sup["justification"] = json!(reason);
                }
                r["suppressions"] = json!([sup]);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "keywarden",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/keywarden/keywarden",
                "rules": rules,
            }},
            "results": results,
            "columnKind": "utf16CodeUnits",
            "invocations": [{"executionSuccessful": report.summary.errors == 0}],
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::path_to_uri;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(path_to_uri("src/a b.rs"), "src/a%20b.rs");
        assert_eq!(path_to_uri("/tmp/x#y"), "file:///tmp/x%23y");
        assert_eq!(path_to_uri("dir/ü.txt"), "dir/%C3%BC.txt");
    }
}
