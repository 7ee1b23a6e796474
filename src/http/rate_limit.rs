//! Per-client-IP rate limit shared by the credential operations.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Paths that share one bucket per client (POST only).
pub const LIMITED_PATHS: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/refresh",
];

/// A keyed token bucket: `per_minute` requests per client IP, refilled evenly.
pub struct AuthRateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AuthRateLimiter {
    /// `per_minute == 0` switches limiting off.
    pub fn new(per_minute: u32) -> Self {
        AuthRateLimiter {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Takes one request from `ip`'s bucket, or says how long to wait (RATE_LIMIT_001).
    pub fn check(&self, ip: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::RateLimited {
                retry_after_secs: secs.clamp(1, 60),
            }
        })
    }

    /// Forgets clients whose buckets are full again (bounds memory).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_reports_retry_after() {
        let l = AuthRateLimiter::new(2);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(l.check(a).is_ok() && l.check(a).is_ok());
        match l.check(a) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
        assert!(l.check(b).is_ok());
        let off = AuthRateLimiter::new(0);
        assert!((0..100).all(|_| off.check(a).is_ok()));
    }
}
