//! One-time tokens' storage: issuing one with its mail (one transaction), and consuming
//! one with what it is for (one transaction each: a password reset, an email
//! verification). Tokens are found by their hash only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::onetime::{NewOneTimeToken, RESET, VERIFY};
use crate::db::{Sql, StoreResult};
use crate::mail::store::OutboxWriter;
use crate::mail::NewMail;

/// Stores a token on a connection inside another store's transaction.
#[async_trait]
pub trait TokenWriter {
    async fn insert_token(&mut self, t: &NewOneTimeToken) -> Result<(), sqlx::Error>;
}

/// One-time tokens and what consuming them does.
#[async_trait]
pub trait OneTimeTokenStore: Send + Sync {
    /// Stores `token` and queues `mail` (which carries it), atomically.
    async fn issue_token(&self, token: &NewOneTimeToken, mail: &NewMail) -> StoreResult<()>;
    /// Whether `hash` names a token of `purpose` that is unused and unexpired at `at`.
    async fn token_usable(&self, hash: &str, purpose: &str, at: DateTime<Utc>)
        -> StoreResult<bool>;
    /// Consumes the reset token `hash` and, atomically, sets the new password hash,
    /// moves the credentials version on, ends every session, marks the address verified
    /// (the mail reached it) and consumes the user's other reset tokens. The user's id,
    /// or `None` when the token is not usable.
    async fn reset_password(
        &self,
        hash: &str,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>>;
    /// Consumes the verification token `hash` and marks the address verified.
    async fn verify_email(&self, hash: &str, at: DateTime<Utc>) -> StoreResult<Option<Uuid>>;
}

/// Marks token `$1` of purpose `$3` used at `$2`, if it is usable; yields its user.
const CONSUME: &str = "UPDATE one_time_tokens SET used_at = $2 \
     WHERE token_hash = $1 AND purpose = $3 AND used_at IS NULL AND expires_at > $2 \
     RETURNING user_id";

/// Implements [`TokenWriter`] on one backend's connection.
macro_rules! token_writer {
    ($conn:ty) => {
        #[async_trait]
        impl TokenWriter for $conn {
            async fn insert_token(&mut self, t: &NewOneTimeToken) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO one_time_tokens (token_hash, user_id, purpose, expires_at, used_at, \
                       created_at) VALUES ($1, $2, $3, $4, NULL, $5)",
                )
                .bind(&t.hash)
                .bind(t.user_id)
                .bind(t.purpose)
                .bind(t.expires_at)
                .bind(t.created_at)
                .execute(&mut *self)
                .await
                .map(drop)
            }
        }
    };
}

/// Implements [`OneTimeTokenStore`] on one backend's [`Sql`].
macro_rules! token_store {
    ($db:ty) => {
        #[async_trait]
        impl OneTimeTokenStore for Sql<$db> {
            async fn issue_token(&self, token: &NewOneTimeToken, mail: &NewMail) -> StoreResult<()> {
                self.guard
                    .run("issue_token", async {
                        let mut tx = self.pool.begin().await?;
                        TokenWriter::insert_token(&mut *tx, token).await?;
                        OutboxWriter::enqueue(&mut *tx, mail, token.created_at).await?;
                        tx.commit().await
                    })
                    .await
            }

            async fn token_usable(&self, hash: &str, purpose: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let q = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM one_time_tokens \
                     WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
                )
                .bind(hash)
                .bind(purpose)
                .bind(at);
                self.guard
                    .run("token_usable", async { Ok(q.fetch_one(&self.pool).await? > 0) })
                    .await
            }

            async fn reset_password(
                &self,
                hash: &str,
                password_hash: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<Option<Uuid>> {
                self.guard.run("reset_password", async {
                    let mut tx = self.pool.begin().await?;
                    let user: Option<Uuid> = sqlx::query_scalar(CONSUME)
                        .bind(hash)
                        .bind(at)
                        .bind(RESET)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(user) = user else { return Ok(None) };
                    sqlx::query(
                        "UPDATE users SET password_hash = $2, updated_at = $3, email_verified = $4, \
                         credentials_version = credentials_version + 1 WHERE id = $1",
                    )
                    .bind(user)
                    .bind(password_hash)
                    .bind(at)
                    .bind(true)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $2, updated_at = $2 \
                         WHERE user_id = $1 AND revoked_at IS NULL",
                    )
                    .bind(user)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE one_time_tokens SET used_at = $2 \
                         WHERE user_id = $1 AND purpose = $3 AND used_at IS NULL",
                    )
                    .bind(user)
                    .bind(at)
                    .bind(RESET)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Some(user))
                }).await
            }

            async fn verify_email(&self, hash: &str, at: DateTime<Utc>) -> StoreResult<Option<Uuid>> {
                self.guard.run("verify_email", async {
                    let mut tx = self.pool.begin().await?;
                    let user: Option<Uuid> = sqlx::query_scalar(CONSUME)
                        .bind(hash)
                        .bind(at)
                        .bind(VERIFY)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(user) = user else { return Ok(None) };
                    sqlx::query("UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1")
                        .bind(user)
                        .bind(true)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(Some(user))
                }).await
            }
        }
    };
}

token_writer!(sqlx::PgConnection);
token_writer!(sqlx::SqliteConnection);
token_store!(sqlx::Postgres);
token_store!(sqlx::Sqlite);
