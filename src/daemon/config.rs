//! `[daemon]` of the service config: workspaces to audit, scan targets, schedules, time
//! zone, catch-up, digest, log level. Parsed strictly: unknown keys are errors (with the
//! closest valid key suggested by [`did_you_mean`]), and a bad cron expression or time zone
//! is reported at its own line and column, because the value types below validate
//! themselves while the TOML is deserialized.
//!
//! ```toml
//! [daemon]
//! time_zone = "Europe/Berlin"   # default UTC; schedules are wall-clock times there
//! catch_up = true               # a tick missed while down runs once at start
//! digest = false                # re-send unchanged open findings every run
//! log_level = "info"            # RUST_LOG wins
//! outage_after_failures = 3     # a job failing 3 runs in a row is reported, once
//! outage_after_secs = 900       # so is a channel failing for 15 minutes
//!
//! [[daemon.workspace]]
//! name = "acme"
//! schedule = "0 0 7 * * MON-FRI"
//! key = { credential = "mask-api-key" }
//!
//! [[daemon.scan]]
//! name = "app-config"
//! paths = ["/srv/app/config"]
//! schedule = "0 */15 * * * *"
//! watch = true
//!
//! [[daemon.scan]]
//! name = "app-history"
//! paths = ["/srv/git/app.git"]        # git repositories
//! history = true                      # every commit of every ref, new blobs only
//! schedule = "0 0 * * * *"
//!
//! [[daemon.scan]]
//! name = "acme-org"                   # every repository of an organisation (fleet)
//! source = { github_org = "acme", token = { env = "GITHUB_TOKEN" } }
//! history = true
//! schedule = "0 */10 * * * *"
//! ```

use crate::error::{Error, Result};
use crate::finding::Severity;
use crate::notify::SecretSource;
use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};

/// `[daemon]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// IANA time zone the schedules are read in (`Europe/Berlin`). Default: `UTC`.
    #[serde(default)]
    pub time_zone: Zone,
    /// Run a job once at start when a tick was missed while the daemon was down.
    /// Default: true.
    #[serde(default = "yes")]
    pub catch_up: bool,
    /// Send every run's report even when nothing changed. Default: false (only new
    /// findings are alerted).
    #[serde(default)]
    pub digest: bool,
    /// `error`, `warn`, `info`, `debug` or `trace`; `RUST_LOG` wins. Default: `info`.
    #[serde(default)]
    pub log_level: LogLevel,
    /// Seconds between passes over the outbox for retries. Default: 60.
    #[serde(default = "sixty")]
    pub deliver_every_secs: u64,
    /// Milliseconds a delivery pass may spend retrying (bounds `[notify.retry]
    /// run_budget_ms` in the daemon, so a dead SMTP server never holds a job). Default: 2000.
    #[serde(default = "two_seconds")]
    pub delivery_budget_ms: u64,
    /// Window in seconds within which changes in a watched directory are batched into one
    /// rescan (notify-debouncer-mini, batch mode). Default: 1.
    #[serde(default = "one")]
    pub debounce_secs: u64,
    /// Seconds a job's lease holds without renewal (daemons sharing a PostgreSQL state):
    /// how long the work of a daemon that died waits before another takes it over. The
    /// holder renews it every third of that. 0 (also when `[daemon]` is absent): 30.
    /// Default: 30.
    #[serde(default = "thirty")]
    pub lease_ttl_secs: u64,
    /// Failed runs in a row after which a job (an audit whose API is down, a scan whose
    /// repository is gone) is reported as an outage, through every channel, once; its
    /// recovery is reported once too. 0: never. Default: 3.
    #[serde(default = "three")]
    pub outage_after_failures: u64,
    /// Seconds a notification channel's deliveries must have been failing before it is
    /// reported as an outage on the other channels (once, and once when it recovers).
    /// 0: never. Default: 900.
    #[serde(default = "fifteen_minutes")]
    pub outage_after_secs: u64,
    /// `[[daemon.workspace]]`: MASK workspaces to audit.
    #[serde(default)]
    pub workspace: Vec<Workspace>,
    /// `[[daemon.scan]]`: paths to scan.
    #[serde(default)]
    pub scan: Vec<ScanTarget>,
}

/// A config without a `[daemon]` table gets the same values as an empty one (derived
/// zeros would turn retries, debouncing and outage reports off).
impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            time_zone: Zone::default(),
            catch_up: yes(),
            digest: false,
            log_level: LogLevel::default(),
            deliver_every_secs: sixty(),
            delivery_budget_ms: two_seconds(),
            debounce_secs: one(),
            lease_ttl_secs: thirty(),
            outage_after_failures: three(),
            outage_after_secs: fifteen_minutes(),
            workspace: Vec::new(),
            scan: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
fn sixty() -> u64 {
    60
}
fn one() -> u64 {
    1
}
fn two_seconds() -> u64 {
    2000
}
fn thirty() -> u64 {
    30
}
fn three() -> u64 {
    3
}
fn fifteen_minutes() -> u64 {
    900
}

/// `[[daemon.workspace]]`: one MASK workspace and its audit schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    /// A name for logs, state and reports (unique).
    pub name: String,
    /// When to audit.
    pub schedule: Schedule,
    /// API base URL. Default: `[audit] api_url`, else the production API.
    pub api_url: Option<String>,
    /// Where the audit key comes from (`{ env = … }`, `{ file = … }`, `{ credential = … }`).
    /// Default: `[audit] key_env` / `MASK_API_KEY`, else the systemd credential
    /// `mask-api-key`.
    pub key: Option<SecretSource>,
}

/// `[[daemon.scan]]`: paths scanned on a schedule and, with `watch`, on change; or, with
/// `source`, the repositories of an organisation, mirrored and scanned on a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanTarget {
    /// A name for logs, state and reports (unique).
    pub name: String,
    /// Files or directories. Relative paths are relative to the config file. Not with
    /// `source`.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Instead of `paths`: the repositories of a GitHub organisation, a GitLab group or a
    /// list of URLs, mirrored into the state directory and scanned incrementally (see
    /// [`crate::fleet`]). Needs `history = true` and a `schedule`.
    pub source: Option<crate::fleet::Source>,
    /// When to scan. Default: never on a schedule (only at start and on change).
    pub schedule: Option<Schedule>,
    /// Rescan when a file under `paths` changes. Default: false.
    #[serde(default)]
    pub watch: bool,
    /// Each path is a git repository (work tree or bare) whose history is scanned: every
    /// blob reachable from any ref, as `keywarden scan --history`. Incremental: a blob
    /// found clean is not read again (see [`crate::run::history`]). Needs a `schedule`; not
    /// with `watch`. Default: false.
    #[serde(default)]
    pub history: bool,
    /// Lowest severity alerted as soon as it appears. Default: high.
    #[serde(default = "high")]
    pub alert_on: Severity,
}

fn high() -> Severity {
    Severity::High
}

/// A cron expression, checked when the config is read: 5 fields (minute granularity) or 6
/// (seconds first), names (`MON-FRI`), `L`, `#`, `W`, and `@daily`-style aliases.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written.
    pub expr: String,
    cron: Cron,
}

impl Schedule {
    /// Parses `expr`.
    pub fn parse(expr: &str) -> std::result::Result<Schedule, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(expr)
            .map_err(|e| match bad_field(expr) {
                Some(why) => format!("bad cron expression {expr:?}: {why}"),
                None => format!("bad cron expression {expr:?}: {e}"),
            })?;
        Ok(Schedule {
            expr: expr.to_string(),
            cron,
        })
    }

    /// The first tick strictly after `t`, in zone `tz` (DST-aware: a wall-clock time
    /// skipped by a spring-forward gap runs once when the gap ends; one repeated by a
    /// fall-back runs once).
    pub fn next_after(&self, t: DateTime<Utc>, tz: &Zone) -> Option<DateTime<Utc>> {
        let nanos = i32::try_from(t.timestamp_subsec_nanos()).ok()?;
        let local = jiff::Timestamp::new(t.timestamp(), nanos)
            .ok()?
            .to_zoned(tz.0.clone());
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        let ts = next.timestamp();
        DateTime::from_timestamp(ts.as_second(), u32::try_from(ts.subsec_nanosecond()).ok()?)
    }

    /// The last tick at or before `t`, in zone `tz`: the tick a run at start stands for
    /// when daemons share a state (they all agree on it, wherever they started).
    pub fn last_at_or_before(&self, t: DateTime<Utc>, tz: &Zone) -> Option<DateTime<Utc>> {
        let nanos = i32::try_from(t.timestamp_subsec_nanos()).ok()?;
        let local = jiff::Timestamp::new(t.timestamp(), nanos)
            .ok()?
            .to_zoned(tz.0.clone());
        let prev = self.cron.find_previous_occurrence(&local, true).ok()?;
        let ts = prev.timestamp();
        DateTime::from_timestamp(ts.as_second(), u32::try_from(ts.subsec_nanosecond()).ok()?)
    }

    /// Whether a tick fell in `(since, now]`: a run was missed.
    pub fn missed(&self, since: DateTime<Utc>, now: DateTime<Utc>, tz: &Zone) -> bool {
        self.next_after(since, tz).is_some_and(|n| n <= now)
    }
}

/// Which field of a cron expression holds a number out of its range: croner only says
/// "Number out of bounds". `None` when no field is out of range that way.
fn bad_field(expr: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 6] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 7),
    ];
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let fields = match parts.len() {
        5 => &FIELDS[1..],
        6 => &FIELDS[..],
        _ => return None,
    };
    for (i, (part, (name, lo, hi))) in parts.iter().zip(fields).enumerate() {
        // Numbers that are values (not step sizes after `/` or nth-weekday after `#`).
        for token in part.split([',', '-']) {
            let value = token.split(['/', '#']).next().unwrap_or("");
            let value = value.trim_end_matches(['L', 'W']);
            if let Ok(n) = value.parse::<u32>()
                && !(*lo..=*hi).contains(&n)
            {
                return Some(format!(
                    "field {} ({name}) is {n}, out of its range {lo}-{hi}",
                    i + 1
                ));
            }
        }
    }
    None
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Schedule::parse(&s).map_err(|e| serde::de::Error::custom(format!(
            "{e}; write 5 fields (min hour day month weekday) or 6 (sec min hour day month weekday), e.g. \"0 0 7 * * MON-FRI\""
        )))
    }
}

/// An IANA time zone, from the system's tz database (`/usr/share/zoneinfo`) or, where
/// the machine has none, the copy built into keywarden (jiff's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone(pub jiff::tz::TimeZone);

impl Default for Zone {
    fn default() -> Self {
        Zone(jiff::tz::TimeZone::UTC)
    }
}

impl Zone {
    /// The zone named `name` (IANA, e.g. `Europe/Berlin`).
    pub fn named(name: &str) -> Option<Zone> {
        jiff::tz::TimeZone::get(name).ok().map(Zone)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Zone::named(&s).ok_or_else(|| serde::de::Error::custom(unknown_zone(&s)))
    }
}

/// The message for an unknown time zone: the name typed (when it looks like one; a
/// value in the wrong place could be a secret) and the closest IANA name. Single quotes,
/// which the error scrubber leaves alone.
fn unknown_zone(typed: &str) -> String {
    let plausible = typed.len() <= 40
        && typed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c))
        && !typed.starts_with("mk_");
    let shown = if plausible { typed } else { "…" };
    let closest = plausible
        .then(|| {
            jiff::tz::db()
                .available()
                .map(|n| {
                    (
                        strsim::jaro_winkler(
                            &typed.to_ascii_lowercase(),
                            &n.as_str().to_ascii_lowercase(),
                        ),
                        n,
                    )
                })
                .filter(|(score, _)| *score > 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n.as_str().to_string())
        })
        .flatten();
    match closest {
        Some(c) => format!(
            "unknown time zone '{shown}': did you mean '{c}'? (IANA names such as 'UTC' or 'Europe/Berlin')"
        ),
        None => format!(
            "unknown time zone '{shown}': use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ),
    }
}

/// A log level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Runs, deliveries, reloads (the default).
    #[default]
    Info,
    /// Details.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The `tracing` directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl DaemonConfig {
    /// Checks what the types cannot: unique names, non-empty paths, something to do.
    /// `path` names the config file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let err = |message: String, hint: &str| Error::DaemonConfig {
            path: path.to_path_buf(),
            message,
            hint: hint.to_string(),
        };
        let mut names = std::collections::BTreeSet::new();
        for name in self
            .workspace
            .iter()
            .map(|w| &w.name)
            .chain(self.scan.iter().map(|s| &s.name))
        {
            if name.trim().is_empty() {
                return Err(err(
                    "a [[daemon.workspace]] or [[daemon.scan]] has an empty name".into(),
                    "give each one a short unique name",
                ));
            }
            if !names.insert(name.as_str()) {
                return Err(err(
                    format!("the name {name:?} is used twice"),
                    "names key the state store: make each [[daemon.workspace]] and [[daemon.scan]] name unique",
                ));
            }
        }
        for s in &self.scan {
            match &s.source {
                Some(_) if !s.paths.is_empty() => {
                    return Err(err(
                        format!(
                            "[[daemon.scan]] {:?}: paths and source are alternatives",
                            s.name
                        ),
                        "make one [[daemon.scan]] for the local paths and another for the source",
                    ));
                }
                Some(src) => {
                    if let Err((message, hint)) = src.check() {
                        return Err(err(
                            format!("[[daemon.scan]] {:?}: source: {message}", s.name),
                            &hint,
                        ));
                    }
                    if !s.history {
                        return Err(err(
                            format!("[[daemon.scan]] {:?}: source needs history = true", s.name),
                            "a source's repositories are mirrored and their history is scanned: add history = true",
                        ));
                    }
                }
                None if s.paths.is_empty() => {
                    return Err(err(
                        format!("[[daemon.scan]] {:?}: paths is empty", s.name),
                        "list the files or directories to scan, or give a source = { github_org = … }",
                    ));
                }
                None => {}
            }
            if s.history && s.watch {
                return Err(err(
                    format!(
                        "[[daemon.scan]] {:?}: history = true cannot be combined with watch = true",
                        s.name
                    ),
                    "a history target runs on its schedule: remove watch, or make a second [[daemon.scan]] without history to watch the work tree",
                ));
            }
            if s.history && s.schedule.is_none() {
                return Err(err(
                    format!(
                        "[[daemon.scan]] {:?}: history = true needs a schedule",
                        s.name
                    ),
                    "add schedule = \"0 0 * * * *\" (hourly): runs after the first read only new blobs",
                ));
            }
            if s.schedule.is_none() && !s.watch {
                return Err(err(
                    format!(
                        "[[daemon.scan]] {:?}: no schedule and watch = false: it would only run once at start",
                        s.name
                    ),
                    "add schedule = \"0 */15 * * * *\" or watch = true",
                ));
            }
        }
        if let Some(w) = self.workspace.iter().find(|w| {
            w.key.as_ref().is_some_and(|k| {
                [k.env.is_some(), k.file.is_some(), k.credential.is_some()]
                    .iter()
                    .filter(|b| **b)
                    .count()
                    != 1
            })
        }) {
            return Err(err(
                format!(
                    "[[daemon.workspace]] {:?}: key must set exactly one of env, file, credential",
                    w.name
                ),
                "e.g. key = { credential = \"mask-api-key\" }",
            ));
        }
        Ok(())
    }

    /// Resolves relative scan paths and key files against `base` (the config's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        for s in &mut self.scan {
            if let Some(src) = s.source.as_mut() {
                src.resolve_paths(base);
            }
            for p in &mut s.paths {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        for w in &mut self.workspace {
            if let Some(f) = w.key.as_mut().and_then(|k| k.file.as_mut())
                && f.is_relative()
            {
                *f = base.join(&*f);
            }
        }
    }
}

/// For a serde "unknown field `x`, expected one of `a`, `b`" (or "unknown variant")
/// message, the closest expected name (Jaro-Winkler, `strsim`), as `did you mean `a`?`.
pub fn did_you_mean(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (typed, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected")?.1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|cand| (strsim::jaro_winkler(typed, cand), cand))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, cand)| format!("did you mean `{cand}`?"))
}

/// A fixed instant as a UTC time, for tests and examples.
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_daemon_table_means_the_documented_defaults() {
        let empty: DaemonConfig = toml::from_str("").unwrap();
        let none = DaemonConfig::default();
        let numbers = |c: &DaemonConfig| {
            (
                c.catch_up,
                c.digest,
                c.deliver_every_secs,
                c.delivery_budget_ms,
                c.debounce_secs,
                c.lease_ttl_secs,
                c.outage_after_failures,
                c.outage_after_secs,
            )
        };
        assert_eq!(numbers(&none), numbers(&empty));
        assert_eq!(numbers(&none), (true, false, 60, 2000, 1, 30, 3, 900));
    }

    #[test]
    fn suggests_the_closest_key() {
        let m = "unknown field `shedule`, expected one of `name`, `schedule`, `api_url`, `key`";
        assert_eq!(did_you_mean(m).unwrap(), "did you mean `schedule`?");
        assert_eq!(
            did_you_mean("unknown field `zzzzzz`, expected `name` or `paths`"),
            None
        );
        assert_eq!(did_you_mean("invalid type: string"), None);
    }

    #[test]
    fn seconds_are_optional_and_ticks_are_strictly_after() {
        let s = Schedule::parse("*/10 * * * * *").unwrap();
        let t = utc(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(s.next_after(t, &Zone::default()), utc(2026, 1, 1, 0, 0, 10));
        let m = Schedule::parse("30 7 * * *").unwrap();
        assert_eq!(m.next_after(t, &Zone::default()), utc(2026, 1, 1, 7, 30, 0));
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("every day").is_err());
    }

    #[test]
    fn dst_gap_and_overlap_in_berlin() {
        let tz = &Zone::named("Europe/Berlin").unwrap();
        // 02:30 does not exist on 2026-03-29 (clocks jump 02:00 → 03:00).
        let s = Schedule::parse("0 30 2 * * *").unwrap();
        let before = utc(2026, 3, 28, 12, 0, 0).unwrap();
        // It runs once, when the gap ends (03:00 local = 01:00Z), not skipped, not twice.
        let next = s.next_after(before, tz).unwrap();
        assert_eq!(Some(next), utc(2026, 3, 29, 1, 0, 0));
        assert_eq!(s.next_after(next, tz), utc(2026, 3, 30, 0, 30, 0));
        // 02:30 happens twice on 2026-10-25 (03:00 → 02:00): one run, not two.
        let s = Schedule::parse("0 30 2 25 10 *").unwrap();
        let first = s
            .next_after(utc(2026, 10, 24, 12, 0, 0).unwrap(), tz)
            .unwrap();
        let second = s.next_after(first, tz).unwrap();
        assert!(
            second > utc(2027, 1, 1, 0, 0, 0).unwrap(),
            "{first} {second}"
        );
        // Daily 07:00 stays 07:00 local across the change: 06:00Z in winter, 05:00Z in summer.
        let s = Schedule::parse("0 0 7 * * *").unwrap();
        assert_eq!(
            s.next_after(utc(2026, 3, 28, 12, 0, 0).unwrap(), tz),
            utc(2026, 3, 29, 5, 0, 0)
        );
        assert_eq!(
            s.next_after(utc(2026, 3, 27, 12, 0, 0).unwrap(), tz),
            utc(2026, 3, 28, 6, 0, 0)
        );
    }

    #[test]
    fn the_last_tick_is_the_same_from_anywhere_between_two_ticks() {
        let tz = &Zone::named("Europe/Berlin").unwrap();
        let s = Schedule::parse("0 */10 * * * *").unwrap();
        let tick = utc(2026, 3, 28, 12, 10, 0).unwrap();
        for secs in [0, 1, 299, 599] {
            let t = tick + chrono::Duration::seconds(secs);
            assert_eq!(s.last_at_or_before(t, tz), Some(tick), "+{secs} s");
        }
        assert_eq!(
            s.last_at_or_before(tick - chrono::Duration::milliseconds(1), tz),
            utc(2026, 3, 28, 12, 0, 0)
        );
        // A tick then the next one: the scheduled run after a start never reuses its tick.
        assert!(s.next_after(tick + chrono::Duration::seconds(5), tz) > Some(tick));
        // Across the spring-forward gap: 07:00 local stays the key on both sides.
        let s = Schedule::parse("0 0 7 * * *").unwrap();
        assert_eq!(
            s.last_at_or_before(utc(2026, 3, 29, 9, 0, 0).unwrap(), tz),
            utc(2026, 3, 29, 5, 0, 0)
        );
        assert_eq!(
            s.last_at_or_before(utc(2026, 3, 29, 4, 0, 0).unwrap(), tz),
            utc(2026, 3, 28, 6, 0, 0)
        );
    }

    #[test]
    fn a_history_target_needs_a_schedule_and_no_watch() {
        let check = |extra: &str| {
            let t = format!(
                "[[scan]]\nname = \"r\"\npaths = [\"/srv/r.git\"]\nhistory = true\n{extra}"
            );
            toml::from_str::<DaemonConfig>(&t)
                .unwrap()
                .validate(Path::new("k.toml"))
                .map_err(|e| e.to_string())
        };
        assert!(check("schedule = \"@hourly\"\n").is_ok());
        let e = check("schedule = \"@hourly\"\nwatch = true\n").unwrap_err();
        assert!(e.contains("cannot be combined with watch"), "{e}");
        let e = check("").unwrap_err();
        assert!(e.contains("history = true needs a schedule"), "{e}");
        let typo =
            toml::from_str::<DaemonConfig>("[[scan]]\nname = \"r\"\npaths = []\nhistroy = true\n")
                .unwrap_err()
                .message()
                .to_string();
        assert_eq!(
            did_you_mean(&typo).as_deref(),
            Some("did you mean `history`?")
        );
    }

    #[test]
    fn a_source_target_is_an_alternative_to_paths() {
        let check = |body: &str| {
            let t = format!("[[scan]]\nname = \"org\"\nschedule = \"@hourly\"\n{body}");
            toml::from_str::<DaemonConfig>(&t)
                .map_err(|e| e.to_string())?
                .validate(Path::new("k.toml"))
                .map_err(|e| e.to_string())
        };
        let gh = "source = { github_org = \"acme\", api_url = \"https://api.github.com\", token = { env = \"GITHUB_TOKEN\" } }";
        assert!(check(&format!("history = true\n{gh}")).is_ok());
        let e = check(gh).unwrap_err();
        assert!(e.contains("source needs history = true"), "{e}");
        let e = check(&format!("history = true\npaths = [\"/x\"]\n{gh}")).unwrap_err();
        assert!(e.contains("alternatives"), "{e}");
        let e = check("history = true\nsource = { github_org = \"a\", gitlab_group = \"b\" }")
            .unwrap_err();
        assert!(e.contains("exactly one of github_org"), "{e}");
        let e = check("history = true\nsource = { urls = [\"http://git.example.com/a.git\"] }")
            .unwrap_err();
        assert!(e.contains("plain http is refused"), "{e}");
        let e = check("history = true\nsource = { github_org = \"a\", tokn = { env = \"T\" } }")
            .unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        assert!(check("history = true\nsource = { gitlab_group = \"acme/platform\", include = [\"acme/*\"], include_archived = true }").is_ok());
    }

    #[test]
    fn missed_tick() {
        let s = Schedule::parse("0 0 7 * * *").unwrap();
        let last = utc(2026, 1, 1, 7, 0, 0).unwrap();
        let tz = &Zone::default();
        assert!(!s.missed(last, utc(2026, 1, 2, 6, 59, 59).unwrap(), tz));
        assert!(s.missed(last, utc(2026, 1, 2, 7, 0, 0).unwrap(), tz));
    }
}
