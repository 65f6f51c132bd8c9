//! The use cases, shared by the commands and the daemon: each command parses its
//! arguments, resolves [`crate::settings`], calls one of these, and renders; each daemon
//! job is a schedule around the same call.
//!
//! # Layout
//!
//! - [`scan`]: one scan of a tree, the staged changes, a history selection or a daemon's
//!   tracked repositories → [`crate::scan::ScanReport`].
//! - [`history`]: the daemon's repositories, incrementally (clean blobs remembered).
//! - [`verify`]: `scan --verify`: the found keys checked against the MASK API.
//! - [`audit`]: one workspace audit: key, client (built once), inventory, policies.
//! - [`publish`]: a report into the outbox (with its findings, for a job) and delivered.
//!
//! A finding from `keywarden scan --notify` and from a daemon job takes the same path:
//! [`scan::scan`] → [`crate::notify::ReportModel::from`] → [`publish::publish`] →
//! [`crate::notify::enqueue`] / [`crate::notify::enqueue_tracked`] → the outbox →
//! [`crate::notify::deliver_due`] → the webhook or SMTP server.

pub mod audit;
pub mod history;
pub mod publish;
pub mod scan;
pub mod verify;
