//! Limits on failed credential checks, per account rather than per client address:
//! current-password checks per user (a stolen access token must not allow guessing)
//! and failed logins per email (credential stuffing spreads over many addresses).
//!
//! Each limit is a GCRA bucket in the database (`rate_limits`, shared by every
//! instance): an attempt takes one unit before the password is checked, so parallel
//! guesses cannot overtake the count, and a check that succeeds gives it back.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ApiError, ApiResult};
use crate::http::rate_limit::RateLimitStore;

/// Current-password checks: 5 failures per 15 minutes per user (then one per 3 minutes).
pub const CURRENT_PASSWORD: (u32, Duration) = (5, Duration::from_secs(15 * 60));
/// Logins: `failures` per account (`LOGIN_FAILURES_PER_ACCOUNT`, default 10), refilled
/// one a minute: an attacker gets one guess a minute, and the owner never waits more
/// than a minute for a login.
pub fn login(failures: u32) -> (u32, Duration) {
    (failures, Duration::from_secs(60) * failures)
}

/// Mail an address is sent on request (password reset, verification resend): 3 an hour.
pub const MAIL_REQUESTS: (u32, Duration) = (3, Duration::from_secs(3600));

/// A limit of `failures` per `window` on one kind of check.
pub struct FailureLimit {
    /// `None`: the limit is off (0 failures allowed means no limit).
    store: Option<Arc<dyn RateLimitStore>>,
    /// Key prefix naming the kind of check (`pw`, `login`).
    scope: &'static str,
    /// Microseconds one failure costs, and the bucket's size.
    interval_us: i64,
    burst_us: i64,
}

/// One attempt taken from a bucket; [`Attempt::succeeded`] gives it back.
pub struct Attempt<'a> {
    limit: &'a FailureLimit,
    key: String,
}

impl FailureLimit {
    /// `failures == 0` switches the limit off: every attempt is let through.
    pub fn new(
        store: Arc<dyn RateLimitStore>,
        scope: &'static str,
        limit: (u32, Duration),
    ) -> Self {
        let (failures, window) = limit;
        let burst_us = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        FailureLimit {
            store: (failures > 0).then_some(store),
            scope,
            interval_us: burst_us / i64::from(failures.max(1)),
            burst_us,
        }
    }

    /// Takes an attempt for `subject` (RATE_LIMIT_001 with `Retry-After` when its
    /// failures used the allowance up). When the buckets cannot be reached the attempt
    /// is let through: the check behind it needs the same database and answers 503.
    pub async fn take(&self, subject: &str) -> ApiResult<Attempt<'_>> {
        let key = format!("{}:{subject}", self.scope);
        let Some(store) = &self.store else {
            return Ok(Attempt { limit: self, key });
        };
        let now_us = chrono::Utc::now().timestamp_micros();
        match store
            .take_rate_token(&key, now_us, self.interval_us, self.burst_us)
            .await
        {
            Ok(None) => {}
            Ok(Some(wait_us)) => {
                let secs = Duration::from_micros(wait_us.unsigned_abs())
                    .as_secs_f64()
                    .ceil();
                return Err(ApiError::RateLimited {
                    retry_after_secs: (secs as u64).max(1),
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, scope = self.scope, "attempt limit unavailable; let through")
            }
        }
        Ok(Attempt { limit: self, key })
    }
}

impl Attempt<'_> {
    /// The check succeeded: it does not count as a failure.
    pub async fn succeeded(self) {
        let l = self.limit;
        let Some(store) = &l.store else { return };
        if let Err(e) = store.refund_rate_token(&self.key, l.interval_us).await {
            tracing::warn!(error = %e, scope = l.scope, "could not refund a successful attempt");
        }
    }
}
