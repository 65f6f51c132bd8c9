//! The service config (`--config FILE`, e.g. `/etc/keywarden/keywarden.toml`): what
//! `keywarden audit`, the notifiers and the daemon read. Not the repository's
//! `.keywarden.toml` (that one is [`crate::config`]).
//!
//! Each section is owned and validated by its module; this file only lists them. Unknown
//! top-level keys are errors.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole service config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// `[audit]`: thresholds, exceptions, API settings (owned by `audit`).
    #[serde(default)]
    pub audit: crate::audit::AuditConfig,

    /// `[notify]`: channels (owned by `notify`).
    #[serde(default)]
    pub notify: crate::notify::NotifyConfig,

    /// `[state]`: where the state store lives (owned by `store`).
    #[serde(default)]
    pub state: crate::store::StateConfig,

    /// `[daemon]`: schedules, scan targets, watch (owned by `daemon`).
    #[serde(default)]
    pub daemon: crate::daemon::config::DaemonConfig,
}

/// A parsed service config with its text, for line and column of later errors.
#[derive(Debug, Default)]
pub struct LoadedConfig {
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its content.
    pub config: ServiceConfig,
}

impl LoadedConfig {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<LoadedConfig> {
        let text = crate::bounded::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, text)
    }

    /// Parses `text` as the config at `path`.
    pub fn parse(path: &Path, text: String) -> Result<LoadedConfig> {
        let config: ServiceConfig = toml::from_str(&text).map_err(|e| {
            let mut err = crate::toml_error::config_error(
                path,
                &text,
                &e,
                "see the README's configuration reference for this setting",
            );
            // A misspelled section at the top: say which sections exist.
            if e.message().starts_with("unknown field")
                && e.message().contains("`audit`")
                && let Error::Config { hint, .. } = &mut err
            {
                *hint = "top-level sections are [audit], [notify], [state] and [daemon]; see the README's configuration reference".into();
            }
            err
        })?;
        Ok(LoadedConfig {
            path: path.to_path_buf(),
            text,
            config,
        })
    }
}
