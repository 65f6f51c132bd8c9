//! The one place that handles a found key's secret bytes: fingerprint and redaction.
//!
//! A [`SecretKey`] never prints itself: its `Debug` shows the redacted form, it has no
//! `Display` and no `Serialize`. What leaves a run is a [`Fingerprint`] (SHA-256 of the full
//! key, hex) or the redacted form (`mk_live_4eC3…p7dc`: prefix, first 4, `…`, last 4).

use sha2::{Digest, Sha256};
use std::fmt;

/// A key found in a file. Lives only in memory, for the duration of a run.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretKey(Box<[u8]>);

impl SecretKey {
    /// Wraps the full key bytes (prefix and body).
    pub fn new(bytes: &[u8]) -> Self {
        SecretKey(bytes.into())
    }

    /// SHA-256 of the full key.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.0)
    }

    /// The display form: prefix + first 4 of the body + `…` + last 4.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    /// The last four characters of the key (MASK's `last_four`).
    pub fn last_four(&self) -> String {
        let n = self.0.len();
        String::from_utf8_lossy(&self.0[n.saturating_sub(4)..]).into_owned()
    }

    /// The key's prefix up to and including its second `_` (`mk_live_`).
    pub fn prefix(&self) -> &str {
        let end = prefix_len(&self.0);
        std::str::from_utf8(&self.0[..end]).unwrap_or("")
    }

    /// The key's body, after the prefix.
    pub fn body(&self) -> &[u8] {
        &self.0[prefix_len(&self.0)..]
    }

    /// The full key. Only for calling the MASK API with it (`--verify`); never print it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.redacted())
    }
}

fn prefix_len(key: &[u8]) -> usize {
    // `mk_live_…`: up to and including the second underscore, if any.
    let mut seen = 0;
    for (i, &b) in key.iter().enumerate() {
        if b == b'_' {
            seen += 1;
            if seen == 2 {
                return i + 1;
            }
        }
    }
    0
}

/// Redacts a key: prefix + first 4 + `…` + last 4 of the body; a body of 12 or fewer
/// characters shows only its first 2 and last 2, so at most a third of it is shown.
pub fn redact(key: &[u8]) -> String {
    let p = prefix_len(key);
    let (prefix, body) = key.split_at(p);
    let prefix = String::from_utf8_lossy(prefix);
    let show = if body.len() > 12 { 4 } else { body.len() / 6 };
    if show == 0 {
        return format!("{prefix}…");
    }
    format!(
        "{prefix}{}…{}",
        String::from_utf8_lossy(&body[..show]),
        String::from_utf8_lossy(&body[body.len() - show..])
    )
}

/// SHA-256 of a full key, as 64 lowercase hex characters.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `key`.
    pub fn of(key: &[u8]) -> Self {
        Fingerprint(hex::encode(Sha256::digest(key)))
    }

    /// Parses a 64-hex-digit fingerprint (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(Fingerprint(s))
    }

    /// The hex form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, for compact display.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_shows_prefix_first_and_last_four() {
        assert_eq!(
            redact(b"mk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            "mk_live_4eC3…p7dc"
        );
        // short legacy key: at most a third of the body shows
        assert_eq!(redact(b"mk_test_Ab12Cd34Ef56"), "mk_test_Ab…56");
        assert_eq!(redact(b"mk_test_"), "mk_test_…");
    }

    #[test]
    fn debug_never_prints_the_key() {
        let k = SecretKey::new(b"mk_live_4eC39HqLyjWDarjtT1zdp7dc");
        let s = format!("{k:?}");
        assert!(!s.contains("4eC39HqLyjWDarjtT1zdp7dc"), "{s}");
        assert_eq!(k.last_four(), "p7dc");
        assert_eq!(k.prefix(), "mk_live_");
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        let f = Fingerprint::of(b"abc");
        assert_eq!(
            f.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Fingerprint::parse(&f.as_str().to_uppercase()), Some(f));
    }
}
