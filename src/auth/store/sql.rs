//! The SQL of [`UserStore`] and [`SessionStore`], written once in the dialect
//! PostgreSQL and SQLite share and compiled for each backend.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::tokens::TokenWriter;
use super::{
    NewSession, Rotation, SessionRecord, SessionStore, TokenStatus, UserRecord, UserStore,
};
use crate::auth::email::Email;
use crate::auth::onetime::NewOneTimeToken;
use crate::db::{Sql, StoreResult};
use crate::mail::store::OutboxWriter;
use crate::mail::NewMail;

const USER_COLUMNS: &str = "id, email, name, password_hash, is_active, email_verified, \
     credentials_version, last_login_at, created_at, updated_at";

/// The live sessions of user `$1` at `$2`: not ended, refresh not expired, opened with
/// the user's current credentials.
const LIVE_SESSIONS: &str = "FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
       AND s.credentials_version = u.credentials_version";

/// Implements [`UserStore`] on one backend's [`Sql`].
macro_rules! user_store {
    ($db:ty) => {
        #[async_trait]
        impl UserStore for Sql<$db> {
            async fn create_user(
                &self,
                u: &UserRecord,
                verification: Option<&(NewOneTimeToken, NewMail)>,
            ) -> StoreResult<()> {
                let q = sqlx::query(
                    "INSERT INTO users (id, email, name, password_hash, is_active, credentials_version, \
                       last_login_at, created_at, updated_at, email_verified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(u.id)
                .bind(&u.email)
                .bind(&u.name)
                .bind(&u.password_hash)
                .bind(u.is_active)
                .bind(u.credentials_version)
                .bind(u.last_login_at)
                .bind(u.created_at)
                .bind(u.updated_at)
                .bind(u.email_verified);
                self.guard
                    .run("create_user", async {
                        let mut tx = self.pool.begin().await?;
                        q.execute(&mut *tx).await?;
                        if let Some((token, mail)) = verification {
                            TokenWriter::insert_token(&mut *tx, token).await?;
                            OutboxWriter::enqueue(&mut *tx, mail, u.created_at).await?;
                        }
                        tx.commit().await
                    })
                    .await
            }

            async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
                // Both sides through the database's lower(), as the unique index on
                // lower(email) compares: the key is one definition of "the same address".
                // External users are not keyed by address: a login never finds them.
                let sql = format!("SELECT {USER_COLUMNS} FROM users \
                     WHERE lower(email) = lower($1) AND external_issuer IS NULL");
                self.guard
                    .run("user_by_email", async {
                        sqlx::query_as(&sql).bind(email.as_str()).fetch_optional(&self.pool).await
                    })
                    .await
            }

            async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                self.guard
                    .run("user_by_id", async {
                        sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await
                    })
                    .await
            }

            async fn touch_last_login(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                let q = sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at);
                self.guard
                    .run("touch_last_login", async { q.execute(&self.pool).await.map(drop) })
                    .await
            }

            async fn delete_user(&self, id: Uuid, credentials_version: i64) -> StoreResult<bool> {
                // ON DELETE CASCADE: todos (and their tag links), tags, sessions,
                // revocations, one-time tokens and pending mail go in this statement.
                let q = sqlx::query("DELETE FROM users WHERE id = $1 AND credentials_version = $2")
                    .bind(id)
                    .bind(credentials_version);
                self.guard
                    .run("delete_user", async {
                        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
                    })
                    .await
            }

            async fn change_password(&self, id: Uuid, hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
                self.guard
                    .run("change_password", async {
                        let mut tx = self.pool.begin().await?;
                        sqlx::query(
                            "UPDATE users SET password_hash = $2, updated_at = $3, \
                             credentials_version = credentials_version + 1 WHERE id = $1",
                        )
                            .bind(id)
                            .bind(hash)
                            .bind(at)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "UPDATE sessions SET revoked_at = $2, updated_at = $2 \
                             WHERE user_id = $1 AND revoked_at IS NULL",
                        )
                        .bind(id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        tx.commit().await
                    })
                    .await
            }
        }
    };
}

/// Implements [`SessionStore`] on one backend's [`Sql`].
macro_rules! session_store {
    ($db:ty) => {
        #[async_trait]
        impl SessionStore for Sql<$db> {
            async fn create_session(&self, s: &NewSession, at: DateTime<Utc>) -> StoreResult<bool> {
                // The version check is inside the statement that creates the session: a
                // change committed before it leaves nothing to insert.
                let q = sqlx::query(
                    "INSERT INTO sessions (id, user_id, refresh_jti, expires_at, revoked_at, created_at, \
                       updated_at, credentials_version, last_used_at, user_agent, ip) \
                     SELECT $1, $2, $3, $4, NULL, $5, $5, $6, $5, $7, $8 FROM users \
                     WHERE id = $2 AND credentials_version = $6 AND is_active",
                )
                .bind(s.id)
                .bind(s.user_id)
                .bind(s.refresh_jti)
                .bind(s.expires_at)
                .bind(at)
                .bind(s.credentials_version)
                .bind(&s.user_agent)
                .bind(&s.ip);
                self.guard
                    .run("create_session", async {
                        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
                    })
                    .await
            }

            async fn rotate_refresh(
                &self,
                session_id: Uuid,
                user_id: Uuid,
                presented_jti: Uuid,
                next_jti: Uuid,
                expires_at: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> StoreResult<Rotation> {
                self.guard.run("rotate_refresh", async {
                    // Compare-and-swap: only the current refresh token of a live session rotates.
                    let rotated = sqlx::query(
                        "UPDATE sessions SET refresh_jti = $4, expires_at = $5, updated_at = $6, last_used_at = $6 \
                         WHERE id = $1 AND user_id = $2 AND refresh_jti = $3 AND revoked_at IS NULL AND expires_at > $6 \
                           AND credentials_version = (SELECT credentials_version FROM users WHERE id = $2)",
                    )
                    .bind(session_id)
                    .bind(user_id)
                    .bind(presented_jti)
                    .bind(next_jti)
                    .bind(expires_at)
                    .bind(at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    if rotated == 1 {
                        return Ok(Rotation::Rotated);
                    }
                    // Not current: if the session is still live, this is a replayed token.
                    let revoked = sqlx::query(
                        "UPDATE sessions SET revoked_at = $3, updated_at = $3 \
                         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND refresh_jti <> $4",
                    )
                    .bind(session_id)
                    .bind(user_id)
                    .bind(at)
                    .bind(presented_jti)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    Ok(if revoked == 1 { Rotation::ReuseDetected } else { Rotation::Revoked })
                }).await
            }

            async fn logout(
                &self,
                session_id: Uuid,
                user_id: Uuid,
                access_jti: Uuid,
                access_exp: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.guard.run("logout", async {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(
                        "INSERT INTO revoked_tokens (jti, user_id, expires_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (jti) DO NOTHING",
                    )
                    .bind(access_jti)
                    .bind(user_id)
                    .bind(access_exp)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $3, updated_at = $3 \
                         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(session_id)
                    .bind(user_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await
                }).await
            }

            async fn list_sessions(
                &self,
                user_id: Uuid,
                at: DateTime<Utc>,
                skip: i64,
                limit: i64,
            ) -> StoreResult<(Vec<SessionRecord>, i64)> {
                let items = format!(
                    "SELECT s.id, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.ip \
                     {LIVE_SESSIONS} ORDER BY s.last_used_at DESC, s.id DESC LIMIT $3 OFFSET $4"
                );
                let total = format!("SELECT COUNT(*) {LIVE_SESSIONS}");
                self.guard.run("list_sessions", async {
                    let rows = sqlx::query_as(&items)
                        .bind(user_id)
                        .bind(at)
                        .bind(limit)
                        .bind(skip)
                        .fetch_all(&self.pool)
                        .await?;
                    let total = sqlx::query_scalar(&total)
                        .bind(user_id)
                        .bind(at)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok((rows, total))
                }).await
            }

            async fn end_session(&self, user_id: Uuid, session_id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
                // Only a live session ends: an ended or expired one is not found.
                let q = sqlx::query(
                    "UPDATE sessions SET revoked_at = $3, updated_at = $3 \
                     WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL AND expires_at > $3 \
                       AND credentials_version = (SELECT credentials_version FROM users WHERE id = $1)",
                )
                .bind(user_id)
                .bind(session_id)
                .bind(at);
                self.guard
                    .run("end_session", async {
                        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
                    })
                    .await
            }

            async fn end_sessions(&self, user_id: Uuid, except: Uuid, at: DateTime<Utc>) -> StoreResult<u64> {
                let q = sqlx::query(
                    "UPDATE sessions SET revoked_at = $3, updated_at = $3 \
                     WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
                )
                .bind(user_id)
                .bind(except)
                .bind(at);
                self.guard
                    .run("end_sessions", async {
                        Ok(q.execute(&self.pool).await?.rows_affected())
                    })
                    .await
            }

            async fn token_status(
                &self,
                user_id: Uuid,
                session_id: Uuid,
                jti: Uuid,
            ) -> StoreResult<Option<TokenStatus>> {
                let q = sqlx::query_as(
                    "SELECT u.is_active, \
                       (SELECT COUNT(*) FROM sessions s WHERE s.id = $2 AND s.user_id = u.id AND s.revoked_at IS NULL \
                         AND s.credentials_version = u.credentials_version) AS active_sessions, \
                       (SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = $3) AS revoked \
                     FROM users u WHERE u.id = $1 AND u.external_issuer IS NULL",
                )
                .bind(user_id)
                .bind(session_id)
                .bind(jti);
                self.guard
                    .run("token_status", async { q.fetch_optional(&self.pool).await })
                    .await
            }

            async fn purge_expired(&self, now: DateTime<Utc>, session_cutoff: DateTime<Utc>) -> StoreResult<u64> {
                self.guard.run("purge_expired", async {
                    let tokens = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                        .bind(session_cutoff)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    let one_time = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    Ok(tokens + sessions + one_time)
                }).await
            }
        }
    };
}

user_store!(sqlx::Postgres);
user_store!(sqlx::Sqlite);
session_store!(sqlx::Postgres);
session_store!(sqlx::Sqlite);
