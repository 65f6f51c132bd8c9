//! `keywarden audit` and the daemon's workspace audits: one [`AuditSettings`], resolved
//! from the command line ([`AuditSettings::resolve`]) or from a `[[daemon.workspace]]`
//! ([`AuditSettings::for_workspace`]).
//!
//! Precedence, highest first:
//! 1. command-line flags (`--api-url`, `--concurrency`, `--fail-on`, `--key-file`), or the
//!    workspace's own `api_url` and `key`;
//! 2. environment variables (`MASK_API_URL`, read by clap; the audit key in
//!    `MASK_API_KEY` or the variable named by `[audit] key_env`;
//!    `$CREDENTIALS_DIRECTORY/mask-api-key`);
//! 3. the service config's `[audit]` section;
//! 4. built-in defaults (production API, 8 in flight, fail on medium).

use crate::audit::AuditConfig;
use crate::cli::{AuditArgs, Cli};
use crate::daemon::config::Workspace;
use crate::error::{Error, Result};
use crate::finding::Severity;
use crate::mask;
use crate::notify::SecretSource;
use crate::report::AuditFormat;
use crate::service_config::LoadedConfig;
use chrono::{DateTime, NaiveDate, Utc};
use std::path::PathBuf;

/// Where the audit key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A configured secret source (a workspace's `key`), named `what` in errors.
    Configured {
        /// The source.
        source: SecretSource,
        /// Its config key, e.g. `daemon.workspace[acme].key`.
        what: String,
    },
    /// `--key-file`, else the environment variable `env`, else the systemd credential.
    Lookup {
        /// `--key-file`.
        file: Option<PathBuf>,
        /// The environment variable holding the key.
        env: String,
    },
}

/// Everything an audit needs, resolved.
#[derive(Debug)]
pub struct AuditSettings {
    /// `[audit]`, or its defaults.
    pub config: AuditConfig,
    /// Inventory file instead of the API.
    pub inventory: Option<PathBuf>,
    /// API base URL.
    pub api_url: String,
    /// The audit key.
    pub key: KeySource,
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

const DEFAULT_KEY_ENV: &str = "MASK_API_KEY";
const DEFAULT_CONCURRENCY: usize = 8;

impl AuditSettings {
    /// Resolves `keywarden audit`'s `args` against the environment, the service config and
    /// defaults.
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
            key: KeySource::Lookup {
                file: args.key_file.clone(),
                env: key_env(&config),
            },
            concurrency: args
                .concurrency
                .or(config.concurrency)
                .unwrap_or(DEFAULT_CONCURRENCY)
                .max(1),
            findings: args.findings.clone(),
            include_revoked: args.include_revoked,
            format: args.format.unwrap_or(AuditFormat::Text),
            output: args.output.clone(),
            fail_on: args.fail_on.or(config.fail_on).unwrap_or(Severity::Medium),
            now,
            color: super::color_enabled(cli.color, args.output.is_some()),
            config,
        })
    }

    /// The settings of a daemon's audit of `ws`, with the service config's `[audit]`.
    pub fn for_workspace(config: &AuditConfig, ws: &Workspace) -> AuditSettings {
        AuditSettings {
            inventory: None,
            api_url: ws
                .api_url
                .clone()
                .or_else(|| config.api_url.clone())
                .unwrap_or_else(|| mask::DEFAULT_BASE_URL.to_string()),
            key: match &ws.key {
                Some(source) => KeySource::Configured {
                    source: source.clone(),
                    what: format!("daemon.workspace[{}].key", ws.name),
                },
                None => KeySource::Lookup {
                    file: None,
                    env: key_env(config),
                },
            },
            concurrency: config.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
            findings: None,
            include_revoked: false,
            format: AuditFormat::Json,
            output: None,
            fail_on: config.fail_on.unwrap_or(Severity::Medium),
            now: Utc::now(),
            color: false,
            config: config.clone(),
        }
    }
}

fn key_env(config: &AuditConfig) -> String {
    config
        .key_env
        .clone()
        .unwrap_or_else(|| DEFAULT_KEY_ENV.into())
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
