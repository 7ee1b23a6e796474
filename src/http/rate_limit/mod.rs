//! Per-client-IP rate limit shared by the credential operations; its shared buckets
//! live in the database (`store.rs`).

mod store;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_ip::rate_key;
use crate::error::ApiError;

pub use store::RateLimitStore;

/// Paths that share one bucket per client (POST only).
pub const LIMITED_PATHS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/refresh",
    "/api/v1/auth/password-reset",
];

/// The auth rate limit: `per_minute` requests per client IP, refilled evenly.
pub struct AuthRateLimiter {
    buckets: Buckets,
    /// IPv6 clients are counted by this many leading bits (`RATE_LIMIT_IPV6_PREFIX`).
    v6_prefix: u8,
}

enum Buckets {
    /// Limiting switched off (`AUTH_RATE_LIMIT_PER_MINUTE=0`).
    Off,
    /// Buckets in this process: right for a single instance (SQLite).
    Local(DefaultKeyedRateLimiter<IpAddr>),
    /// Buckets in the database, so that every instance on it counts together (PostgreSQL).
    Shared {
        store: Arc<dyn RateLimitStore>,
        /// Microseconds one request costs (a minute ÷ `per_minute`).
        interval_us: i64,
        /// Microseconds the bucket holds (`per_minute` requests).
        burst_us: i64,
    },
}

/// Whole seconds (rounded up) a client is told to wait, within 1..=60.
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.clamp(1, 60)
}

impl AuthRateLimiter {
    /// `per_minute == 0` switches limiting off; with a `shared` store the buckets live
    /// in the database. IPv6 clients are keyed by their leading `v6_prefix` bits.
    pub fn new(per_minute: u32, shared: Option<Arc<dyn RateLimitStore>>, v6_prefix: u8) -> Self {
        let buckets = match (NonZeroU32::new(per_minute), shared) {
            (None, _) => Buckets::Off,
            (Some(n), None) => Buckets::Local(RateLimiter::keyed(Quota::per_minute(n))),
            (Some(n), Some(store)) => {
                let interval_us = 60_000_000 / i64::from(n.get());
                Buckets::Shared {
                    store,
                    interval_us,
                    burst_us: interval_us * i64::from(n.get()),
                }
            }
        };
        AuthRateLimiter { buckets, v6_prefix }
    }

    /// Takes one request from `ip`'s bucket, or says how long to wait (RATE_LIMIT_001).
    ///
    /// When the shared buckets cannot be reached the request is let through: the
    /// operation behind the limit needs the same database and answers 503 itself.
    pub async fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let ip = rate_key(ip, self.v6_prefix);
        let wait = match &self.buckets {
            Buckets::Off => return Ok(()),
            Buckets::Local(limiter) => match limiter.check_key(&ip) {
                Ok(()) => return Ok(()),
                Err(not_until) => not_until.wait_time_from(DefaultClock::default().now()),
            },
            Buckets::Shared {
                store,
                interval_us,
                burst_us,
            } => {
                let now_us = chrono::Utc::now().timestamp_micros();
                match store
                    .take_rate_token(&ip.to_string(), now_us, *interval_us, *burst_us)
                    .await
                {
                    Ok(None) => return Ok(()),
                    Ok(Some(wait_us)) => Duration::from_micros(wait_us.unsigned_abs()),
                    Err(e) => {
                        tracing::warn!(error = %e, "rate limit store unavailable; request let through");
                        return Ok(());
                    }
                }
            }
        };
        Err(ApiError::RateLimited {
            retry_after_secs: retry_after_secs(wait),
        })
    }

    /// Forgets clients whose buckets are full again (bounds memory). Shared buckets
    /// are purged with the other expired rows.
    pub fn forget_idle(&self) {
        if let Buckets::Local(l) = &self.buckets {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_per_ip_and_reports_retry_after() {
        let l = AuthRateLimiter::new(2, None, 64);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(l.check(a).await.is_ok() && l.check(a).await.is_ok());
        match l.check(a).await {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
        assert!(l.check(b).await.is_ok());
        let off = AuthRateLimiter::new(0, None, 64);
        for _ in 0..100 {
            assert!(off.check(a).await.is_ok());
        }
    }
}
