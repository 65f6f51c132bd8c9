//! `keywarden audit`: settings ([`AuditSettings`]) → [`run::audit`] → report → `--notify`
//! → exit code.

use super::{Exit, write_report};
use crate::cli::{AuditArgs, Cli};
use crate::error::Result;
use crate::report;
use crate::run;
use crate::settings::AuditSettings;
use std::io::Write;

/// Runs `keywarden audit`.
pub fn run(args: &AuditArgs, cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let s = AuditSettings::resolve(args, cli)?;
    // Open the outbox first: a bad [notify] or [state] fails before any API call.
    let notify = match (&args.config, args.notify) {
        (Some(path), true) => Some(super::outbox::open(path)?),
        _ => None,
    };
    let report = run::audit::audit(&s)?;
    write_report(s.output.as_deref(), out, |sink| {
        report::write_audit(&report, s.format, s.color, sink)
    })?;
    if let Some((cfg, mut store)) = notify {
        let model = crate::notify::ReportModel::from(&report);
        run::publish::publish(&cfg, &mut store, model, run::publish::Mode::Once, None)?;
    }
    Ok(if report.worst().is_some_and(|w| w >= s.fail_on) {
        Exit::Findings
    } else {
        Exit::Clean
    })
}
