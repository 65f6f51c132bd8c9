//! `keywarden completions SHELL` and `keywarden man`: generated from the clap types, so
//! they never drift from `--help`.

use super::{Exit, emit};
use crate::cli::Cli;
use crate::error::Result;
use clap::CommandFactory;
use std::io::Write;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keywarden", &mut buf);
    emit(|| out.write_all(&buf))?;
    Ok(Exit::Clean)
}

/// Writes the man page (section 1, roff), with every subcommand on the same page.
pub fn man(out: &mut dyn Write) -> Result<Exit> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    render_man(&cmd, &mut buf).map_err(crate::Error::Output)?;
    emit(|| out.write_all(&buf))?;
    Ok(Exit::Clean)
}

/// The top page, then one `SUBCOMMAND` section per subcommand (recursively), as
/// `git help`-style single pages read better than one page per subcommand for a small CLI.
fn render_man(cmd: &clap::Command, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(buf)?;
    man.render_name_section(buf)?;
    man.render_synopsis_section(buf)?;
    man.render_description_section(buf)?;
    man.render_options_section(buf)?;
    for sub in cmd.get_subcommands() {
        render_sub(cmd.get_name(), sub, buf)?;
    }
    if let Some(after) = cmd.get_after_help() {
        writeln!(
            buf,
            ".SH \"EXIT STATUS\"\n.nf\n{}\n.fi",
            roff_escape(&after.to_string())
        )?;
    }
    man.render_extra_section(buf)?;
    man.render_version_section(buf)?;
    man.render_authors_section(buf)?;
    Ok(())
}

fn render_sub(parent: &str, sub: &clap::Command, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let name = format!("{parent} {}", sub.get_name());
    let sub = sub.clone().bin_name(name.clone());
    writeln!(buf, ".SH \"{}\"", name.to_uppercase())?;
    let man = clap_mangen::Man::new(sub.clone());
    // The per-command sections, without a second title header.
    let mut part = Vec::new();
    man.render_synopsis_section(&mut part)?;
    man.render_description_section(&mut part)?;
    man.render_options_section(&mut part)?;
    // Nested section headers become sub-headers under this command.
    let text = String::from_utf8_lossy(&part).replace(".SH ", ".SS ");
    buf.write_all(text.as_bytes())?;
    if let Some(after) = sub.get_after_help() {
        writeln!(
            buf,
            ".SS \"Notes\"\n.nf\n{}\n.fi",
            roff_escape(&after.to_string())
        )?;
    }
    for s in sub.get_subcommands() {
        render_sub(&name, s, buf)?;
    }
    Ok(())
}

/// Escapes text for a roff no-fill block: backslashes, and a leading `.` or `'`.
fn roff_escape(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
