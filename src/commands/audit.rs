//! `keywarden audit`: settings → inventory (file or API) → policies → report → exit code.
//!
//! Precedence of settings, highest first:
//! 1. command-line flags (`--api-url`, `--concurrency`, `--fail-on`, `--key-file`);
//! 2. environment variables (`MASK_API_URL`; the audit key in `MASK_API_KEY` or the
//!    variable named by `[audit] key_env`; `$CREDENTIALS_DIRECTORY/mask-api-key`);
//! 3. the service config's `[audit]` section (`--config FILE`);
//! 4. built-in defaults (production API, 8 in flight, fail on medium).

use super::{Exit, emit};
use crate::audit::{self, AuditConfig, AuditInput, ScanHit};
use crate::cli::{AuditArgs, Cli};
use crate::error::{Error, Result};
use crate::finding::{Environment, Severity};
use crate::mask::{self, ClientBuilder, Inventory};
use crate::report::{self, AuditFormat};
use crate::service_config::LoadedConfig;
use chrono::{DateTime, NaiveDate, Utc};
use std::io::Write;
use std::path::PathBuf;

/// Everything `keywarden audit` needs, resolved.
#[derive(Debug)]
pub struct AuditSettings {
    /// `[audit]`, or its defaults.
    pub config: AuditConfig,
    /// Inventory file instead of the API.
    pub inventory: Option<PathBuf>,
    /// API base URL.
    pub api_url: String,
    /// `--key-file`.
    pub key_file: Option<PathBuf>,
    /// The environment variable holding the audit key.
    pub key_env: String,
    /// Usage calls in flight.
    pub concurrency: usize,
    /// Scan findings to correlate.
    pub findings: Option<PathBuf>,
    /// List revoked keys.
    pub include_revoked: bool,
    /// Output format.
    pub format: AuditFormat,
    /// Report file, or stdout.
    pub output: Option<PathBuf>,
    /// Lowest failing severity.
    pub fail_on: Severity,
    /// The clock.
    pub now: DateTime<Utc>,
    /// Colors in text output.
    pub color: bool,
}

impl AuditSettings {
    /// Resolves `args` against the environment, the service config and defaults.
    pub fn resolve(args: &AuditArgs, cli: &Cli) -> Result<AuditSettings> {
        let config = match &args.config {
            Some(path) => LoadedConfig::load(path)?.config.audit,
            None => AuditConfig::default(),
        };
        let now = match &args.as_of {
            Some(s) => parse_time(s)?,
            None => Utc::now(),
        };
        Ok(AuditSettings {
            inventory: args.inventory.clone(),
            api_url: args
                .api_url
                .clone()
                .or_else(|| config.api_url.clone())
                .unwrap_or_else(|| mask::DEFAULT_BASE_URL.to_string()),
            key_file: args.key_file.clone(),
            key_env: config
                .key_env
                .clone()
                .unwrap_or_else(|| "MASK_API_KEY".into()),
            concurrency: args.concurrency.or(config.concurrency).unwrap_or(8).max(1),
            findings: args.findings.clone(),
            include_revoked: args.include_revoked,
            format: args.format.unwrap_or(AuditFormat::Text),
            output: args.output.clone(),
            fail_on: args.fail_on.or(config.fail_on).unwrap_or(Severity::Medium),
            now,
            color: crate::settings::color_enabled(cli.color, args.output.is_some()),
            config,
        })
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = s.parse::<NaiveDate>() {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(Error::Usage(format!(
        "--as-of {s:?}: not a time\n  hint: give RFC 3339 (2026-06-01T12:00:00Z) or a date (2026-06-01)"
    )))
}

/// Fetches the inventory from the API with the audit key; returns it with the warnings
/// about the audit key itself.
pub fn fetch_inventory(s: &AuditSettings) -> Result<(Inventory, Vec<String>)> {
    let (key, origin) = mask::load_audit_key(s.key_file.as_deref(), &s.key_env)?;
    tracing::info!("audit key {} from {origin}", key.redacted());
    let env = if key.prefix() == "mk_test_" {
        Environment::Test
    } else {
        Environment::Live
    };
    let (last_four, redacted) = (key.last_four(), key.redacted());
    let client = ClientBuilder::new()
        .base_url(&s.api_url)
        .concurrency(s.concurrency)
        .build(key)?;
    let runtime = crate::mask::runtime()?;
    let window = chrono::Duration::days(s.config.observation_days.into());
    let since = audit::shift(s.now, -window);
    let inventory = runtime.block_on(client.inventory(s.include_revoked, since, s.now))?;
    let warnings: Vec<String> =
        audit::auditor_key_warning(&inventory.data, env, &last_four, &redacted)
            .into_iter()
            .collect();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok((inventory, warnings))
}

/// Runs `keywarden audit`.
pub fn run(args: &AuditArgs, cli: &Cli, out: &mut dyn Write) -> Result<Exit> {
    let s = AuditSettings::resolve(args, cli)?;
    // Open the outbox first: a bad [notify] or [state] fails before any API call.
    let notify = match (&args.config, args.notify) {
        (Some(path), true) => Some(super::outbox::open(path)?),
        _ => None,
    };
    let (inventory, mut warnings, source) = match &s.inventory {
        Some(path) => (mask::load_inventory(path)?, Vec::new(), "inventory"),
        None => {
            let (inv, w) = fetch_inventory(&s)?;
            (inv, w, "api")
        }
    };
    let leaks: Vec<ScanHit> = match &s.findings {
        Some(path) => {
            let text = crate::bounded::read_to_string(path).map_err(|e| Error::io(path, e))?;
            audit::leaked::parse_findings(path, &text)?
        }
        None => Vec::new(),
    };
    let mut report = audit::audit(AuditInput {
        inventory: &inventory,
        leaks: &leaks,
        now: s.now,
        config: &s.config,
        include_revoked: s.include_revoked,
        source,
    });
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    let mut file;
    let sink: &mut dyn Write = match &s.output {
        Some(path) => {
            file = crate::redact::ScrubWriter::new(std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| Error::io(path, e))?,
            ));
            &mut file
        }
        None => out,
    };
    emit(|| {
        report::write_audit(&report, s.format, s.color, sink)?;
        sink.flush()
    })?;
    if let Some((cfg, mut store)) = notify {
        let json = serde_json::to_string(&report).map_err(|e| Error::Usage(e.to_string()))?;
        let model = crate::notify::ReportModel::from_json(&json, "audit report", None)?;
        crate::notify::enqueue_and_deliver(&cfg, &mut store, model)?;
    }
    Ok(if report.worst().is_some_and(|w| w >= s.fail_on) {
        Exit::Findings
    } else {
        Exit::Clean
    })
}
