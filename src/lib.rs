//! Keywarden keeps MASK API keys (`mk_live_…`, `mk_test_…`) out of code and keeps the keys
//! that exist healthy.
//!
//! # Layout
//!
//! - [`cli`]: clap types only; [`settings`]: flags + env + config file → settings.
//! - [`commands`]: one module per subcommand: arguments in, rendering out; each returns an
//!   exit code.
//! - [`run`]: the use cases the commands and the daemon share: scan, verify, audit, publish.
//! - [`rules`]: rules as data (TOML schema, loading, compiled database, `rules check`).
//! - [`scan`]: the engine: walk, prefilter + regex matcher, context, placeholders, outcome;
//!   archives and container images opened in tree scans.
//! - [`report`]: text, JSON and SARIF renderers; the report model and its templates.
//! - [`notify`]: email and webhook delivery of reports through the outbox.
//! - [`store`]: the SQLite state store (outbox, report history); the only module with SQL.
//! - [`config`]: the repository's `.keywarden.toml` (scan settings, allowlist, rules).
//! - [`service_config`]: the service config (`--config FILE`): [audit], [notify], [state], [daemon].
//! - [`finding`]: the model (severity, context, environment, finding).
//! - [`secret`]: the only holder of key bytes: fingerprints and redaction.
//! - [`redact`]: the choke point for text leaving the process (keys scrubbed, names made inert).
//! - [`error`]: typed errors that say what, where and how to fix.
//! - [`git`]: the repository read in-process with gix: index vs HEAD, history, hooks.
//! - [`baseline`]: known findings (fingerprint + path + rule + context), sorted JSON.
//! - [`logging`]: tracing setup.
//! - [`bounded`]: reading Keywarden's own input files (regular files only, size cap).
//! - [`tls`]: the single rustls crypto provider (ring).
//! - [`mask`]: the MASK API client (the one place that knows the API's shape).
//! - [`audit`]: key-hygiene policies (pure), the recommendation model, the audit report.
//! - [`agent`]: coding-agent hooks (Claude Code, Cursor, generic): payloads and settings.
//! - [`daemon`]: `keywarden daemon`: schedules, file watching, state, systemd protocol.
//! - [`fleet`]: an organisation's repositories: listed (GitHub, GitLab), mirrored with git,
//!   scanned incrementally.
//!
//! Dependencies run one way: commands and daemon → run → engines (scan, git, audit, mask)
//! and delivery (report, notify, store) → model.
// `unsafe` is allowed only in small modules for measured needs: `scan::simd` (the search
// loop), `scan::mapped` (big files mapped, SIGBUS handled) and `git::pack_map` (packs).
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod agent;
pub mod audit;
pub mod baseline;
pub mod bounded;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod error;
pub mod failpoint;
pub mod finding;
pub mod fleet;
pub mod git;
pub mod logging;
pub mod mask;
pub mod notify;
pub mod redact;
pub mod report;
pub mod rules;
pub mod run;
pub mod scan;
pub mod secret;
pub mod service_config;
pub mod settings;
pub mod store;
pub mod tls;
pub mod toml_error;

pub use commands::Exit;
pub use error::{Error, Result};
pub use finding::{Context, Environment, Finding, Severity};
pub use secret::{Fingerprint, SecretKey};
