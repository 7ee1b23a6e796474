//! The outbox's storage: queueing a message inside another store's transaction
//! ([`OutboxWriter`]), and what the worker needs ([`OutboxStore`]): claiming due
//! messages (one instance at a time per message), and recording each delivery's outcome.
//!
//! The SQL is written once for both backends, except the claim: PostgreSQL locks the
//! rows it picks (`FOR UPDATE SKIP LOCKED`, so instances draining one outbox never pick
//! the same row); SQLite claims in one `UPDATE … RETURNING` under its write lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::NewMail;
use crate::db::{Sql, StoreResult};

/// Queues a message on a connection inside the transaction of what causes it.
#[async_trait]
pub trait OutboxWriter {
    async fn enqueue(&mut self, mail: &NewMail, at: DateTime<Utc>) -> Result<(), sqlx::Error>;
}

/// A claimed message, ready to send.
#[derive(Clone, sqlx::FromRow)]
pub struct OutboxRecord {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// Delivery attempts so far, this one included.
    pub attempts: i64,
}

/// The bodies carry one-time tokens: never shown.
impl std::fmt::Debug for OutboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The outbox as the delivery worker sees it.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` due messages for `claim` until `until`: no other claim
    /// gets them meanwhile. Counts the attempt.
    async fn claim(
        &self,
        claim: Uuid,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRecord>>;
    /// The server accepted the message: it is done (its bodies are cleared).
    async fn mark_sent(&self, id: Uuid, claim: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// Delivery failed for now: try again at `next`.
    async fn mark_retry(
        &self,
        id: Uuid,
        claim: Uuid,
        next: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()>;
    /// Delivery failed for good (its bodies are cleared).
    async fn mark_failed(
        &self,
        id: Uuid,
        claim: Uuid,
        at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()>;
    /// Messages not yet delivered nor given up.
    async fn depth(&self) -> StoreResult<i64>;
    /// Forgets delivered and given-up messages finished before `before`.
    async fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

const INSERT: &str = "INSERT INTO outbox (id, user_id, kind, recipient, subject, body_text, \
     body_html, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)";

/// Due, unclaimed messages at `$2`, oldest first, at most `$4`.
const DUE: &str = "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
     AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
     ORDER BY next_attempt_at, id LIMIT $4";

const CLAIMED: &str = "RETURNING id, kind, recipient, subject, body_text, body_html, attempts";

/// Finishing a claim: only the claim that holds the row may.
const OWNED: &str = "WHERE id = $1 AND claim_id = $2";

/// Implements [`OutboxWriter`] on one backend's connection.
macro_rules! outbox_writer {
    ($conn:ty) => {
        #[async_trait]
        impl OutboxWriter for $conn {
            async fn enqueue(&mut self, m: &NewMail, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
                sqlx::query(INSERT)
                    .bind(m.id)
                    .bind(m.user_id)
                    .bind(m.kind)
                    .bind(&m.recipient)
                    .bind(&m.subject)
                    .bind(&m.text)
                    .bind(&m.html)
                    .bind(at)
                    .execute(&mut *self)
                    .await
                    .map(drop)
            }
        }
    };
}

/// Implements [`OutboxStore`] on one backend's [`Sql`]; `$lock` is how its claim keeps
/// other claims off the rows it picks.
macro_rules! outbox_store {
    ($db:ty, $lock:literal) => {
        #[async_trait]
        impl OutboxStore for Sql<$db> {
            async fn claim(
                &self,
                claim: Uuid,
                at: DateTime<Utc>,
                until: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<OutboxRecord>> {
                let sql = format!(
                    "UPDATE outbox SET claim_id = $1, claimed_until = $3, attempts = attempts + 1 \
                     WHERE id IN ({DUE}{}) {CLAIMED}",
                    $lock
                );
                self.guard
                    .run("outbox_claim", async {
                        sqlx::query_as(&sql)
                            .bind(claim)
                            .bind(at)
                            .bind(until)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await
                    })
                    .await
            }

            async fn mark_sent(&self, id: Uuid, claim: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                let sql = format!(
                    "UPDATE outbox SET sent_at = $3, body_text = '', body_html = '', \
                     claim_id = NULL, claimed_until = NULL, last_error = NULL {OWNED}"
                );
                self.guard
                    .run("outbox_sent", async {
                        let q = sqlx::query(&sql).bind(id).bind(claim).bind(at);
                        q.execute(&self.pool).await.map(drop)
                    })
                    .await
            }

            async fn mark_retry(
                &self,
                id: Uuid,
                claim: Uuid,
                next: DateTime<Utc>,
                error: &str,
            ) -> StoreResult<()> {
                let sql = format!(
                    "UPDATE outbox SET next_attempt_at = $3, last_error = $4, \
                     claim_id = NULL, claimed_until = NULL {OWNED}"
                );
                self.guard
                    .run("outbox_retry", async {
                        let q = sqlx::query(&sql).bind(id).bind(claim).bind(next).bind(error);
                        q.execute(&self.pool).await.map(drop)
                    })
                    .await
            }

            async fn mark_failed(
                &self,
                id: Uuid,
                claim: Uuid,
                at: DateTime<Utc>,
                error: &str,
            ) -> StoreResult<()> {
                let sql = format!(
                    "UPDATE outbox SET failed_at = $3, last_error = $4, body_text = '', \
                     body_html = '', claim_id = NULL, claimed_until = NULL {OWNED}"
                );
                self.guard
                    .run("outbox_failed", async {
                        let q = sqlx::query(&sql).bind(id).bind(claim).bind(at).bind(error);
                        q.execute(&self.pool).await.map(drop)
                    })
                    .await
            }

            async fn depth(&self) -> StoreResult<i64> {
                let q = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
                );
                self.guard
                    .run("outbox_depth", async { q.fetch_one(&self.pool).await })
                    .await
            }

            async fn purge_finished(&self, before: DateTime<Utc>) -> StoreResult<u64> {
                let q = sqlx::query("DELETE FROM outbox WHERE sent_at < $1 OR failed_at < $1")
                    .bind(before);
                self.guard
                    .run("outbox_purge", async {
                        Ok(q.execute(&self.pool).await?.rows_affected())
                    })
                    .await
            }
        }
    };
}

outbox_writer!(sqlx::PgConnection);
outbox_writer!(sqlx::SqliteConnection);
outbox_store!(sqlx::Postgres, " FOR UPDATE SKIP LOCKED");
outbox_store!(sqlx::Sqlite, "");
