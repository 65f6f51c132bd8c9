//! The audit report as a standalone HTML page (for email). Every text is escaped.

use super::audit::{key_label, summary_line};
use crate::audit::model::AuditReport;
use crate::finding::Severity;
use std::io::Write;

/// Escapes `&`, `<`, `>`, `"` and `'`.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn color(s: Option<Severity>) -> &'static str {
    match s {
        Some(Severity::Critical) => "#b00020",
        Some(Severity::High) => "#d9480f",
        Some(Severity::Medium) => "#b08900",
        Some(Severity::Low) => "#1c7ed6",
        None => "#2b8a3e",
    }
}

/// Writes `r` as a page.
pub fn write_html(r: &AuditReport, out: &mut dyn Write) -> std::io::Result<()> {
    let title = format!("MASK key audit: {}", r.workspace.name);
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}}.sev{{font-weight:bold}}</style></head><body>",
        escape(&title)
    )?;
    writeln!(out, "<h1>{}</h1>", escape(&title))?;
    writeln!(
        out,
        "<p>Workspace <code>{}</code>, as of {} (source: {}).</p>\n<p>{}</p>",
        escape(&r.workspace.id),
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        escape(&r.source),
        escape(&summary_line(r))
    )?;
    for w in &r.warnings {
        writeln!(out, "<p><strong>Warning:</strong> {}</p>", escape(w))?;
    }
    writeln!(
        out,
        "<table><tr><th>severity</th><th>key</th><th>findings</th><th>recommendation</th></tr>"
    )?;
    for k in &r.keys {
        let worst = k.worst();
        let mut items: Vec<String> = k
            .findings
            .iter()
            .map(|f| {
                format!(
                    "<li><b>{}</b> ({}): {}</li>",
                    f.kind,
                    f.severity,
                    escape(&f.message)
                )
            })
            .collect();
        items.extend(k.excepted.iter().map(|e| {
            format!(
                "<li><s>{}</s> excepted until {}: {}</li>",
                e.finding.kind,
                e.exception.until,
                escape(&e.exception.reason)
            )
        }));
        writeln!(
            out,
            "<tr><td class=\"sev\" style=\"color:{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            color(worst),
            worst.map_or("ok", Severity::as_str),
            escape(&key_label(k)),
            if items.is_empty() {
                "none".to_string()
            } else {
                format!("<ul>{}</ul>", items.join(""))
            },
            escape(&k.recommendation.text)
        )?;
    }
    writeln!(out, "</table></body></html>")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
