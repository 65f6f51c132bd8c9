//! Turns what the user typed into settings: flags, environment, config files, defaults,
//! each command's precedence written once in its module.
//!
//! - `scan`: [`ScanSettings`] for `keywarden scan` (tree, staged, history).
//! - `audit`: [`AuditSettings`] for `keywarden audit` and the daemon's workspace audits.

mod audit;
mod scan;

pub use audit::{AuditSettings, KeySource};
pub use scan::{GitSource, ScanSettings, default_config};

use crate::cli::ColorChoice;
use std::io::IsTerminal;

/// Should stdout get colors?
pub fn color_enabled(choice: ColorChoice, to_file: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            !to_file
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}
