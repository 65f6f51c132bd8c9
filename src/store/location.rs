//! Where the state lives (`[state]`: a SQLite file, or a PostgreSQL database shared by
//! several daemons) and the daemon's exclusive hold on a SQLite file.

use crate::error::{Error, Result};
use crate::notify::SecretSource;
use crate::notify::config::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[state]` of the service config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The SQLite file. Relative paths are relative to the config file's directory.
    /// Default: `$STATE_DIRECTORY/state.db` (systemd's `StateDirectory=`), else
    /// `/var/lib/keywarden/state.db`.
    pub path: Option<PathBuf>,
    /// A PostgreSQL database shared by several daemons (`postgresql://user:password@host:
    /// port/db`), read from a secret source like every secret. Exclusive with `path`.
    pub url: Option<SecretSource>,
}

impl StateConfig {
    /// The store's path, resolving a relative `path` against `base` (the config's
    /// directory). For a PostgreSQL `url`, see [`StateConfig::location`].
    pub fn resolve_path(&self, base: &Path) -> PathBuf {
        match &self.path {
            Some(p) if p.is_relative() => base.join(p),
            Some(p) => p.clone(),
            None => std::env::var_os("STATE_DIRECTORY")
                .filter(|v| !v.is_empty())
                .map(|d| {
                    // systemd may pass several colon-separated directories: use the first.
                    let first = d
                        .to_string_lossy()
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    PathBuf::from(first).join("state.db")
                })
                .unwrap_or_else(|| PathBuf::from("/var/lib/keywarden/state.db")),
        }
    }

    /// Where the state is: the `url`'s database (its secret read and checked now), else
    /// the SQLite file. `config` names the config file in errors.
    pub fn location(&self, base: &Path, config: &Path) -> Result<Location> {
        let Some(source) = &self.url else {
            return Ok(Location::Sqlite(self.resolve_path(base)));
        };
        let err = |message: String, hint: &str| Error::StateConfig {
            path: config.to_path_buf(),
            message,
            hint: hint.to_string(),
        };
        if self.path.is_some() {
            return Err(err(
                "both path and url are set".into(),
                "keep path for a SQLite file (one daemon) or url for PostgreSQL (several daemons), not both",
            ));
        }
        let mut source = source.clone();
        if let Some(f) = source.file.as_mut().filter(|f| f.is_relative()) {
            *f = base.join(&*f);
        }
        let url = source.read("[state] url")?;
        let parsed = match super::pg::parse(url.expose()) {
            Ok(p) => p,
            Err(e) => {
                return Err(err(
                    format!("url is not a valid PostgreSQL URL: {e}"),
                    "write it as postgresql://user:password@host:port/database",
                ));
            }
        };
        if let Some(ca) = parsed.ca() {
            let hint = "point sslrootcert at the PEM file of the server's CA, an absolute path readable by the keywarden user";
            if ca.is_relative() {
                return Err(err(
                    format!("url: sslrootcert {} is not an absolute path", ca.display()),
                    hint,
                ));
            }
            if let Err(e) = crate::bounded::check(ca, crate::bounded::MAX_INPUT) {
                return Err(err(format!("url: sslrootcert {}: {e}", ca.display()), hint));
            }
        }
        Ok(Location::postgres(url))
    }
}

/// Where a store is.
#[derive(Clone)]
pub enum Location {
    /// A SQLite file (one daemon).
    Sqlite(PathBuf),
    /// A PostgreSQL database (several daemons).
    Postgres {
        /// The URL with its password.
        url: Secret,
        /// The URL without it: what is shown.
        shown: String,
    },
}

impl Location {
    /// A PostgreSQL database.
    pub fn postgres(url: Secret) -> Location {
        let shown = super::pg::display(url.expose());
        Location::Postgres { url, shown }
    }

    /// The file, or the URL without its password: for messages.
    pub fn display(&self) -> std::path::Display<'_> {
        self.as_path().display()
    }

    /// The same as a path (the SQLite file, or the shown URL).
    pub fn as_path(&self) -> &Path {
        match self {
            Location::Sqlite(p) => p,
            Location::Postgres { shown, .. } => Path::new(shown),
        }
    }

    /// True for a database several daemons share.
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres { .. })
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({})", self.display())
    }
}

impl serde::Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.as_path().serialize(s)
    }
}

/// What [`super::Store::open`] and [`StateLock::acquire`] take: a [`Location`], or a
/// path (a SQLite file), so callers holding either need no conversion.
pub trait StateAt {
    /// The location.
    fn location(&self) -> Location;
}

impl StateAt for Location {
    fn location(&self) -> Location {
        self.clone()
    }
}

impl StateAt for Path {
    fn location(&self) -> Location {
        Location::Sqlite(self.to_path_buf())
    }
}

impl StateAt for PathBuf {
    fn location(&self) -> Location {
        Location::Sqlite(self.clone())
    }
}

/// An exclusive hold on a SQLite state file for one daemon's lifetime (an advisory
/// `flock` on `<state>.lock`, released when the process ends, however it ends). The
/// CLI's store commands do not take it: SQLite's own locking keeps them consistent. A
/// PostgreSQL state is shared by design: the hold is empty and the daemons split the
/// work through leases instead.
#[derive(Debug)]
pub struct StateLock {
    _file: Option<std::fs::File>,
}

impl StateLock {
    /// Takes the lock for `state`, or fails at once when another daemon holds it.
    pub fn acquire<S: StateAt + ?Sized>(state: &S) -> Result<StateLock> {
        let state = match state.location() {
            Location::Sqlite(p) => p,
            Location::Postgres { .. } => return Ok(StateLock { _file: None }),
        };
        let mut name = state.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Daemon {
                message: format!(
                    "another keywarden daemon is already using the state file {}",
                    state.display()
                ),
                hint: "run one daemon per state file: stop the other one (systemctl stop keywarden), give this one its own [state] path, or share a PostgreSQL [state] url between daemons".into(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_state_lock_is_refused_on_sqlite_only() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.db");
        let first = StateLock::acquire(&state).unwrap();
        let e = StateLock::acquire(&state).unwrap_err().to_string();
        assert!(e.contains("another keywarden daemon"), "{e}");
        drop(first);
        StateLock::acquire(&state).unwrap();
        let pg = Location::postgres(Secret::new("postgresql://kw:pw@127.0.0.1:1/kw"));
        let _a = StateLock::acquire(&pg).unwrap();
        let _b = StateLock::acquire(&pg).unwrap();
        assert_eq!(pg.display().to_string(), "postgresql://kw@127.0.0.1:1/kw");
        assert!(!format!("{pg:?}").contains("pw@"));
    }

    #[test]
    fn url_from_a_secret_source_and_not_with_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("url"),
            "postgresql://kw:pw@127.0.0.1:5/kw\n",
        )
        .unwrap();
        let cfg: StateConfig = toml::from_str("url = { file = \"url\" }").unwrap();
        let l = cfg.location(dir.path(), Path::new("k.toml")).unwrap();
        assert!(l.is_shared());
        let cfg: StateConfig = toml::from_str("path = \"s.db\"\nurl = { file = \"url\" }").unwrap();
        let e = cfg.location(dir.path(), Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("both path and url are set"), "{e}");
        std::fs::write(dir.path().join("url"), "mysql://kw:pw@h/kw").unwrap();
        let cfg: StateConfig = toml::from_str("url = { file = \"url\" }").unwrap();
        let e = cfg.location(dir.path(), Path::new("k.toml")).unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        let cfg: StateConfig = toml::from_str("path = \"s.db\"").unwrap();
        let l = cfg.location(dir.path(), Path::new("k.toml")).unwrap();
        assert_eq!(l.as_path(), dir.path().join("s.db"));
    }
}
