//! Users' and sessions' storage: the traits the auth service uses, their rows, the SQL
//! for both backends (`sql.rs`) and the PostgreSQL listener that feeds the session
//! cache (`listen.rs`).

mod external;
mod listen;
mod sql;
mod tokens;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::email::Email;
use crate::db::StoreResult;

pub use external::{ExternalProfile, ExternalUserRow, ExternalUserStore, NO_PASSWORD};
pub use listen::listen;
pub use tokens::{OneTimeTokenStore, TokenWriter};

use crate::auth::onetime::NewOneTimeToken;
use crate::mail::NewMail;

/// A user as stored, including the password hash (never leaves the service layer).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    /// Whether a verification link of the address was followed (or a reset mail reached it).
    pub email_verified: bool,
    /// Bumped by every change of the credentials; sessions carry the version they verified.
    pub credentials_version: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an access-token check needs to know, read in one round trip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenStatus {
    pub is_active: bool,
    /// 1 when the token's session exists and is not revoked.
    pub active_sessions: i64,
    /// 1 when the token's jti is on the revocation list.
    pub revoked: i64,
}

/// A new login session: the family of refresh tokens of one login.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The user's credentials version the login verified.
    pub credentials_version: i64,
    pub refresh_jti: Uuid,
    pub expires_at: DateTime<Utc>,
    /// The login's `User-Agent` (already cut to length) and client address.
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A live session as the session list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Outcome of presenting a refresh token for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; the session now expects the new jti.
    Rotated,
    /// The token had already been rotated: the whole session is now revoked.
    ReuseDetected,
    /// The session is unknown, expired or already revoked.
    Revoked,
}

/// Users and their credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts the user and, in the same transaction, its verification token and mail.
    async fn create_user(
        &self,
        user: &UserRecord,
        verification: Option<&(NewOneTimeToken, NewMail)>,
    ) -> StoreResult<()>;
    /// The local user whose stored email is `email` (compared as the unique index
    /// does); never a user of the external issuer.
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>>;
    async fn touch_last_login(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// Deletes the user, unless its credentials moved past `credentials_version`; the
    /// foreign keys take everything of the user with it in the same statement. `false`
    /// when nothing was deleted.
    async fn delete_user(&self, id: Uuid, credentials_version: i64) -> StoreResult<bool>;
    /// Sets a new hash, moves the credentials version on and revokes every session of
    /// the user, atomically.
    async fn change_password(&self, id: Uuid, hash: &str, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Login sessions, refresh-token rotation and access-token revocation.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session, unless the user's credentials version is no longer the one
    /// the login verified (or the user is gone or inactive): `false` then.
    async fn create_session(&self, s: &NewSession, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn rotate_refresh(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        presented_jti: Uuid,
        next_jti: Uuid,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Rotation>;
    /// Revokes the session and puts the access token's jti on the list until `access_exp`.
    async fn logout(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        access_jti: Uuid,
        access_exp: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// One page of the user's live sessions (not revoked, refresh not expired, of the
    /// current credentials), most recently used first, and how many there are.
    async fn list_sessions(
        &self,
        user_id: Uuid,
        at: DateTime<Utc>,
        skip: i64,
        limit: i64,
    ) -> StoreResult<(Vec<SessionRecord>, i64)>;
    /// Ends one live session of the user; `false` when there is none with that id.
    async fn end_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends every session of the user but `except` (`Uuid::nil()`: all); how many ended.
    async fn end_sessions(
        &self,
        user_id: Uuid,
        except: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// `None` when the user no longer exists.
    async fn token_status(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        jti: Uuid,
    ) -> StoreResult<Option<TokenStatus>>;
    /// Deletes revocations, sessions and one-time tokens that can no longer matter;
    /// returns rows removed.
    async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        session_cutoff: DateTime<Utc>,
    ) -> StoreResult<u64>;
}
