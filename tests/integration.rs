//! The one integration-test binary. Modules:
//!
//! - `scan_cli`: `keywarden scan` end to end: formats, exit codes, ignore rules, encodings.
//! - `suppression`: inline directives, `.keywarden.toml` allowlist, expiry, stale entries.
//! - `no_leak`: every output format and file, checked for full keys.
//! - `labeled`: the labeled set of keys and look-alikes (`tests/data/labeled.toml`).
//! - `contexts`: path → context table.
//! - `rules_cli`: `keywarden rules list|check`.
//! - `props`: property tests of the matcher.
//! - `git_staged`: `scan --staged` on real repositories (partial staging, renames, …).
//! - `git_history`: `scan --history/--since/--range`, shallow clones, 1,000 commits.
//! - `git_hook`: `hook install|uninstall` and a real `git commit` blocked.
//! - `baseline`: `keywarden baseline` and `scan --baseline`.
//! - `precommit`: the pre-commit framework (`pre-commit try-repo`) against this checkout.
//! - `mask_client`: the MASK API client against loopback HTTP servers.
//! - `audit_cli`: `keywarden audit` and `scan --verify` end to end.
//! - `notify`: `scan --notify` and `outbox` against aiosmtpd and an HTTP receiver.
//! - `daemon`: `keywarden daemon` (sd_notify, watch, SIGHUP/SIGTERM/SIGKILL), `config
//!   check`, `status`.

mod util;

mod audit_cli;
mod contexts;
mod daemon;
mod labeled;
mod mask_client;
mod no_leak;
mod notify;
mod props;
mod rules_cli;
mod scan_cli;
mod suppression;

// Git: staged, history, hook, baselines, pre-commit.
mod baseline;
mod git_history;
mod git_history_scale;
mod git_hook;
mod git_staged;
mod precommit;
