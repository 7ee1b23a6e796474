//! Users of the external issuer, keyed by (issuer, subject): found with their
//! revocation status in one round trip, created on their first valid token, their
//! profile kept current from the claims.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{Sql, StoreResult};

/// The password hash of an external user: not a PHC string, so no password verifies.
pub const NO_PASSWORD: &str = "!external-issuer";

/// The profile an external token carries (already cut to the service's limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProfile {
    /// `""` when the token carries no usable address.
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
}

/// An external user as an access check needs it, with the presented token's status.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExternalUserRow {
    pub id: Uuid,
    pub is_active: bool,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    /// 1 when the token's revocation id is on the revocation list.
    pub revoked: i64,
}

impl ExternalUserRow {
    /// The stored profile.
    pub fn profile(&self) -> ExternalProfile {
        ExternalProfile {
            email: self.email.clone(),
            name: self.name.clone(),
            email_verified: self.email_verified,
        }
    }
}

/// External users' storage.
#[async_trait]
pub trait ExternalUserStore: Send + Sync {
    /// The user of (`issuer`, `subject`), and whether `revocation_id` is revoked.
    async fn external_user(
        &self,
        issuer: &str,
        subject: &str,
        revocation_id: Uuid,
    ) -> StoreResult<Option<ExternalUserRow>>;
    /// Creates the user of (`issuer`, `subject`) as `id`, unless another request just
    /// did (then nothing happens: read it again).
    async fn create_external_user(
        &self,
        id: Uuid,
        issuer: &str,
        subject: &str,
        profile: &ExternalProfile,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores the claims' current profile of user `id`.
    async fn update_external_profile(
        &self,
        id: Uuid,
        profile: &ExternalProfile,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Implements [`ExternalUserStore`] on one backend's [`Sql`].
macro_rules! external_user_store {
    ($db:ty) => {
        #[async_trait]
        impl ExternalUserStore for Sql<$db> {
            async fn external_user(
                &self,
                issuer: &str,
                subject: &str,
                revocation_id: Uuid,
            ) -> StoreResult<Option<ExternalUserRow>> {
                let q = sqlx::query_as(
                    "SELECT u.id, u.is_active, u.email, u.name, u.email_verified, \
                       (SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = $3) AS revoked \
                     FROM users u WHERE u.external_issuer = $1 AND u.external_subject = $2",
                )
                .bind(issuer)
                .bind(subject)
                .bind(revocation_id);
                self.guard
                    .run("external_user", async { q.fetch_optional(&self.pool).await })
                    .await
            }

            async fn create_external_user(
                &self,
                id: Uuid,
                issuer: &str,
                subject: &str,
                p: &ExternalProfile,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let q = sqlx::query(
                    "INSERT INTO users (id, email, name, password_hash, is_active, credentials_version, \
                       last_login_at, created_at, updated_at, email_verified, external_issuer, external_subject) \
                     VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(&p.email)
                .bind(&p.name)
                .bind(NO_PASSWORD)
                .bind(true)
                .bind(at)
                .bind(p.email_verified)
                .bind(issuer)
                .bind(subject);
                self.guard
                    .run("create_external_user", async { q.execute(&self.pool).await.map(drop) })
                    .await
            }

            async fn update_external_profile(
                &self,
                id: Uuid,
                p: &ExternalProfile,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let q = sqlx::query(
                    "UPDATE users SET email = $2, name = $3, email_verified = $4, updated_at = $5 \
                     WHERE id = $1 AND external_issuer IS NOT NULL",
                )
                .bind(id)
                .bind(&p.email)
                .bind(&p.name)
                .bind(p.email_verified)
                .bind(at);
                self.guard
                    .run("update_external_profile", async {
                        q.execute(&self.pool).await.map(drop)
                    })
                    .await
            }
        }
    };
}

external_user_store!(sqlx::Postgres);
external_user_store!(sqlx::Sqlite);
