//! Rules as data: the TOML schema, loading (built-ins embedded in the binary, then user
//! files), the compiled [`RuleDb`] and `rules check`.
//!
//! Precedence, lowest first:
//! 1. built-in files (`rules/*.toml`, embedded), in sorted file-name order;
//! 2. `[[rule]]`/`[[context]]`/`[[placeholder]]` tables in the repo's `.keywarden.toml`;
//! 3. each `--rules FILE`, in command-line order.
//!
//! An entry with the same id as an earlier one replaces it; `enabled = false` removes it.

pub mod check;
mod database;
mod placeholder;
pub mod schema;

pub use database::{ContextRule, CrossEnv, Rule, RuleDb};
pub use placeholder::Placeholder;

use crate::error::{Error, Result, line_col};
use schema::RulesFile;

/// The built-in rules files, embedded at build time, in sorted name order.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "builtin:contexts.toml",
        include_str!("../../rules/contexts.toml"),
    ),
    ("builtin:mask.toml", include_str!("../../rules/mask.toml")),
    (
        "builtin:placeholders.toml",
        include_str!("../../rules/placeholders.toml"),
    ),
];

/// A parsed rules file with where it came from, ready to merge.
#[derive(Debug)]
pub struct Source {
    /// `builtin:mask.toml`, or a path.
    pub origin: String,
    /// The file's text (for line and column of errors).
    pub text: String,
    /// The parsed content.
    pub file: RulesFile,
}

impl Source {
    /// Parses `text` as a rules file.
    pub fn parse(origin: &str, text: &str) -> Result<Source> {
        let file: RulesFile = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        if let Some(v) = file.version.as_ref().filter(|v| *v.get_ref() != 1) {
            let (line, column) = line_col(text, v.span().start);
            return Err(Error::Rules {
                origin: origin.to_string(),
                line,
                column,
                message: format!(
                    "unsupported rules version {}; this keywarden reads version 1",
                    v.get_ref()
                ),
            });
        }
        Ok(Source {
            origin: origin.to_string(),
            text: text.to_string(),
            file,
        })
    }

    /// Reads and parses a rules file from disk.
    pub fn read(path: &std::path::Path) -> Result<Source> {
        let text = crate::bounded::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Source::parse(&path.display().to_string(), &text)
    }

    /// The built-in sources (proven valid by `rules check` in the test suite).
    pub fn builtin() -> Result<Vec<Source>> {
        BUILTIN
            .iter()
            .map(|(origin, text)| Source::parse(origin, text))
            .collect()
    }
}

/// Turns a TOML error into a rules error with line and column.
pub(crate) fn toml_error(origin: &str, text: &str, e: &toml::de::Error) -> Error {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
    Error::Rules {
        origin: origin.to_string(),
        line,
        column,
        message: crate::error::scrub(e.message().trim()),
    }
}

/// Loads the built-ins plus `extra` sources, in order, and compiles them.
pub fn load(extra: Vec<Source>) -> Result<RuleDb> {
    let mut sources = Source::builtin()?;
    sources.extend(extra);
    RuleDb::compile(&sources)
}
