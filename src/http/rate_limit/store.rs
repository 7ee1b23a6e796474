//! The shared rate-limit buckets' storage: one GCRA arrival time per key, in the
//! database so that every instance on it counts together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::db::{Sql, StoreResult};

/// The auth rate limit's buckets (GCRA: one theoretical arrival time per key).
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes one request from `key`'s bucket at `now_us` (µs since the epoch), where a
    /// request costs `interval_us` and the bucket holds `burst_us`. `None` when allowed;
    /// otherwise how many microseconds until a request would be.
    async fn take_rate_token(
        &self,
        key: &str,
        now_us: i64,
        interval_us: i64,
        burst_us: i64,
    ) -> StoreResult<Option<i64>>;
    /// Gives one request of `interval_us` back to `key`'s bucket (a check that turned out
    /// not to count).
    async fn refund_rate_token(&self, key: &str, interval_us: i64) -> StoreResult<()>;
    /// Deletes the buckets that are full again at `now` (same as no row); returns how many.
    async fn purge_full_buckets(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Implements [`RateLimitStore`] on one backend's [`Sql`].
macro_rules! rate_limit_store {
    ($db:ty) => {
        #[async_trait]
        impl RateLimitStore for Sql<$db> {
            async fn take_rate_token(
                &self,
                key: &str,
                now_us: i64,
                interval_us: i64,
                burst_us: i64,
            ) -> StoreResult<Option<i64>> {
                self.guard.run("take_rate_token", async {
                    // One atomic upsert: the row lock serializes concurrent requests of
                    // every instance, and the WHERE refuses a request beyond the burst.
                    let taken: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO rate_limits (key, tat_us) VALUES ($1, $2 + $3) \
                         ON CONFLICT (key) DO UPDATE \
                           SET tat_us = CASE WHEN rate_limits.tat_us > $2 THEN rate_limits.tat_us ELSE $2 END + $3 \
                           WHERE CASE WHEN rate_limits.tat_us > $2 THEN rate_limits.tat_us ELSE $2 END + $3 - $2 <= $4 \
                         RETURNING tat_us",
                    )
                    .bind(key)
                    .bind(now_us)
                    .bind(interval_us)
                    .bind(burst_us)
                    .fetch_optional(&self.pool)
                    .await?;
                    if taken.is_some() {
                        return Ok(None);
                    }
                    let tat: i64 = sqlx::query_scalar("SELECT tat_us FROM rate_limits WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?
                        .unwrap_or(now_us);
                    Ok(Some((tat.max(now_us) + interval_us - now_us - burst_us).max(1)))
                }).await
            }

            async fn refund_rate_token(&self, key: &str, interval_us: i64) -> StoreResult<()> {
                let q = sqlx::query("UPDATE rate_limits SET tat_us = tat_us - $2 WHERE key = $1")
                    .bind(key)
                    .bind(interval_us);
                self.guard
                    .run("refund_rate_token", async { q.execute(&self.pool).await.map(drop) })
                    .await
            }

            async fn purge_full_buckets(&self, now: DateTime<Utc>) -> StoreResult<u64> {
                let q = sqlx::query("DELETE FROM rate_limits WHERE tat_us < $1")
                    .bind(now.timestamp_micros());
                self.guard
                    .run("purge_rate_limits", async {
                        Ok(q.execute(&self.pool).await?.rows_affected())
                    })
                    .await
            }
        }
    };
}

rate_limit_store!(sqlx::Postgres);
rate_limit_store!(sqlx::Sqlite);
