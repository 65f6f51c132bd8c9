//! The choke point for text that leaves the process: stdout, stderr, logs, report files,
//! the state store, mail and webhooks all pass through [`scrub`] (or a [`ScrubWriter`]),
//! which replaces anything shaped like a MASK key with its redacted form. Text that came
//! from outside (file names, API-supplied names, API error messages) is also made inert
//! for terminals and markup with [`clean`]: control characters become visible escapes.
//!
//! [`looks_like_secret`] guards fields that must hold a *name* (an environment variable,
//! a file path) against a pasted value; errors about such fields never echo it.

use regex::bytes::Regex as BytesRegex;
use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::LazyLock;

/// Anything shaped like a MASK key: `mk_<word>_` and 12 or more letters and digits. Wider
/// than the detection rules on purpose (no word boundary, placeholders included): a false
/// redaction costs nothing, a missed one leaks a key.
static KEY_SHAPE: LazyLock<BytesRegex> = LazyLock::new(|| {
    BytesRegex::new(r"mk_[A-Za-z]{1,16}_(?:[A-Za-z]{1,16}_)?[A-Za-z0-9]{12,}")
        .expect("the key-shape regex is valid")
});

/// `bytes` with every key-shaped run replaced by its redacted form.
pub fn scrub_bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memmem::find(bytes, b"mk_").is_none() {
        return Cow::Borrowed(bytes);
    }
    KEY_SHAPE.replace_all(bytes, |c: &regex::bytes::Captures<'_>| {
        crate::secret::redact(&c[0]).into_bytes()
    })
}

/// `text` with every key-shaped run replaced by its redacted form.
pub fn scrub(text: &str) -> Cow<'_, str> {
    match scrub_bytes(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        // Replacing ASCII runs by valid UTF-8 keeps the text valid UTF-8.
        Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Text from outside (a file name, a key or workspace name from the API, an API error
/// message) made safe to print, store and send: keys redacted, control characters (ESC,
/// CR, LF, tab, DEL, C1, bidi overrides) shown as `\u{…}`-style escapes so they cannot
/// move the cursor, clear the screen, hide a line or break a table row.
pub fn clean(text: &str) -> String {
    clean_upto(text, usize::MAX)
}

/// [`clean`], cut to [`MAX_NAME`] characters (ending in `…`): for names a server supplies,
/// so a 10 MB workspace name cannot grow a report, a mail header or the state.
pub fn clean_name(text: &str) -> String {
    clean_upto(text, MAX_NAME)
}

fn clean_upto(text: &str, max: usize) -> String {
    let scrubbed = scrub(text);
    let mut out = String::with_capacity(scrubbed.len().min(MAX_NAME * 4));
    for (n, c) in scrubbed.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest name [`clean_name`] keeps, in characters: longer ones are cut and end in `…`
/// (a 10 MB workspace name must not grow the state or a mail header by as much).
pub const MAX_NAME: usize = 256;

/// True when `value`, found in a field that must hold a name (an environment variable's
/// name), looks like a pasted secret instead: a MASK key, or a string no one would name
/// a variable (characters outside `[A-Za-z0-9_]`, or lower case, upper case and digits
/// mixed like a generated password).
pub fn looks_like_secret(value: &str) -> bool {
    looks_like_secret_in(value, b"_") || value.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// [`looks_like_secret`] for a name made of letters, digits and the bytes of `allowed`
/// (a systemd credential's name may hold `-` and `.` too).
fn looks_like_secret_in(value: &str, allowed: &[u8]) -> bool {
    if KEY_SHAPE.is_match(value.as_bytes()) || value.starts_with("mk_") {
        return true;
    }
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || allowed.contains(&b))
    {
        return true;
    }
    let lower = value.bytes().any(|b| b.is_ascii_lowercase());
    let upper = value.bytes().any(|b| b.is_ascii_uppercase());
    let digit = value.bytes().any(|b| b.is_ascii_digit());
    (lower && upper && digit) || value.len() > 128
}

/// Deserializes a field that names an environment variable (`key_env`, `{ env = … }`),
/// refusing a value that [`looks_like_secret`]: people paste the secret where its name
/// goes. The error never contains the value.
pub fn de_env_name<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = serde::Deserialize::deserialize(de)?;
    match v {
        Some(name) if looks_like_secret(&name) => Err(serde::de::Error::custom(
            "this field takes the NAME of an environment variable (like MASK_API_KEY), \
             but its value looks like a secret (not shown); put the secret in the variable \
             and the variable's name here, then rotate the secret if this file was shared",
        )),
        v => Ok(v),
    }
}

/// Deserializes a string from outside (an API response, an inventory file) through
/// [`clean_name`]: keys redacted, control characters escaped, at most [`MAX_NAME`]
/// characters.
pub fn de_clean<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let v: String = serde::Deserialize::deserialize(de)?;
    Ok(clean_name(&v))
}

/// [`de_clean`] for an optional string.
pub fn de_clean_opt<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = serde::Deserialize::deserialize(de)?;
    Ok(v.map(|v| clean_name(&v)))
}

/// [`de_env_name`] for a systemd credential's name (`{ credential = … }`), which may
/// also hold `-` and `.`.
pub fn de_credential_name<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<String>, D::Error> {
    let v: Option<String> = serde::Deserialize::deserialize(de)?;
    match v {
        Some(name) if looks_like_secret_in(&name, b"_-.@") => Err(serde::de::Error::custom(
            "this field takes the NAME of a systemd credential (like smtp-password), but its \
             value looks like a secret (not shown); put the secret in the credential and its \
             name here, then rotate the secret if this file was shared",
        )),
        v => Ok(v),
    }
}

/// True when a config value (a setting's value, not a name field) looks like a secret:
/// key-shaped, or one word mixing lower case, upper case and digits, or letters, digits
/// and symbols, like a generated password. `Europe/Berlin`, `0 0 7 * * MON`, `90` and
/// `a@example.com` do not.
pub fn looks_like_secret_value(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']);
    if KEY_SHAPE.is_match(v.as_bytes()) {
        return true;
    }
    if v.len() < 8 || v.contains(char::is_whitespace) {
        return false;
    }
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    let symbol = v
        .bytes()
        .any(|b| !b.is_ascii_alphanumeric() && !b"-_./:@".contains(&b));
    (lower && upper && digit) || ((lower || upper) && digit && symbol)
}

/// True for a conventional environment variable name (`MASK_API_KEY`): an upper-case
/// letter or `_`, then upper-case letters, digits and `_`; at most 128 bytes.
pub fn is_conventional_env_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=128).contains(&b.len())
        && (b[0].is_ascii_uppercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// True when a file or systemd credential name (`smtp-password`, `hook.secret`) may be
/// shown: it holds `.`, `-`, `_` or `/`, or is lower-case letters only. Anything else
/// (`hunter2`) could be the secret itself, pasted where its name goes.
pub fn is_showable_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !looks_like_secret_in(name, b"_-./@")
        && (name.bytes().any(|c| b"._-/".contains(&c))
            || name.bytes().all(|c| c.is_ascii_lowercase()))
}

/// What messages say in place of a name that is not shown ([`is_conventional_env_name`],
/// [`is_showable_file_name`]).
pub const NAME_NOT_SHOWN: &str =
    "(name not shown: it is not a conventional name and may be the secret itself)";

/// An environment variable's name as messages may show it: a conventional name as is,
/// any other as [`NAME_NOT_SHOWN`] (`password = { env = "hunter2" }` must not echo it).
pub fn env_name(name: &str) -> &str {
    if is_conventional_env_name(name) {
        name
    } else {
        NAME_NOT_SHOWN
    }
}

/// The hint for a name field whose name is not shown.
pub const PASTED_SECRET_HINT: &str = "if you pasted the secret itself there, move it into the \
    environment (or a file, or a systemd credential), put its name there (like \
    KEYWARDEN_SMTP_PASSWORD), and rotate the secret if the config was shared";

/// A writer that scrubs keys from everything written through it. It holds back an
/// incomplete last line (a key may be split across writes) until a newline, [`flush`]
/// or drop.
///
/// [`flush`]: Write::flush
pub struct ScrubWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> ScrubWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        ScrubWriter {
            inner,
            pending: Vec::new(),
        }
    }

    fn write_out(&mut self, upto: usize) -> io::Result<()> {
        let chunk: Vec<u8> = self.pending.drain(..upto).collect();
        self.inner.write_all(&scrub_bytes(&chunk))
    }
}

/// Held-back bytes above this go out even without a newline (a key is at most a few
/// hundred bytes; the tail of this size is kept so it is never cut).
const HOLD: usize = 64 * 1024;
const KEEP: usize = 2 * 1024;

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(nl) = memchr::memrchr(b'\n', &self.pending) {
            self.write_out(nl + 1)?;
        } else if self.pending.len() > HOLD {
            // Cut at a byte that cannot be inside a key.
            let cut = self.pending.len() - KEEP;
            let at = self.pending[..cut]
                .iter()
                .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                .map_or(0, |i| i + 1);
            if at > 0 {
                self.write_out(at)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let n = self.pending.len();
        self.write_out(n)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for ScrubWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "mk_live_Qm7Tz2Xw9Lp4Vn8Rb3Kc6Hd1";

    #[test]
    fn scrub_redacts_every_key_shape() {
        let s = format!("a {KEY} b x{KEY}y mk_test_Ab12Cd34Ef56Gh78 mk_live_short");
        let out = scrub(&s);
        assert!(!out.contains("Qm7Tz2Xw9Lp4Vn8Rb3Kc6Hd1"), "{out}");
        assert!(out.contains("mk_live_Qm7T…6Hd1"), "{out}");
        assert!(!out.contains("Ab12Cd34Ef56Gh78"), "{out}");
        assert!(out.contains("mk_live_short"), "{out}");
    }

    #[test]
    fn clean_escapes_control_characters_and_bounds_length() {
        let out = clean("a\u{1b}]0;x\u{7}b\rc\nd\u{1b}[2J");
        assert_eq!(out, "a\\u{1b}]0;x\\u{7}b\\rc\\nd\\u{1b}[2J");
        let long = "x".repeat(10_000);
        assert_eq!(clean_name(&long).chars().count(), MAX_NAME + 1);
        assert_eq!(clean(&long), long);
    }

    #[test]
    fn writer_scrubs_keys_split_across_writes() {
        let mut out = Vec::new();
        {
            let mut w = ScrubWriter::new(&mut out);
            w.write_all(b"key: mk_live_Qm7Tz2Xw9").unwrap();
            w.write_all(b"Lp4Vn8Rb3Kc6Hd1\nnext ").unwrap();
            w.write_all(KEY.as_bytes()).unwrap();
        }
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("Qm7Tz2Xw9Lp4Vn8Rb3Kc6Hd1"), "{s}");
        assert_eq!(s.matches("mk_live_Qm7T…6Hd1").count(), 2, "{s}");
    }

    #[test]
    fn names_that_look_like_secrets() {
        assert!(looks_like_secret(KEY));
        assert!(looks_like_secret("hunter2!"));
        assert!(looks_like_secret("Tr0ub4dor3x"));
        assert!(looks_like_secret(""));
        assert!(!looks_like_secret("MASK_AUDIT_KEY"));
        assert!(!looks_like_secret("smtp_password"));
        assert!(!looks_like_secret("KEY2"));
    }
}
