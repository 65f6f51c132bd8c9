//! Renders a [`ReportModel`] with minijinja: plain text, Markdown, email-safe HTML (inline
//! CSS, tables, no images) and versioned JSON. The templates are in `templates/` of the
//! repository, embedded in the binary; `[notify] templates = "DIR"` replaces any of
//! `report.txt`, `report.md`, `report.html` with the file of that name in DIR.

use super::model::ReportModel;
use crate::error::{Error, Result};
use minijinja::{Environment, context};
use std::path::Path;

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Plain text (email text part).
    Text,
    /// Markdown.
    Markdown,
    /// HTML (email HTML part).
    Html,
    /// The model as JSON (`{"version": 1, …}`).
    Json,
}

const BUILTIN: [(&str, &str); 3] = [
    ("report.txt", include_str!("../../templates/report.txt")),
    ("report.md", include_str!("../../templates/report.md")),
    ("report.html", include_str!("../../templates/report.html")),
];

/// The template set: built-ins, overridden by files in a directory.
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
}

fn template_error(name: &str, e: &minijinja::Error) -> Error {
    let mut message = e.to_string();
    if let Some(line) = e.line() {
        message = format!("line {line}: {message}");
    }
    Error::Template {
        name: name.to_string(),
        message,
    }
}

/// Escapes Markdown's inline syntax (and HTML) in a value; newlines become spaces so a
/// value cannot break a table row.
fn md_escape(value: String) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            // `_` inside words (mk_live_…) is not emphasis in CommonMark: left alone.
            '\\' | '`' | '*' | '[' | ']' | '|' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

impl Renderer {
    /// The built-in templates, with any of them replaced from `overrides` (a directory).
    pub fn new(overrides: Option<&Path>) -> Result<Renderer> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        env.add_filter("md", md_escape);
        // HTML-escape only what must be (`& < > " '`); minijinja's default also escapes `/`,
        // which makes paths unreadable in the text view of some clients.
        env.set_formatter(|out, state, value| {
            if !matches!(state.auto_escape(), minijinja::AutoEscape::Html)
                || value.is_safe()
                || value.is_undefined()
                || value.is_none()
            {
                return minijinja::escape_formatter(out, state, value);
            }
            let s = match value.as_str() {
                Some(s) => s.to_string(),
                None => value.to_string(),
            };
            let mut escaped = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#39;"),
                    c => escaped.push(c),
                }
            }
            out.write_str(&escaped).map_err(minijinja::Error::from)
        });
        for (name, builtin) in BUILTIN {
            let source = match overrides.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => {
                    crate::bounded::read_to_string(&path).map_err(|e| Error::io(&path, e))?
                }
                None => builtin.to_string(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| template_error(name, &e))?;
        }
        Ok(Renderer { env })
    }

    /// Renders `report` in `format`.
    pub fn render(&self, report: &ReportModel, format: ReportFormat) -> Result<String> {
        let name = match format {
            ReportFormat::Json => {
                return serde_json::to_string_pretty(report).map_err(|e| Error::Template {
                    name: "report.json".into(),
                    message: e.to_string(),
                });
            }
            ReportFormat::Text => "report.txt",
            ReportFormat::Markdown => "report.md",
            ReportFormat::Html => "report.html",
        };
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| template_error(name, &e))?;
        tmpl.render(context! {
            report => report,
            subject => report.subject(),
            version => env!("CARGO_PKG_VERSION"),
        })
        .map_err(|e| template_error(name, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ReportModel {
        let audit = r#"{"workspace":{"id":"w","name":"acme <&>"},"keys":[
          {"id":"k1","name":"Deploy <script>","environment":"live","last_four":"p7dc",
           "created_by":"ana@example.com",
           "findings":[{"kind":"leaked","severity":"critical","evidence":"in a | b"}],
           "recommendation":{"actions":["revoke"]}}]}"#;
        let mut m = ReportModel::from_json(audit, "t", None).unwrap();
        m.diff_against(None);
        m
    }

    #[test]
    fn every_format_shows_the_same_facts_and_html_escapes() {
        let r = Renderer::new(None).unwrap();
        let m = model();
        for f in [
            ReportFormat::Text,
            ReportFormat::Markdown,
            ReportFormat::Html,
        ] {
            let out = r.render(&m, f).unwrap();
            assert!(out.contains("p7dc"), "{f:?}: {out}");
            assert!(out.contains("ana@example.com"), "{f:?}");
            assert!(out.contains("revoke it in Settings"), "{f:?}");
            assert!(out.contains("First report"), "{f:?}");
        }
        let html = r.render(&m, ReportFormat::Html).unwrap();
        assert!(html.contains("Deploy &lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("&#x2f;"), "paths stay readable");
        let md = r.render(&m, ReportFormat::Markdown).unwrap();
        assert!(md.contains("in a \\| b"), "{md}");
        let json: serde_json::Value =
            serde_json::from_str(&r.render(&m, ReportFormat::Json).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
    }

    #[test]
    fn templates_can_be_overridden_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.txt"), "custom {{ subject }}").unwrap();
        let r = Renderer::new(Some(dir.path())).unwrap();
        let out = r.render(&model(), ReportFormat::Text).unwrap();
        assert!(out.starts_with("custom [Keywarden] acme"), "{out}");
        std::fs::write(dir.path().join("report.md"), "ok\n{% if %}").unwrap();
        let e = Renderer::new(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("report.md") && e.contains("line 2"), "{e}");
    }
}
