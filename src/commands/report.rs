//! `keywarden report FILE`: a scan or audit JSON report rendered with the notification
//! templates, to stdout. Nothing is sent and no state is read.

use super::{Exit, emit};
use crate::cli::{ReportArgs, ReportFormatArg};
use crate::error::{Error, Result};
use crate::notify::{Renderer, ReportFormat, ReportModel};
use std::io::Write;

/// Runs `keywarden report`.
pub fn run(args: &ReportArgs, out: &mut dyn Write) -> Result<Exit> {
    let (origin, text) = if args.input.as_os_str() == "-" {
        let bytes = crate::bounded::read_capped(std::io::stdin().lock(), crate::bounded::MAX_INPUT)
            .map_err(|e| Error::io("<stdin>", e))?;
        let s = String::from_utf8(bytes).map_err(|_| {
            Error::io(
                "<stdin>",
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
            )
        })?;
        ("<stdin>".to_string(), s)
    } else {
        let s =
            crate::bounded::read_to_string(&args.input).map_err(|e| Error::io(&args.input, e))?;
        (args.input.display().to_string(), s)
    };
    let mut model = ReportModel::from_json(&text, &origin, None)?;
    model.diff_against(None);
    let format = match args.format {
        ReportFormatArg::Text => ReportFormat::Text,
        ReportFormatArg::Markdown => ReportFormat::Markdown,
        ReportFormatArg::Html => ReportFormat::Html,
        ReportFormatArg::Json => ReportFormat::Json,
    };
    let rendered = Renderer::new(args.templates.as_deref())?.render(&model, format)?;
    emit(|| {
        out.write_all(rendered.as_bytes())?;
        if !rendered.ends_with('\n') {
            writeln!(out)?;
        }
        out.flush()
    })?;
    Ok(Exit::Clean)
}
