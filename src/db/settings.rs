//! `DbSettings`: the database layer's timeouts, circuit breaker and SQLite durability,
//! from the `DB_*` and `SQLITE_*` variables.

use std::time::Duration;

use sqlx::sqlite::SqliteSynchronous;

use super::breaker::BreakerSettings;
use crate::config::{Lookup, Setting};

/// Timeouts, circuit breaker and SQLite durability of the database layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbSettings {
    /// Longest wait for a pooled connection, including (re)connecting
    /// (`DB_ACQUIRE_TIMEOUT_MS`, default 1000).
    pub acquire_timeout: Duration,
    /// How long one statement may run (`DB_STATEMENT_TIMEOUT_MS`, default 5000): the
    /// PostgreSQL `statement_timeout` (0 switches it off), and how long SQLite waits
    /// for a lock before giving up with `BUSY` (0: the default 5 s).
    pub statement_timeout: Duration,
    /// When the store's circuit breaker opens (`DB_BREAKER_FAILURES`, default 5, 0
    /// switches it off) and how long it stays open (`DB_BREAKER_COOLDOWN_MS`, default 2000).
    pub breaker: BreakerSettings,
    /// How long start-up retries a database that refuses connections or does not answer
    /// (still starting next to the service) before it gives up (`DB_CONNECT_WAIT_MS`,
    /// default 2000; 0: one attempt).
    pub connect_wait: Duration,
    /// SQLite's `PRAGMA synchronous` (`SQLITE_SYNCHRONOUS`, default `full`): with `full`
    /// a committed transaction survives a power loss; `normal` (in WAL mode) may lose the
    /// last transactions but not corrupt the file; `off` may do both.
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for DbSettings {
    fn default() -> Self {
        DbSettings {
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(5),
            breaker: BreakerSettings::default(),
            connect_wait: Duration::from_secs(2),
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

/// The statement limit used where `DB_STATEMENT_TIMEOUT_MS` is 0 (SQLite's lock wait,
/// and the basis of the call deadline).
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The smallest client-side deadline of a store call, above the acquire timeout.
const MIN_CALL_DEADLINE: Duration = Duration::from_secs(10);

const SYNCHRONOUS: &[(&str, SqliteSynchronous)] = &[
    ("full", SqliteSynchronous::Full),
    ("normal", SqliteSynchronous::Normal),
    ("extra", SqliteSynchronous::Extra),
    ("off", SqliteSynchronous::Off),
];

impl DbSettings {
    /// The database layer's variables: name, default, help (`--help`, README, parsing).
    pub const VARIABLES: &'static [Setting] = &[
        Setting {
            name: "DB_ACQUIRE_TIMEOUT_MS",
            default: "1000",
            help: "longest wait for a pooled connection, (re)connecting included, in ms (at least 1)",
        },
        Setting {
            name: "DB_STATEMENT_TIMEOUT_MS",
            default: "5000",
            help: "server-side limit of one statement on PostgreSQL, in ms (0: off); on SQLite also the wait for a lock (0: 5 s)",
        },
        Setting {
            name: "DB_BREAKER_FAILURES",
            default: "5",
            help: "consecutive database failures that open the circuit breaker (503 while open); 0 switches it off",
        },
        Setting {
            name: "DB_BREAKER_COOLDOWN_MS",
            default: "2000",
            help: "how long the circuit breaker stays open, in ms",
        },
        Setting {
            name: "DB_CONNECT_WAIT_MS",
            default: "2000",
            help: "how long start-up retries a database that refuses connections or does not answer yet, in ms (0: one attempt)",
        },
        Setting {
            name: "SQLITE_SYNCHRONOUS",
            default: "full",
            help: "SQLite durability: full (a committed write survives power loss), extra, normal (faster; the last commits may be lost on power loss), off (may also corrupt the file)",
        },
    ];

    /// Reads the database variables through `get` (unset or blank: the default).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let env = Lookup::new(&get, Self::VARIABLES);
        let ms = |k: &str| env.parse::<u64>(k).map(Duration::from_millis);
        let settings = DbSettings {
            acquire_timeout: ms("DB_ACQUIRE_TIMEOUT_MS")?,
            statement_timeout: ms("DB_STATEMENT_TIMEOUT_MS")?,
            breaker: BreakerSettings {
                failure_threshold: env.parse("DB_BREAKER_FAILURES")?,
                cooldown: ms("DB_BREAKER_COOLDOWN_MS")?,
            },
            connect_wait: ms("DB_CONNECT_WAIT_MS")?,
            sqlite_synchronous: env.choice("SQLITE_SYNCHRONOUS", SYNCHRONOUS)?,
        };
        if settings.acquire_timeout.is_zero() {
            anyhow::bail!("DB_ACQUIRE_TIMEOUT_MS must be at least 1");
        }
        Ok(settings)
    }

    /// The client-side deadline of one whole store call: the acquire timeout plus room
    /// for two slow statements, and at least 10 s more. It is the last resort against a
    /// silent network (no reset, no answer), which no server-side timeout catches.
    pub fn call_deadline(&self) -> Duration {
        self.acquire_timeout + (2 * self.sqlite_busy_timeout()).max(MIN_CALL_DEADLINE)
    }

    pub(super) fn sqlite_busy_timeout(&self) -> Duration {
        if self.statement_timeout.is_zero() {
            DEFAULT_STATEMENT_TIMEOUT
        } else {
            self.statement_timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<DbSettings> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        DbSettings::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn db_settings_defaults_and_overrides() {
        let d = settings(&[]).unwrap();
        assert_eq!(d, DbSettings::default());
        assert_eq!(d.acquire_timeout, Duration::from_secs(1));
        assert_eq!(d.statement_timeout, Duration::from_secs(5));
        assert_eq!(d.breaker.failure_threshold, 5);
        assert_eq!(d.breaker.cooldown, Duration::from_secs(2));
        assert_eq!(d.call_deadline(), Duration::from_secs(11));
        assert_eq!(d.connect_wait, Duration::from_secs(2));
        assert_eq!(d.sqlite_synchronous, SqliteSynchronous::Full);

        let s = settings(&[
            ("DB_ACQUIRE_TIMEOUT_MS", "250"),
            ("DB_STATEMENT_TIMEOUT_MS", " 300 "),
            ("DB_BREAKER_FAILURES", "0"),
            ("DB_BREAKER_COOLDOWN_MS", "100"),
            ("DB_CONNECT_WAIT_MS", "0"),
            ("SQLITE_SYNCHRONOUS", " Normal "),
        ])
        .unwrap();
        assert_eq!(s.acquire_timeout, Duration::from_millis(250));
        assert_eq!(s.statement_timeout, Duration::from_millis(300));
        assert_eq!(s.breaker.failure_threshold, 0);
        assert_eq!(s.breaker.cooldown, Duration::from_millis(100));
        assert_eq!(s.sqlite_busy_timeout(), Duration::from_millis(300));
        assert_eq!(s.call_deadline(), Duration::from_millis(10_250));
        assert_eq!(s.connect_wait, Duration::ZERO);
        assert_eq!(s.sqlite_synchronous, SqliteSynchronous::Normal);
        for (v, expected) in [
            ("full", SqliteSynchronous::Full),
            ("EXTRA", SqliteSynchronous::Extra),
            ("off", SqliteSynchronous::Off),
        ] {
            let s = settings(&[("SQLITE_SYNCHRONOUS", v)]).unwrap();
            assert_eq!(s.sqlite_synchronous, expected, "{v}");
        }

        let off = settings(&[("DB_STATEMENT_TIMEOUT_MS", "0")]).unwrap();
        assert_eq!(off.sqlite_busy_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn db_settings_reject_bad_values() {
        for (k, v) in [
            ("DB_ACQUIRE_TIMEOUT_MS", "0"),
            ("DB_ACQUIRE_TIMEOUT_MS", "-1"),
            ("DB_STATEMENT_TIMEOUT_MS", "1s"),
            ("DB_BREAKER_FAILURES", "99999999999"),
            ("DB_BREAKER_COOLDOWN_MS", "soon"),
            ("DB_CONNECT_WAIT_MS", "2s"),
            ("SQLITE_SYNCHRONOUS", "fast"),
        ] {
            let err = settings(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(k), "{k}={v}: {err}");
        }
        let err = settings(&[("SQLITE_SYNCHRONOUS", "fast")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"SQLITE_SYNCHRONOUS="fast" is invalid: use full or normal or extra or off"#
        );
    }
}
