//! `DbSettings`: the database layer's timeouts and circuit breaker, from the `DB_*` variables.

use std::time::Duration;

use super::breaker::BreakerSettings;

/// Timeouts and circuit breaker of the database layer, from the `DB_*` variables.
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
}

impl Default for DbSettings {
    fn default() -> Self {
        DbSettings {
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(5),
            breaker: BreakerSettings::default(),
        }
    }
}

/// The statement limit used where `DB_STATEMENT_TIMEOUT_MS` is 0 (SQLite's lock wait,
/// and the basis of the call deadline).
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The smallest client-side deadline of a store call, above the acquire timeout.
const MIN_CALL_DEADLINE: Duration = Duration::from_secs(10);

impl DbSettings {
    /// Reads the `DB_*` variables through `var` (unset or blank: the default).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let d = DbSettings::default();
        let num = |k: &str, default: u64| -> anyhow::Result<u64> {
            match var(k).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{k}={v:?} is invalid: {e}")),
            }
        };
        let ms = |k: &str, default: Duration| {
            num(k, default.as_millis() as u64).map(Duration::from_millis)
        };
        let settings = DbSettings {
            acquire_timeout: ms("DB_ACQUIRE_TIMEOUT_MS", d.acquire_timeout)?,
            statement_timeout: ms("DB_STATEMENT_TIMEOUT_MS", d.statement_timeout)?,
            breaker: BreakerSettings {
                failure_threshold: u32::try_from(num(
                    "DB_BREAKER_FAILURES",
                    u64::from(d.breaker.failure_threshold),
                )?)
                .map_err(|_| anyhow::anyhow!("DB_BREAKER_FAILURES is too large"))?,
                cooldown: ms("DB_BREAKER_COOLDOWN_MS", d.breaker.cooldown)?,
            },
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

        let s = settings(&[
            ("DB_ACQUIRE_TIMEOUT_MS", "250"),
            ("DB_STATEMENT_TIMEOUT_MS", " 300 "),
            ("DB_BREAKER_FAILURES", "0"),
            ("DB_BREAKER_COOLDOWN_MS", "100"),
        ])
        .unwrap();
        assert_eq!(s.acquire_timeout, Duration::from_millis(250));
        assert_eq!(s.statement_timeout, Duration::from_millis(300));
        assert_eq!(s.breaker.failure_threshold, 0);
        assert_eq!(s.breaker.cooldown, Duration::from_millis(100));
        assert_eq!(s.sqlite_busy_timeout(), Duration::from_millis(300));
        assert_eq!(s.call_deadline(), Duration::from_millis(10_250));

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
        ] {
            let err = settings(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(k), "{k}={v}: {err}");
        }
    }
}
