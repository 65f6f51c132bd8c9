//! `[notify]` of the service config: channels, retry policy, template overrides, and the
//! secrets they read (from the environment, a file, or a systemd credential; never from
//! the config file itself).

use crate::error::{Error, Result};
use crate::redact;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// `[notify]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// A directory whose `report.txt`, `report.md`, `report.html` (any of them) replace the
    /// built-in templates. Relative to the config file. Default: none.
    pub templates: Option<PathBuf>,
    /// `[notify.retry]`.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// `[[notify.email]]`: SMTP channels.
    #[serde(default)]
    pub email: Vec<EmailChannel>,
    /// `[[notify.webhook]]`: webhook and Slack channels.
    #[serde(default)]
    pub webhook: Vec<WebhookChannel>,
}

/// `[notify.retry]`: exponential backoff with jitter, across runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Delay before the second attempt, in ms; doubles each attempt. Default 30000.
    pub base_delay_ms: u64,
    /// Longest delay between attempts, in ms. Default 3600000 (one hour).
    pub max_delay_ms: u64,
    /// Attempts before a transiently failing message is dead-lettered. Default 20.
    pub max_attempts: u32,
    /// How long one run keeps retrying before it leaves the rest pending for the next
    /// run, in ms. Default 60000.
    pub run_budget_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay_ms: 30_000,
            max_delay_ms: 3_600_000,
            max_attempts: 20,
            run_budget_ms: 60_000,
        }
    }
}

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (required). Default port 587.
    Starttls,
    /// TLS from the first byte ("SMTPS"). Default port 465.
    Implicit,
    /// No TLS: only to a loopback address. Default port 25.
    None,
}

/// `[[notify.email]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    /// Channel name, unique among channels (shown in `keywarden outbox list`).
    pub name: String,
    /// SMTP server host name or address.
    pub host: String,
    /// Port. Default: by `tls`.
    pub port: Option<u16>,
    /// `starttls` (default), `implicit` or `none` (loopback only).
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// Extra root certificate (PEM) to trust, for a private CA. Relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// Sender, e.g. `Keywarden <keywarden@example.com>`.
    pub from: String,
    /// Recipients (one or more).
    pub to: Vec<String>,
    /// AUTH user name; with it, `password` is required.
    pub username: Option<String>,
    /// Where the AUTH password comes from.
    pub password: Option<SecretSource>,
    /// Seconds before a connection or command times out. Default 30.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// What a webhook channel posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Standard Webhooks: `{"type","timestamp","data"}`, signed. The default.
    #[default]
    Standard,
    /// Slack Block Kit with a `text` fallback (report events only).
    Slack,
}

/// `[[notify.webhook]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    /// Channel name, unique among channels.
    pub name: String,
    /// Where the URL comes from: URLs of chat services are credentials.
    pub url: SecretSource,
    /// `standard` (default) or `slack`.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Signing secret(s), `whsec_<base64>`; two separated by a space during rotation.
    /// Required for `standard`.
    pub secret: Option<SecretSource>,
    /// Event types to send. Default: all (`keywarden.report`, `keywarden.finding.opened`,
    /// `keywarden.finding.resolved`, `keywarden.leak.detected`, `keywarden.outage`); Slack
    /// gets reports and outages only.
    pub events: Option<Vec<String>>,
    /// Extra root certificate (PEM) to trust. Relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// Seconds before a request times out. Default 30.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_tls() -> TlsMode {
    TlsMode::Starttls
}

fn default_timeout() -> u64 {
    30
}

/// Every event type, in the order they are enqueued.
pub const EVENT_TYPES: [&str; 5] = [
    "keywarden.report",
    "keywarden.finding.opened",
    "keywarden.finding.resolved",
    "keywarden.leak.detected",
    "keywarden.outage",
];

/// Where a secret comes from: exactly one of `env`, `file`, `credential`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    /// An environment variable's name (a value that looks like a secret is refused).
    #[serde(default, deserialize_with = "crate::redact::de_env_name")]
    pub env: Option<String>,
    /// A file (trailing newline ignored). Relative to the config file.
    pub file: Option<PathBuf>,
    /// A systemd credential's name (`$CREDENTIALS_DIRECTORY/<name>`, `LoadCredential=`);
    /// a value that looks like a secret is refused.
    #[serde(default, deserialize_with = "crate::redact::de_credential_name")]
    pub credential: Option<String>,
}

/// A secret value: its `Debug` never shows it, and it has no `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value. Only for handing to the transport; never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl SecretSource {
    /// Reads the secret; `what` names it in errors (`notify.email[security].password`).
    pub fn read(&self, what: &str) -> Result<Secret> {
        let err = |message: String, hint: &str| Error::Secret {
            what: what.to_string(),
            message,
            hint: hint.to_string(),
        };
        let value = match (&self.env, &self.file, &self.credential) {
            (Some(var), None, None) => std::env::var(var).map_err(|_| {
                if redact::is_conventional_env_name(var) {
                    err(
                        format!("environment variable {var} is not set (or not UTF-8)"),
                        "export it, or read the secret from a file or a systemd credential",
                    )
                } else {
                    err(
                        format!(
                            "the environment variable it names is not set or not a valid name {}",
                            redact::NAME_NOT_SHOWN
                        ),
                        redact::PASTED_SECRET_HINT,
                    )
                }
            })?,
            (None, Some(file), None) => {
                let path = file;
                crate::bounded::read_to_string(path).map_err(|e| {
                    let shown = path
                        .file_name()
                        .is_some_and(|n| redact::is_showable_file_name(&n.to_string_lossy()));
                    if shown {
                        err(
                            format!("{}: {e}", path.display()),
                            "make the file readable by the keywarden user (mode 0600)",
                        )
                    } else {
                        err(
                            format!(
                                "the file it names cannot be read {}: {e}",
                                redact::NAME_NOT_SHOWN
                            ),
                            redact::PASTED_SECRET_HINT,
                        )
                    }
                })?
            }
            (None, None, Some(name)) => {
                let shown = if redact::is_showable_file_name(name) {
                    format!("credential {name:?}")
                } else {
                    format!("the credential it names {}", redact::NAME_NOT_SHOWN)
                };
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    err(
                        format!("{shown}: $CREDENTIALS_DIRECTORY is not set"),
                        "run under systemd with LoadCredential= or SetCredentialEncrypted=, or use env/file",
                    )
                })?;
                let path = Path::new(&dir).join(name);
                crate::bounded::read_to_string(&path).map_err(|e| {
                    let at = if redact::is_showable_file_name(name) {
                        format!(" ({})", path.display())
                    } else {
                        String::new()
                    };
                    err(
                        format!("{shown}{at}: {}", crate::redact::scrub(&e.to_string())),
                        "check LoadCredential= in the unit",
                    )
                })?
            }
            _ => {
                return Err(err(
                    "set exactly one of env, file, credential".into(),
                    "e.g. password = { env = \"KEYWARDEN_SMTP_PASSWORD\" }",
                ));
            }
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err(err("the secret is empty".into(), "put the secret in it"));
        }
        Ok(Secret(value))
    }
}

/// True for `localhost` and loopback addresses.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl NotifyConfig {
    /// Makes relative paths (templates, CA files, secret files) relative to `base`, the
    /// config file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(t) = &mut self.templates {
            fix(t);
        }
        for c in &mut self.email {
            c.ca_file.as_mut().map(fix);
            if let Some(f) = c.password.as_mut().and_then(|s| s.file.as_mut()) {
                fix(f);
            }
        }
        for c in &mut self.webhook {
            c.ca_file.as_mut().map(fix);
            for s in [Some(&mut c.url), c.secret.as_mut()].into_iter().flatten() {
                if let Some(f) = s.file.as_mut() {
                    fix(f);
                }
            }
        }
    }

    /// True when no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.email.is_empty() && self.webhook.is_empty()
    }

    /// Checks what serde cannot: unique names, recipients, plain SMTP only to loopback,
    /// known event types, signing secrets for standard webhooks. `path` is the config file.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let err = |key: String, message: String, hint: &str| Error::NotifyConfig {
            path: path.to_path_buf(),
            key,
            message,
            hint: hint.to_string(),
        };
        let mut names = std::collections::BTreeSet::new();
        let all = self
            .email
            .iter()
            .map(|c| ("email", &c.name))
            .chain(self.webhook.iter().map(|c| ("webhook", &c.name)));
        for (kind, name) in all {
            if name.is_empty() || !names.insert(name.as_str()) {
                return Err(err(
                    format!("notify.{kind}.name"),
                    format!("channel name {name:?} is empty or used twice"),
                    "give every [[notify.email]] and [[notify.webhook]] a unique name",
                ));
            }
        }
        for c in &self.email {
            let key = |k: &str| format!("notify.email[{}].{k}", c.name);
            if c.to.is_empty() {
                return Err(err(
                    key("to"),
                    "no recipient".into(),
                    "list one or more addresses",
                ));
            }
            let addresses =
                std::iter::once(("from", &c.from)).chain(c.to.iter().map(|t| ("to", t)));
            for (k, addr) in addresses {
                if let Err(e) = addr.parse::<lettre::message::Mailbox>() {
                    return Err(err(
                        key(k),
                        format!("{addr:?} is not an email address: {e}"),
                        "write `name@example.com` or `Name <name@example.com>`",
                    ));
                }
            }
            if c.tls == TlsMode::None && !is_loopback_host(&c.host) {
                return Err(err(
                    key("tls"),
                    format!(
                        "tls = \"none\" to {}: plain SMTP is only allowed to loopback",
                        c.host
                    ),
                    "use tls = \"starttls\" or \"implicit\"",
                ));
            }
            if c.username.is_some() != c.password.is_some() {
                return Err(err(
                    key("password"),
                    "username and password go together".into(),
                    "set both, or neither for an unauthenticated relay",
                ));
            }
        }
        for c in &self.webhook {
            let key = |k: &str| format!("notify.webhook[{}].{k}", c.name);
            if c.format == WebhookFormat::Standard && c.secret.is_none() {
                return Err(err(
                    key("secret"),
                    "a standard webhook needs a signing secret".into(),
                    "secret = { env = \"KEYWARDEN_WEBHOOK_SECRET\" } holding whsec_<base64>",
                ));
            }
            for e in c.events.iter().flatten() {
                if !EVENT_TYPES.contains(&e.as_str()) {
                    return Err(err(
                        key("events"),
                        format!("unknown event type {e:?}"),
                        "use keywarden.report, keywarden.finding.opened, keywarden.finding.resolved, keywarden.leak.detected, keywarden.outage",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl WebhookChannel {
    /// Does this channel take `event`?
    pub fn wants(&self, event: &str) -> bool {
        if self.format == WebhookFormat::Slack
            && !matches!(event, "keywarden.report" | "keywarden.outage")
        {
            return false;
        }
        self.events
            .as_ref()
            .is_none_or(|list| list.iter().any(|e| e == event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_sources_and_debug() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "hunter2\n").unwrap();
        let s = SecretSource {
            file: Some(dir.path().join("pw")),
            ..Default::default()
        };
        let v = s.read("x").unwrap();
        assert_eq!(v.expose(), "hunter2");
        assert_eq!(format!("{v:?}"), "Secret(***)");
        let none = SecretSource::default().read("notify.x").unwrap_err();
        assert!(none.to_string().contains("exactly one"), "{none}");
        let missing = SecretSource {
            env: Some("KEYWARDEN_SURELY_UNSET_VAR".into()),
            ..Default::default()
        };
        assert!(missing.read("x").is_err());
    }

    #[test]
    fn plain_smtp_only_to_loopback() {
        let cfg: NotifyConfig = toml::from_str(
            "[[email]]\nname='m'\nhost='smtp.example.com'\ntls='none'\nfrom='a@b.c'\nto=['d@e.f']\n",
        )
        .unwrap();
        let e = cfg.validate(Path::new("k.toml")).unwrap_err().to_string();
        assert!(e.contains("notify.email[m].tls"), "{e}");
        let cfg: NotifyConfig = toml::from_str(
            "[[email]]\nname='m'\nhost='localhost'\nfrom='a@b.c'\nto=['not an address']\n",
        )
        .unwrap();
        let e = cfg.validate(Path::new("k.toml")).unwrap_err().to_string();
        assert!(
            e.contains("notify.email[m].to") && e.contains("not an address"),
            "{e}"
        );
        assert!(is_loopback_host("127.0.0.1") && is_loopback_host("[::1]"));
        assert!(!is_loopback_host("10.0.0.1"));
    }
}
