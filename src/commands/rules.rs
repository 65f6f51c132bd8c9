//! `keywarden rules list` and `keywarden rules check`.

use super::{Exit, emit};
use crate::cli::{RulesCommand, RulesFormat};
use crate::error::Result;
use crate::rules::{self, Source, check};
use serde_json::json;
use std::io::Write;

/// Runs a `rules` subcommand.
pub fn run(cmd: &RulesCommand, out: &mut dyn Write) -> Result<Exit> {
    match cmd {
        RulesCommand::List {
            rules: files,
            format,
        } => {
            let extra = files
                .iter()
                .map(|p| Source::read(p))
                .collect::<Result<Vec<_>>>()?;
            let db = rules::load(extra)?;
            emit(|| list(&db, *format, out))?;
            Ok(Exit::Clean)
        }
        RulesCommand::Check { files, strict } => {
            let report = check::check_files(files)?;
            emit(|| {
                for p in &report.problems {
                    writeln!(out, "{p}")?;
                }
                writeln!(
                    out,
                    "{} rules, {} contexts, {} placeholder filters checked: {} examples and {} negative examples proven; {} errors, {} warnings",
                    report.rules,
                    report.contexts,
                    report.placeholders,
                    report.examples,
                    report.negative_examples,
                    report.errors(),
                    report.warnings()
                )
            })?;
            Ok(
                if report.errors() > 0 || (*strict && report.warnings() > 0) {
                    Exit::Error
                } else {
                    Exit::Clean
                },
            )
        }
    }
}

fn list(db: &rules::RuleDb, format: RulesFormat, out: &mut dyn Write) -> std::io::Result<()> {
    if format == RulesFormat::Json {
        let doc = json!({
            "rules": db.rules.iter().map(|r| json!({
                "id": r.id, "name": r.name, "environment": r.environment, "prefix": String::from_utf8_lossy(&r.prefix),
                "body": r.body, "origin": r.origin,
                "severity": crate::finding::Context::ALL.iter().map(|c| (c.as_str().to_string(), json!(r.severity(*c)))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "contexts": db.contexts.iter().map(|c| json!({"id": c.id, "context": c.context, "priority": c.priority, "origin": c.origin})).collect::<Vec<_>>(),
            "placeholders": db.placeholders.iter().map(|p| json!({"id": p.id, "description": p.description})).collect::<Vec<_>>(),
            "cross_environment": {"id": db.cross_env.id, "severity": db.cross_env.severity},
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        return writeln!(out);
    }
    writeln!(out, "Rules:")?;
    for r in &db.rules {
        writeln!(
            out,
            "  {:<24} {:<5} {}{}  ({})",
            r.id,
            r.environment.as_str(),
            String::from_utf8_lossy(&r.prefix),
            r.body,
            r.origin
        )?;
        let sev: Vec<String> = crate::finding::Context::ALL
            .iter()
            .map(|c| format!("{c}={}", r.severity(*c)))
            .collect();
        writeln!(out, "      severity: {}", sev.join(", "))?;
    }
    writeln!(
        out,
        "  {:<24} (one key in production and non-production configs) severity={}",
        db.cross_env.id, db.cross_env.severity
    )?;
    writeln!(
        out,
        "Contexts (first match wins; unmatched keys are `source`):"
    )?;
    for c in &db.contexts {
        writeln!(
            out,
            "  {:>4}  {:<18} {:<32} {}",
            c.priority,
            c.context.as_str(),
            c.id,
            c.description
        )?;
    }
    writeln!(out, "Placeholder filters:")?;
    for p in &db.placeholders {
        writeln!(out, "  {:<22} {}", p.id, p.description)?;
    }
    Ok(())
}
