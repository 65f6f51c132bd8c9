//! The one integration-test binary. Modules:
//!
//! - `scan_cli`: `keywarden scan` end to end: formats, exit codes, ignore rules, encodings.
//! - `archives`: keys inside zip/jar/war, tar, tar.gz, nested archives, `docker save`
//!   tarballs and OCI layouts; zip bombs, corrupt archives, `--no-archives`.
//! - `suppression`: inline directives, `.keywarden.toml` allowlist, expiry, stale entries.
//! - `no_leak`: every output format and file, checked for full keys.
//! - `hardening`: hostile input (secrets in name fields, keys and escapes in names, endless
//!   files, two daemons).
//! - `labeled`: the labeled set of keys and look-alikes (`tests/data/labeled.toml`).
//! - `contexts`: path → context table.
//! - `projects`: real-looking project layouts with planted keys, through `scan .`,
//!   `--staged` and `--history`: exactly the planted keys, each with its severity.
//! - `rules_cli`: `keywarden rules list|check`.
//! - `output`: `--format compact`, aligned text with each fix once, `-o` and stderr.
//! - `shell`: `keywarden completions` (loaded in a real bash) and `keywarden man`.
//! - `props`: property tests of the matcher.
//! - `git_staged`: `scan --staged` on real repositories (partial staging, renames, …).
//! - `git_history`: `scan --history/--since/--range`, shallow clones, 1,000 commits.
//! - `git_history_scale`, `git_history_lazy`: promisor packs, partial clones, memory; the
//!   tree comparisons skipped when nothing is found and nothing is missing.
//! - `agent_hooks`: `hook check|install --agent` with recorded Claude Code, Cursor and
//!   generic payloads; installed hooks run through `sh -c` as the agents run them.
//! - `git_hook`: `hook install|uninstall` and a real `git commit` blocked.
//! - `baseline`: `keywarden baseline` and `scan --baseline`.
//! - `precommit`: the pre-commit framework (`pre-commit try-repo`) against this checkout.
//! - `mask_client`: the MASK API client against loopback HTTP servers.
//! - `audit_cli`: `keywarden audit` and `scan --verify` end to end.
//! - `notify`: `scan --notify` and `outbox` against aiosmtpd and an HTTP receiver.
//! - `daemon`: `keywarden daemon` (sd_notify, watch, SIGHUP/SIGTERM/SIGKILL), `config
//!   check`, `status`.
//! - `fleet`: `[[daemon.scan]] source = …`: a fake GitHub/GitLab API and repositories
//!   served over git's smart HTTP; mirrors, incremental passes, tokens.
//! - `fleet_list`: listing GitHub organisations and GitLab groups, and the filters.
//! - `fleet_shared`: a fleet shared by daemons on one PostgreSQL: the run at start split,
//!   a daemon killed mid-pass finished by the other, each notification once.

mod util;

mod agent_hooks;
mod archives;
mod audit_cli;
mod contexts;
mod crash;
mod daemon;
mod fleet;
mod fleet_list;
mod fleet_shared;
mod hardening;
mod labeled;
mod mask_client;
mod no_leak;
mod notify;
mod output;
mod projects;
mod props;
mod rules_cli;
mod scan_cli;
mod shell;
mod suppression;

// Git: staged, history, hook, baselines, pre-commit.
mod baseline;
mod git_history;
mod git_history_lazy;
mod git_history_scale;
mod git_hook;
mod git_staged;
mod precommit;
