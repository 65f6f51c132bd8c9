//! The TOML shape of a rules file (`rules/*.toml`, `--rules FILE`, `.keywarden.toml`).
//!
//! Inert data: everything is checked and compiled in [`super::database`].

use crate::finding::Environment;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// One rules file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Format version; only 1 exists.
    pub version: Option<Spanned<u32>>,
    /// Detection rules.
    #[serde(default)]
    pub rule: Vec<RuleSpec>,
    /// Placeholder filters.
    #[serde(default)]
    pub placeholder: Vec<PlaceholderSpec>,
    /// Context classifiers.
    #[serde(default)]
    pub context: Vec<ContextSpec>,
    /// The finding for one key in production and non-production configs.
    pub cross_environment: Option<CrossEnvSpec>,
}

/// A detection rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id, `vendor.kind` (`mask.live-key`). A later file with the same id replaces it.
    pub id: Spanned<String>,
    /// Short human name.
    pub name: Option<String>,
    /// What the finding means.
    pub description: Option<String>,
    /// `false` turns a rule off (built-in rules included).
    pub enabled: Option<bool>,
    /// `live` or `test`.
    pub environment: Option<Spanned<Environment>>,
    /// The literal the key starts with; used by the prefilter.
    pub prefix: Option<Spanned<String>>,
    /// Regex of the body after the prefix (bytes, no Unicode classes).
    pub body: Option<Spanned<String>>,
    /// The prefix must not follow a word character. Default true.
    pub boundary: Option<bool>,
    /// Severity per context name, plus `default`.
    #[serde(default)]
    pub severity: BTreeMap<String, Spanned<String>>,
    /// Fix text per context name, plus `default`.
    #[serde(default)]
    pub fix: BTreeMap<String, Spanned<String>>,
    /// Texts this rule must report.
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
    /// Texts this rule must not report.
    #[serde(default)]
    pub negative_examples: Vec<Spanned<String>>,
}

/// How a placeholder filter decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceholderKind {
    /// Exact keys.
    Literal,
    /// Words in the body.
    Words,
    /// Mostly one character, or a long run of it.
    Repeated,
    /// An ascending run.
    Sequence,
    /// Few distinct characters.
    Variety,
    /// A run along a keyboard row (`qwerty`).
    Keyboard,
    /// A stretch that repeats itself (`TESTKEYTESTKEY`).
    Periodic,
    /// Interleaved counting runs of letters and digits (`abc123def456`, `a1b2c3`).
    Counter,
}

/// A placeholder filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceholderSpec {
    /// Stable id; a later file with the same id replaces it.
    pub id: Spanned<String>,
    /// How it decides.
    pub kind: Spanned<PlaceholderKind>,
    /// What it catches.
    pub description: Option<String>,
    /// `false` turns it off.
    pub enabled: Option<bool>,
    /// For `literal`.
    #[serde(default)]
    pub keys: Vec<String>,
    /// For `words`.
    #[serde(default)]
    pub words: Vec<String>,
    /// For `repeated`: share of the body taken by its most common character.
    pub min_share: Option<f64>,
    /// For `repeated`, `sequence`, `keyboard`, `periodic` and `counter`: run length.
    pub min_run: Option<usize>,
    /// For `sequence`: count `aBcD` as ascending too.
    pub ignore_case: Option<bool>,
    /// For `variety`.
    pub max_distinct: Option<usize>,
}

/// A context classifier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// The context it assigns (`production-config`, …).
    pub name: Spanned<String>,
    /// Stable id; a later file with the same id replaces it. Defaults to the name.
    pub id: Option<Spanned<String>>,
    /// Higher wins.
    pub priority: Option<i64>,
    /// What it recognises.
    pub description: Option<String>,
    /// `false` turns it off.
    pub enabled: Option<bool>,
    /// Regexes on the key's line.
    #[serde(default)]
    pub line_markers: Vec<Spanned<String>>,
    /// Path globs.
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
    /// Regexes on the file's content.
    #[serde(default)]
    pub content_markers: Vec<Spanned<String>>,
    /// Paths that must get this context.
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
}

/// The cross-environment finding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossEnvSpec {
    /// Rule id of the finding.
    pub id: String,
    /// Short name.
    pub name: Option<String>,
    /// What it means.
    pub description: Option<String>,
    /// Its severity.
    pub severity: Spanned<String>,
    /// What to do.
    pub fix: String,
}

/// Where a spec was read from (origin and text), to point errors at its line.
pub(super) struct Ctx<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> crate::error::Result<T> {
        let (line, column) = crate::error::line_col(self.text, span.start);
        Err(crate::error::Error::Rules {
            origin: self.origin.to_string(),
            line,
            column,
            message: message.into(),
        })
    }
}
