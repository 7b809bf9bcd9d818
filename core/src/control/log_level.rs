//! Per-Func log levels, changed while the mesh serves.
//!
//! `funcmesh log-level FUNC=LEVEL` sends a [`LogLevelChange`] on
//! [`LOG_LEVEL_TOPIC`](crate::queues::LOG_LEVEL_TOPIC). The trons apply it
//! to the [`LogLevels`] they hold and announce them with the routing table,
//! at once and every [`ANNOUNCE_EVERY`](super::ANNOUNCE_EVERY) after, so a
//! gateway or runner that starts later gets them too. Every process applies
//! the announced levels to its own log filter through the hook the binary
//! installs ([`set_hook`]): the lines about a request of that Func (which
//! carry `func` in their span) are written from that level on, in every
//! component, on top of what the process's `--log` filter writes, while
//! other Funcs keep that filter alone.
//!
//! A level holds until its expiry (15 minutes unless the change says
//! otherwise, at most a day), when the next announcement drops it, or until
//! `funcmesh log-level FUNC=reset`. An expired level is never applied.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a level holds when the change names no expiry.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(15 * 60);
/// The longest a level may hold.
pub const MAX_EXPIRY: Duration = Duration::from_secs(24 * 60 * 60);

/// The levels a Func's lines may be raised to. A level adds lines: what
/// the process's own filter writes is written either way.
pub const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// A change of one Func's log level (or of all of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LogLevelChange {
    /// Log `func`'s requests at `level` until `until_ms`.
    Set {
        /// The Func (bundle name).
        func: String,
        /// One of [`LEVELS`].
        level: String,
        /// When it expires, in milliseconds since the Unix epoch.
        until_ms: u64,
    },
    /// Back to the process's own filter for `func`, or for every Func.
    Reset {
        /// The Func; `None` resets every one.
        func: Option<String>,
    },
}

impl LogLevelChange {
    /// Why the change cannot be made, if it cannot: an unknown level, a
    /// Func name that is not one (it ends up in a log filter), an expiry
    /// past [`MAX_EXPIRY`] from `now_ms`.
    pub fn check(&self, now_ms: u64) -> Result<(), String> {
        let (func, level, until_ms) = match self {
            LogLevelChange::Reset { func: None } => return Ok(()),
            LogLevelChange::Reset { func: Some(func) } => return check_func(func),
            LogLevelChange::Set {
                func,
                level,
                until_ms,
            } => (func, level, *until_ms),
        };
        check_func(func)?;
        if !LEVELS.contains(&level.as_str()) {
            return Err(format!(
                "log level `{level}` is none of {}",
                LEVELS.join(", ")
            ));
        }
        let max = now_ms.saturating_add(MAX_EXPIRY.as_millis() as u64);
        if until_ms > max {
            return Err(format!(
                "a log level holds at most {} h",
                MAX_EXPIRY.as_secs() / 3600
            ));
        }
        Ok(())
    }
}

/// `[A-Za-z0-9._-]`, 1 to 128 of them: what a bundle may be named.
fn check_func(func: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    match !func.is_empty() && func.len() <= 128 && func.chars().all(allowed) {
        true => Ok(()),
        false => Err(format!(
            "`{func}` is no Func name (1 to 128 of A-Z a-z 0-9 . _ -)"
        )),
    }
}

/// One Func's level and its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLevel {
    /// One of [`LEVELS`].
    pub level: String,
    /// When it expires, in milliseconds since the Unix epoch.
    pub until_ms: u64,
}

/// The per-Func levels in force, by Func.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogLevels(pub BTreeMap<String, LogLevel>);

impl LogLevels {
    /// Whether no Func has a level of its own.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These levels with `change` made (a change that fails
    /// [`LogLevelChange::check`] changes nothing).
    pub fn apply(&self, change: &LogLevelChange, now_ms: u64) -> LogLevels {
        if change.check(now_ms).is_err() {
            return self.clone();
        }
        let mut levels = self.live(now_ms);
        match change {
            LogLevelChange::Set {
                func,
                level,
                until_ms,
            } => {
                levels.0.insert(
                    func.clone(),
                    LogLevel {
                        level: level.clone(),
                        until_ms: *until_ms,
                    },
                );
            }
            LogLevelChange::Reset { func: Some(func) } => {
                levels.0.remove(func);
            }
            LogLevelChange::Reset { func: None } => levels.0.clear(),
        }
        levels
    }

    /// Only the levels that have not expired at `now_ms`, and that are
    /// well-formed (an announcement is checked as a change is).
    pub fn live(&self, now_ms: u64) -> LogLevels {
        LogLevels(
            self.0
                .iter()
                .filter(|(func, l)| {
                    l.until_ms > now_ms
                        && check_func(func).is_ok()
                        && LEVELS.contains(&l.level.as_str())
                })
                .map(|(func, l)| (func.clone(), l.clone()))
                .collect(),
        )
    }

    /// The log-filter directives of the live levels, one per Func:
    /// `[{func=NAME}]=LEVEL`, comma-separated (`tracing-subscriber`'s
    /// `EnvFilter` syntax; a `.` in a name is escaped, the value being a
    /// pattern).
    pub fn directives(&self, now_ms: u64) -> String {
        self.live(now_ms)
            .0
            .iter()
            .map(|(func, l)| format!("[{{func={}}}]={}", func.replace('.', "\\."), l.level))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What applies the levels to a process's log filter.
pub type Hook = Box<dyn Fn(&LogLevels) + Send + Sync>;

static HOOK: OnceLock<Hook> = OnceLock::new();

/// Installs the process's hook (the `funcmesh` binary does, with its log
/// filter); the first one wins. Without one, levels are not applied (a
/// library user owns the process's logging).
pub fn set_hook(hook: Hook) {
    let _ = HOOK.set(hook);
}

/// Applies `levels` to this process's log filter, when a hook is
/// installed. The hook is called on every announcement; it compares with
/// what it applied last.
pub fn apply(levels: &LogLevels) {
    if let Some(hook) = HOOK.get() {
        hook(levels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(func: &str, level: &str, until_ms: u64) -> LogLevelChange {
        LogLevelChange::Set {
            func: func.into(),
            level: level.into(),
            until_ms,
        }
    }

    #[test]
    fn levels_are_set_reset_and_expire() {
        let levels = LogLevels::default()
            .apply(&set("hello", "debug", 2_000), 1_000)
            .apply(&set("words.py", "trace", 5_000), 1_000);
        assert_eq!(
            levels.directives(1_500),
            r"[{func=hello}]=debug,[{func=words\.py}]=trace"
        );
        assert_eq!(levels.directives(2_000), r"[{func=words\.py}]=trace");
        let reset = levels.apply(
            &LogLevelChange::Reset {
                func: Some("words.py".into()),
            },
            1_500,
        );
        assert_eq!(reset.directives(1_500), "[{func=hello}]=debug");
        let all = levels.apply(&LogLevelChange::Reset { func: None }, 1_500);
        assert!(all.is_empty());
    }

    #[test]
    fn bad_changes_are_refused_and_change_nothing() {
        let now = 1_000;
        for (change, why) in [
            (set("hello", "loud", 2_000), "none of"),
            (set("x}]=trace,[{y", "debug", 2_000), "no Func name"),
            (set("", "debug", 2_000), "no Func name"),
            (
                set("hello", "debug", now + MAX_EXPIRY.as_millis() as u64 + 1),
                "at most",
            ),
        ] {
            let error = change.check(now).unwrap_err();
            assert!(error.contains(why), "{error}");
            assert!(LogLevels::default().apply(&change, now).is_empty());
        }
    }

    #[test]
    fn announced_levels_are_checked_as_changes_are() {
        let mut forged = LogLevels::default();
        forged.0.insert(
            "a}]=trace,[{b".into(),
            LogLevel {
                level: "debug".into(),
                until_ms: u64::MAX,
            },
        );
        forged.0.insert(
            "hello".into(),
            LogLevel {
                level: "verbose".into(),
                until_ms: u64::MAX,
            },
        );
        assert_eq!(forged.directives(0), "");
    }
}
