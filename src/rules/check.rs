//! `keywarden rules check`: a linter for rules files. Every error carries file, line and
//! column; every rule's examples must be reported by it and its negative examples must
//! not; every context's example paths must get that context.

use super::{RuleDb, Source};
use crate::error::{Error, Result, line_col};
use crate::scan::{FileScanner, Matcher, file::classify};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// One problem found.
#[derive(Debug, Clone)]
pub struct Problem {
    /// File (or `builtin:…`).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// An error (the file cannot be used) or a warning.
    pub error: bool,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.error { "error" } else { "warning" };
        write!(
            f,
            "{}:{}:{}: {kind}: {}",
            self.origin, self.line, self.column, self.message
        )
    }
}

/// What a check found and proved.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems, in file order.
    pub problems: Vec<Problem>,
    /// Rules checked.
    pub rules: usize,
    /// Context classifiers checked.
    pub contexts: usize,
    /// Placeholder filters checked.
    pub placeholders: usize,
    /// Examples proven.
    pub examples: usize,
    /// Negative examples proven.
    pub negative_examples: usize,
}

impl CheckReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.error).count()
    }
    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.problems.iter().filter(|p| !p.error).count()
    }
}

fn from_error(e: Error) -> Problem {
    match e {
        Error::Rules {
            origin,
            line,
            column,
            message,
        } => Problem {
            origin,
            line,
            column,
            error: true,
            message,
        },
        other => Problem {
            origin: String::new(),
            line: 1,
            column: 1,
            error: true,
            message: other.to_string(),
        },
    }
}

/// Checks `files` merged over the built-ins; with no files, checks the built-ins.
pub fn check_files(files: &[PathBuf]) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let mut sources = Source::builtin()?;
    let checked: Vec<String> = if files.is_empty() {
        sources.iter().map(|s| s.origin.clone()).collect()
    } else {
        let mut names = Vec::new();
        for f in files {
            match Source::read(f) {
                Ok(s) => {
                    names.push(s.origin.clone());
                    sources.push(s);
                }
                Err(e @ Error::Io { .. }) => return Err(e),
                Err(e) => report.problems.push(from_error(e)),
            }
        }
        names
    };
    if report.errors() > 0 {
        return Ok(report);
    }
    let db = match RuleDb::compile(&sources) {
        Ok(db) => db,
        Err(e) => {
            report.problems.push(from_error(e));
            return Ok(report);
        }
    };
    let texts: HashMap<&str, &str> = sources
        .iter()
        .map(|s| (s.origin.as_str(), s.text.as_str()))
        .collect();
    prove(&db, &checked, &texts, &mut report)?;
    Ok(report)
}

fn prove(
    db: &RuleDb,
    checked: &[String],
    texts: &HashMap<&str, &str>,
    report: &mut CheckReport,
) -> Result<()> {
    let matcher = Matcher::new(db)?;
    let mut scanner = FileScanner::new(db, &matcher);
    let mut problem = |origin: &str, span: std::ops::Range<usize>, error: bool, message: String| {
        let (line, column) = texts
            .get(origin)
            .map_or((1, 1), |t| line_col(t, span.start));
        report.problems.push(Problem {
            origin: origin.to_string(),
            line,
            column,
            error,
            message,
        });
    };
    let (mut examples, mut negatives) = (0, 0);
    for rule in db.rules.iter().filter(|r| checked.contains(&r.origin)) {
        if rule.examples.is_empty() {
            problem(
                &rule.origin,
                0..0,
                false,
                format!(
                    "rule {:?} has no examples: add texts it must report",
                    rule.id
                ),
            );
        }
        if rule.negative_examples.is_empty() {
            problem(
                &rule.origin,
                0..0,
                false,
                format!(
                    "rule {:?} has no negative_examples: add look-alikes it must not report",
                    rule.id
                ),
            );
        }
        for (list, positive) in [(&rule.examples, true), (&rule.negative_examples, false)] {
            for ex in list {
                let outcome = scanner
                    .scan("example.txt", &mut ex.get_ref().as_bytes())
                    .map_err(|e| Error::io("<example>", e))?;
                let hits: Vec<_> = outcome
                    .hits
                    .iter()
                    .filter(|h| db.rules[h.raw.rule].id == rule.id)
                    .collect();
                let reported = hits.iter().any(|h| h.placeholder.is_none());
                if positive && !reported {
                    let why = hits
                        .iter()
                        .find_map(|h| h.placeholder.clone())
                        .map_or("it does not match".to_string(), |p| {
                            format!("placeholder filter {p:?} drops it")
                        });
                    problem(
                        &rule.origin,
                        ex.span(),
                        true,
                        format!("rule {:?}: example is not reported: {why}", rule.id),
                    );
                } else if !positive && reported {
                    problem(
                        &rule.origin,
                        ex.span(),
                        true,
                        format!("rule {:?}: negative example is reported as a key", rule.id),
                    );
                } else if positive {
                    examples += 1;
                } else {
                    negatives += 1;
                }
            }
        }
        report.rules += 1;
    }
    for c in db.contexts.iter().filter(|c| checked.contains(&c.origin)) {
        if let Err(e) = c.check_compiles() {
            problem(&c.origin, 0..0, true, format!("context {:?}: {e}", c.id));
        }
        for ex in &c.examples {
            let got = classify(db, ex.get_ref(), b"", b"");
            if got != c.context {
                problem(
                    &c.origin,
                    ex.span(),
                    true,
                    format!(
                        "context {:?}: example path {:?} gets context {got}, not {}",
                        c.id,
                        ex.get_ref(),
                        c.context
                    ),
                );
            } else {
                examples += 1;
            }
        }
        report.contexts += 1;
    }
    report.placeholders = db.placeholders.len();
    report.examples = examples;
    report.negative_examples = negatives;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_prove_all_their_examples_with_no_warning() {
        let r = check_files(&[]).unwrap();
        assert!(r.problems.is_empty(), "{:#?}", r.problems);
        assert!(r.examples >= 20 && r.negative_examples >= 10, "{r:?}");
    }
}
