//! Where the auditor's own key comes from. Never the command line, never the config file.
//!
//! Precedence, highest first:
//! 1. `--key-file FILE` (the whole file, surrounding whitespace trimmed);
//! 2. the environment variable (default `MASK_API_KEY`);
//! 3. the systemd credential `$CREDENTIALS_DIRECTORY/mask-api-key`.

use crate::error::{Error, Result};
use crate::secret::{SecretKey, redact};
use std::path::{Path, PathBuf};

/// The systemd credential's name.
pub const CREDENTIAL_NAME: &str = "mask-api-key";

/// Where the audit key was read from (for messages; never the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditKeyOrigin {
    /// `--key-file`.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// `$CREDENTIALS_DIRECTORY/mask-api-key`.
    Credential(PathBuf),
}

impl std::fmt::Display for AuditKeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditKeyOrigin::File(p) => write!(f, "key file {}", p.display()),
            AuditKeyOrigin::Env(v) => {
                write!(f, "environment variable {}", crate::redact::env_name(v))
            }
            AuditKeyOrigin::Credential(p) => write!(f, "systemd credential {}", p.display()),
        }
    }
}

/// Finds the audit key: `key_file`, else `$env_var`, else the systemd credential.
pub fn load_audit_key(
    key_file: Option<&Path>,
    env_var: &str,
) -> Result<(SecretKey, AuditKeyOrigin)> {
    if let Some(path) = key_file {
        let text = crate::bounded::read(path).map_err(|e| Error::io(path, e))?;
        let origin = AuditKeyOrigin::File(path.to_path_buf());
        return parse_key(&text, &origin).map(|k| (k, origin));
    }
    if let Some(v) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        let origin = AuditKeyOrigin::Env(env_var.to_string());
        return parse_key(v.as_encoded_bytes(), &origin).map(|k| (k, origin));
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(CREDENTIAL_NAME);
        if path.is_file() {
            let text = crate::bounded::read(&path).map_err(|e| Error::io(&path, e))?;
            let origin = AuditKeyOrigin::Credential(path);
            return parse_key(&text, &origin).map(|k| (k, origin));
        }
    }
    if !crate::redact::is_conventional_env_name(env_var) {
        return Err(Error::AuditKey {
            message: format!(
                "no audit key: the environment variable named by [audit] key_env is not set or not a valid name {}, no --key-file was given and no systemd credential `{CREDENTIAL_NAME}` exists",
                crate::redact::NAME_NOT_SHOWN
            ),
            hint: crate::redact::PASTED_SECRET_HINT.to_string(),
        });
    }
    Err(Error::AuditKey {
        message: format!(
            "no audit key: {env_var} is not set, no --key-file was given and no systemd credential `{CREDENTIAL_NAME}` exists"
        ),
        hint: format!(
            "create a key with only the workspace:read scope and export {env_var}=mk_live_…, or pass --key-file FILE; use --inventory FILE to audit without the API"
        ),
    })
}

/// Validates a key read from `origin`: `mk_live_`/`mk_test_` and an alphanumeric body.
pub fn parse_key(raw: &[u8], origin: &AuditKeyOrigin) -> Result<SecretKey> {
    let key = raw.trim_ascii();
    let body = key
        .strip_prefix(b"mk_live_")
        .or_else(|| key.strip_prefix(b"mk_test_"));
    match body {
        None => Err(Error::AuditKey {
            message: format!("the key in {origin} does not start with mk_live_ or mk_test_"),
            hint: "the audit key is a MASK API key; copy it from Settings → API Keys".into(),
        }),
        Some(b) if b.len() < 12 || !b.iter().all(u8::is_ascii_alphanumeric) => {
            Err(Error::AuditKey {
                message: format!(
                    "the key in {origin} ({}) is malformed: its body must be 12 or more letters and digits",
                    redact(key)
                ),
                hint: "check for a truncated copy or stray characters".into(),
            })
        }
        Some(_) => Ok(SecretKey::new(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_key_trims_and_validates_without_leaking() {
        let o = AuditKeyOrigin::Env("X".into());
        let k = parse_key(b"  mk_live_4eC39HqLyjWDarjtT1zdp7dc\n", &o).unwrap();
        assert_eq!(k.last_four(), "p7dc");
        let e = parse_key(b"mk_live_4eC39HqLyjWD-rjtT1zdp7dc", &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed"), "{e}");
        assert!(!e.contains("4eC39HqLyjWD-rjtT1zdp7dc"), "{e}");
        let e = parse_key(b"sk_live_abc", &o).unwrap_err().to_string();
        assert!(e.contains("does not start with"), "{e}");
        assert!(!e.contains("sk_live_abc"), "{e}");
    }
}
