//! The one integration-test binary. Modules:
//!
//! - `scan_cli`: `keywarden scan` end to end: formats, exit codes, ignore rules, encodings.
//! - `suppression`: inline directives, `.keywarden.toml` allowlist, expiry, stale entries.
//! - `no_leak`: every output format and file, checked for full keys.
//! - `labeled`: the labeled set of keys and look-alikes (`tests/data/labeled.toml`).
//! - `contexts`: path → context table.
//! - `rules_cli`: `keywarden rules list|check`.
//! - `props`: property tests of the matcher.
//! - `notify`: `scan --notify` and `outbox` against aiosmtpd and an HTTP receiver.

mod util;

mod contexts;
mod labeled;
mod no_leak;
mod notify;
mod props;
mod rules_cli;
mod scan_cli;
mod suppression;
