//! Compiles merged rules files into a [`RuleDb`]: regexes and globs built once, checked
//! with the file, line and column of every bad value.

use super::Source;
use super::placeholder::{Placeholder, compile_placeholder};
use super::schema::{ContextSpec, Ctx, RuleSpec};
use crate::error::Result;
use crate::finding::{Context, Environment, Exposure, Severity};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::collections::HashMap;
use std::sync::OnceLock;
use toml::Spanned;

/// Compiled regexes may use at most this much memory each.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rule's regex. Built-in rules compile it on first use (start-up is the pre-commit
/// hook's latency, and a commit that adds no key never needs it; `rules check` in the
/// test suite proves they compile); a user's rule is compiled when it loads, so its
/// errors carry line and column.
#[derive(Debug)]
pub struct RuleRegex {
    pattern: String,
    compiled: OnceLock<Option<Regex>>,
}

impl RuleRegex {
    fn build(pattern: &str) -> std::result::Result<Regex, regex::Error> {
        RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
    }

    /// The leftmost match in `hay` (anchored: at its start).
    pub fn find<'h>(&self, hay: &'h [u8]) -> Option<regex::bytes::Match<'h>> {
        self.compiled
            .get_or_init(|| match Self::build(&self.pattern) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!("a built-in rule's regex does not compile: {e}");
                    None
                }
            })
            .as_ref()?
            .find(hay)
    }
}

/// A compiled detection rule.
#[derive(Debug)]
pub struct Rule {
    /// `mask.live-key`.
    pub id: String,
    /// Short name.
    pub name: String,
    /// What a finding means.
    pub description: String,
    /// `live` or `test`.
    pub environment: Environment,
    /// The literal prefix (prefilter).
    pub prefix: Vec<u8>,
    /// `^prefix(?:body)`, anchored, on bytes.
    pub regex: RuleRegex,
    /// The body regex as written.
    pub body: String,
    /// Reject a prefix that follows a word character.
    pub boundary: bool,
    severity: HashMap<Context, Severity>,
    default_severity: Severity,
    fix: HashMap<Context, String>,
    default_fix: String,
    /// Texts this rule must report.
    pub examples: Vec<Spanned<String>>,
    /// Texts it must not.
    pub negative_examples: Vec<Spanned<String>>,
    /// Where it was defined.
    pub origin: String,
}

impl Rule {
    /// Severity of a match in `context`.
    pub fn severity(&self, context: Context) -> Severity {
        self.severity
            .get(&context)
            .copied()
            .unwrap_or(self.default_severity)
    }

    /// What to do about a match in `context`.
    pub fn fix(&self, context: Context) -> &str {
        self.fix.get(&context).unwrap_or(&self.default_fix)
    }

    /// Severity of a match in `context` whose file has `exposure`: the rule's table, then
    /// exposure first. A live key that is or will be shared (tracked, staged, history) is
    /// at least high; a live key in an ignored local file, off the client side, sits where
    /// MASK's advice puts it (outside source control) and is low. Test keys keep the table.
    pub fn judge(&self, context: Context, exposure: Exposure) -> Severity {
        let base = self.severity(context);
        if self.environment != Environment::Live {
            return base;
        }
        match exposure {
            e if e.is_shared() => base.max(Severity::High),
            Exposure::Ignored if context != Context::ClientSide => Severity::Low,
            _ => base,
        }
    }

    /// What to do about a match judged by [`Rule::judge`].
    pub fn fix_for(&self, context: Context, exposure: Exposure) -> String {
        if self.environment == Environment::Live
            && exposure == Exposure::Ignored
            && context != Context::ClientSide
        {
            return "this file is ignored by git and stays on this machine, where MASK advises \
                    keeping keys (outside source control): keep it out of commits, backups \
                    and shared drives, and prefer an environment variable or a secrets manager"
                .to_string();
        }
        self.fix(context).to_string()
    }
}

/// A context classifier. Its globs and regexes are checked when the rules load and
/// compiled on first use: a scan that finds no key never pays for them (startup matters
/// for a pre-commit hook).
#[derive(Debug)]
pub struct ContextRule {
    /// Stable id.
    pub id: String,
    /// The context it assigns.
    pub context: Context,
    /// Higher wins.
    pub priority: i64,
    /// What it recognises.
    pub description: String,
    line_src: Vec<String>,
    globs: Vec<String>,
    content_src: Vec<String>,
    compiled: OnceLock<Compiled>,
    /// Paths that must get this context.
    pub examples: Vec<Spanned<String>>,
    /// Where it was defined.
    pub origin: String,
}

#[derive(Debug, Default)]
struct Compiled {
    line_markers: Option<RegexSet>,
    paths: Option<GlobSet>,
    /// Every content marker in one alternation: where each match is matters (its block).
    content_markers: Option<Regex>,
}

/// A path glob: `*` stays inside one component, `**` crosses them.
fn glob(g: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(g)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// ASCII classes (`\s`, `\b`, `\w`): the lazy DFA runs them at memory speed, where
/// Unicode word boundaries would fall back to a slow engine.
fn regex_set(list: &[String]) -> Result<Option<RegexSet>, String> {
    if list.is_empty() {
        return Ok(None);
    }
    RegexSetBuilder::new(list)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT * 4)
        .build()
        .map(Some)
        .map_err(|e| format!("regexes too large together: {e}"))
}

/// One regex that matches where any of `list` does (ASCII classes, as [`regex_set`]).
fn alternation(list: &[String]) -> Result<Option<Regex>, String> {
    if list.is_empty() {
        return Ok(None);
    }
    let joined = list
        .iter()
        .map(|r| format!("(?:{r})"))
        .collect::<Vec<_>>()
        .join("|");
    RegexBuilder::new(&joined)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT * 4)
        .build()
        .map(Some)
        .map_err(|e| format!("content markers too large together: {e}"))
}

impl ContextRule {
    fn try_compile(&self) -> Result<Compiled, String> {
        let paths = if self.globs.is_empty() {
            None
        } else {
            let mut b = GlobSetBuilder::new();
            for g in &self.globs {
                b.add(glob(g).map_err(|e| format!("invalid glob {g:?}: {e}"))?);
            }
            Some(b.build().map_err(|e| e.to_string())?)
        };
        Ok(Compiled {
            line_markers: regex_set(&self.line_src)?,
            paths,
            content_markers: alternation(&self.content_src)?,
        })
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            self.try_compile().unwrap_or_else(|e| {
                tracing::warn!("context {:?} ({}) is not used: {e}", self.id, self.origin);
                Compiled::default()
            })
        })
    }

    /// Compiles now and reports a failure (`rules check`).
    pub fn check_compiles(&self) -> Result<(), String> {
        self.try_compile().map(|_| ())
    }

    /// Does the key's line window match a line marker?
    pub fn matches_line(&self, line: &[u8]) -> bool {
        !self.line_src.is_empty()
            && self
                .compiled()
                .line_markers
                .as_ref()
                .is_some_and(|s| s.is_match(line))
    }

    /// Does the path match a glob?
    pub fn matches_path(&self, path: &str) -> bool {
        !self.globs.is_empty()
            && self
                .compiled()
                .paths
                .as_ref()
                .is_some_and(|s| s.is_match(path))
    }

    /// Where content markers match in `text`.
    pub fn content_matches(&self, text: &[u8]) -> Vec<std::ops::Range<usize>> {
        if self.content_src.is_empty() {
            return Vec::new();
        }
        self.compiled()
            .content_markers
            .as_ref()
            .map(|re| re.find_iter(text).map(|m| m.range()).collect())
            .unwrap_or_default()
    }

    /// Does it have content markers at all?
    pub fn has_content_markers(&self) -> bool {
        !self.content_src.is_empty()
    }
}

/// The cross-environment finding's definition.
#[derive(Debug, Clone)]
pub struct CrossEnv {
    /// Rule id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// What to do.
    pub fix: String,
}

/// Every rule, compiled once per run.
#[derive(Debug)]
pub struct RuleDb {
    /// Detection rules, in load order.
    pub rules: Vec<Rule>,
    /// Placeholder filters.
    pub placeholders: Vec<Placeholder>,
    /// Context classifiers, highest priority first.
    pub contexts: Vec<ContextRule>,
    /// The cross-environment finding.
    pub cross_env: CrossEnv,
}

/// Replaces an entry with the same id, or appends; `enabled = false` removes.
fn merge<'a, T>(
    list: &mut Vec<(String, Ctx<'a>, &'a T)>,
    id: String,
    enabled: bool,
    cx: Ctx<'a>,
    spec: &'a T,
) {
    list.retain(|(i, _, _)| *i != id);
    if enabled {
        list.push((id, cx, spec));
    }
}

impl RuleDb {
    /// Merges `sources` in order and compiles them.
    pub fn compile(sources: &[Source]) -> Result<RuleDb> {
        let mut rules = Vec::new();
        let mut placeholders = Vec::new();
        let mut contexts = Vec::new();
        let mut cross = None;
        for s in sources {
            let cx = || Ctx {
                origin: &s.origin,
                text: &s.text,
            };
            for r in &s.file.rule {
                merge(
                    &mut rules,
                    r.id.get_ref().clone(),
                    r.enabled.unwrap_or(true),
                    cx(),
                    r,
                );
            }
            for p in &s.file.placeholder {
                merge(
                    &mut placeholders,
                    p.id.get_ref().clone(),
                    p.enabled.unwrap_or(true),
                    cx(),
                    p,
                );
            }
            for c in &s.file.context {
                let id = c.id.as_ref().unwrap_or(&c.name).get_ref().clone();
                merge(&mut contexts, id, c.enabled.unwrap_or(true), cx(), c);
            }
            if let Some(c) = &s.file.cross_environment {
                cross = Some((cx(), c));
            }
        }
        let rules = rules
            .iter()
            .map(|(_, cx, spec)| compile_rule(cx, spec))
            .collect::<Result<Vec<_>>>()?;
        let placeholders = placeholders
            .iter()
            .map(|(_, cx, spec)| compile_placeholder(cx, spec))
            .collect::<Result<Vec<_>>>()?;
        let mut contexts = contexts
            .iter()
            .map(|(id, cx, spec)| compile_context(cx, id, spec))
            .collect::<Result<Vec<_>>>()?;
        // Stable: equal priorities keep load order.
        contexts.sort_by_key(|c| std::cmp::Reverse(c.priority));
        let cross_env = match cross {
            Some((cx, c)) => CrossEnv {
                id: c.id.clone(),
                name: c.name.clone().unwrap_or_else(|| c.id.clone()),
                description: c.description.clone().unwrap_or_default(),
                severity: c
                    .severity
                    .get_ref()
                    .parse()
                    .or_else(|e: String| cx.err(c.severity.span(), e))?,
                fix: c.fix.clone(),
            },
            None => CrossEnv {
                id: "mask.env-not-separated".into(),
                name: "One key in production and non-production configs".into(),
                description: String::new(),
                severity: Severity::High,
                fix: "issue separate keys per environment".into(),
            },
        };
        Ok(RuleDb {
            rules,
            placeholders,
            contexts,
            cross_env,
        })
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

fn required<'s, T>(
    cx: &Ctx<'_>,
    id: &Spanned<String>,
    v: &'s Option<Spanned<T>>,
    field: &str,
) -> Result<&'s Spanned<T>> {
    match v {
        Some(v) => Ok(v),
        None => cx.err(
            id.span(),
            format!("rule {:?} has no `{field}`", id.get_ref()),
        ),
    }
}

fn compile_rule(cx: &Ctx<'_>, spec: &RuleSpec) -> Result<Rule> {
    let id = spec.id.get_ref();
    let valid_id = id.split('.').count() >= 2
        && id.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !valid_id {
        return cx.err(spec.id.span(), format!("rule id {id:?} must look like `vendor.kind` (lowercase, digits, `-`, dot-separated)"));
    }
    let environment = *required(cx, &spec.id, &spec.environment, "environment")?.get_ref();
    let prefix = required(cx, &spec.id, &spec.prefix, "prefix")?;
    if prefix.get_ref().len() < 3 || !prefix.get_ref().is_ascii() {
        return cx.err(
            prefix.span(),
            "prefix must be at least 3 ASCII characters: the prefilter searches for it",
        );
    }
    let body = required(cx, &spec.id, &spec.body, "body")?;
    let pattern = format!(
        "(?-u)^{}(?:{})",
        regex::escape(prefix.get_ref()),
        body.get_ref()
    );
    let regex = RuleRegex {
        compiled: OnceLock::new(),
        pattern,
    };
    if !cx.origin.starts_with("builtin:") {
        match RuleRegex::build(&regex.pattern) {
            Ok(r) => {
                let _ = regex.compiled.set(Some(r));
            }
            Err(e) => {
                return cx.err(body.span(), format!("rule {id:?}: invalid body regex: {e}"));
            }
        }
    }
    let mut severity = HashMap::new();
    let mut default_severity = None;
    for (k, v) in &spec.severity {
        let sev: Severity = match v.get_ref().parse() {
            Ok(s) => s,
            Err(e) => return cx.err(v.span(), format!("rule {id:?}: {e}")),
        };
        if k == "default" {
            default_severity = Some(sev);
        } else {
            match k.parse::<Context>() {
                Ok(c) => severity.insert(c, sev),
                Err(e) => return cx.err(v.span(), format!("rule {id:?}: severity for {e}")),
            };
        }
    }
    let Some(default_severity) = default_severity else {
        return cx.err(
            spec.id.span(),
            format!("rule {id:?} has no `severity.default`"),
        );
    };
    let mut fix = HashMap::new();
    let mut default_fix = None;
    for (k, v) in &spec.fix {
        if k == "default" {
            default_fix = Some(v.get_ref().clone());
        } else {
            match k.parse::<Context>() {
                Ok(c) => fix.insert(c, v.get_ref().clone()),
                Err(e) => return cx.err(v.span(), format!("rule {id:?}: fix for {e}")),
            };
        }
    }
    let Some(default_fix) = default_fix else {
        return cx.err(spec.id.span(), format!("rule {id:?} has no `fix.default`"));
    };
    Ok(Rule {
        id: id.clone(),
        name: spec.name.clone().unwrap_or_else(|| id.clone()),
        description: spec.description.clone().unwrap_or_default(),
        environment,
        prefix: prefix.get_ref().as_bytes().to_vec(),
        regex,
        body: body.get_ref().clone(),
        boundary: spec.boundary.unwrap_or(true),
        severity,
        default_severity,
        fix,
        default_fix,
        examples: spec.examples.clone(),
        negative_examples: spec.negative_examples.clone(),
        origin: cx.origin.to_string(),
    })
}

fn compile_context(cx: &Ctx<'_>, id: &str, spec: &ContextSpec) -> Result<ContextRule> {
    let context: Context = match spec.name.get_ref().parse() {
        Ok(c) => c,
        Err(e) => return cx.err(spec.name.span(), e),
    };
    // Built-in rules are proven by `rules check` in the test suite: their globs and
    // regexes are parsed on first use only (start-up is the pre-commit hook's latency).
    // A user's file is checked now, so its errors carry line and column.
    let builtin = cx.origin.starts_with("builtin:");
    let regexes = |list: &[Spanned<String>]| -> Result<Vec<String>> {
        if builtin {
            return Ok(list.iter().map(|r| r.get_ref().clone()).collect());
        }
        let mut parser = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build();
        for r in list {
            if let Err(e) = parser.parse(r.get_ref()) {
                return cx.err(r.span(), format!("context {id:?}: invalid regex: {e}"));
            }
        }
        Ok(list.iter().map(|r| r.get_ref().clone()).collect())
    };
    for g in spec.paths.iter().filter(|_| !builtin) {
        if let Err(e) = glob(g.get_ref()) {
            return cx.err(g.span(), format!("context {id:?}: invalid glob: {e}"));
        }
    }
    let globs = spec.paths.iter().map(|g| g.get_ref().clone()).collect();
    Ok(ContextRule {
        id: id.to_string(),
        context,
        priority: spec.priority.unwrap_or(0),
        description: spec.description.clone().unwrap_or_default(),
        line_src: regexes(&spec.line_markers)?,
        globs,
        content_src: regexes(&spec.content_markers)?,
        compiled: OnceLock::new(),
        examples: spec.examples.clone(),
        origin: cx.origin.to_string(),
    })
}
