//! Request and response bodies of the auth operations.

use poem_openapi::Object;
use serde::Deserialize;
use uuid::Uuid;

use crate::wire::Timestamp;

use super::store::{SessionRecord, UserRecord};
use crate::wire::{
    EmailString, GrantTypeString, LogoutTokenString, NameString, NewPasswordString,
    OneTimeTokenString, PasswordString, ScopeString, TokenString, UserAgent, UserEmail, UserName,
    UsernameString,
};

/// A registered user (never includes the password hash).
#[derive(Debug, Clone, Object)]
pub struct User {
    pub id: Uuid,
    pub email: UserEmail,
    #[oai(nullable)]
    pub name: Option<UserName>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[oai(nullable)]
    pub last_login_at: Option<Timestamp>,
    /// Whether the address was verified (a verification link followed, or a password
    /// reset through it); false for new accounts.
    pub email_verified: bool,
}

impl From<UserRecord> for User {
    fn from(u: UserRecord) -> Self {
        User {
            id: u.id,
            email: UserEmail::new(u.email),
            name: u.name.map(UserName::new),
            created_at: u.created_at.into(),
            updated_at: u.updated_at.into(),
            last_login_at: u.last_login_at.map(Timestamp),
            email_verified: u.email_verified,
        }
    }
}

/// Always `bearer`.
#[derive(Debug, Clone, Copy, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum TokenType {
    Bearer,
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone, Object)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: TokenType,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// A confirmation message.
#[derive(Debug, Clone, Object)]
pub struct Message {
    pub message: String,
}

/// Sign-up data.
#[derive(Debug, Deserialize, Object)]
#[oai(example)]
pub struct RegisterRequest {
    pub email: EmailString,
    /// 8 to 128 characters with an upper-case and a lower-case letter, a digit and a special character.
    pub password: NewPasswordString,
    #[serde(default, deserialize_with = "crate::http::body::present")]
    pub name: Option<NameString>,
}

impl poem_openapi::types::Example for RegisterRequest {
    fn example() -> Self {
        RegisterRequest {
            email: EmailString::new("ada@example.com"),
            password: NewPasswordString::new("Correct#Horse9"),
            name: Some(NameString::new("Ada")),
        }
    }
}

/// Credentials for a JSON login.
#[derive(Debug, Deserialize, Object)]
pub struct LoginRequest {
    pub email: EmailString,
    pub password: PasswordString,
}

/// OAuth2 password grant (form-encoded), as sent by Swagger UI's Authorize.
#[derive(Debug, Deserialize, Object)]
pub struct TokenRequest {
    pub grant_type: GrantTypeString,
    /// The email address.
    pub username: UsernameString,
    pub password: PasswordString,
    /// Ignored; scopes are not used to restrict tokens.
    #[serde(default)]
    pub scope: Option<ScopeString>,
}

/// A refresh token to rotate.
#[derive(Debug, Deserialize, Object)]
pub struct RefreshRequest {
    pub refresh_token: TokenString,
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum LogoutScope {
    /// The caller's session (and the one of `refresh_token`, when given).
    #[default]
    Current,
    /// Every session of the user but the caller's.
    Others,
    /// Every session of the user, the caller's included.
    All,
}

/// What to log out: the current session by default.
#[derive(Debug, Default, Deserialize, Object)]
pub struct LogoutRequest {
    /// When given and valid for the same user, its session is revoked too.
    #[serde(default, deserialize_with = "crate::http::body::present")]
    pub refresh_token: Option<LogoutTokenString>,
    /// `current` (default), `others` or `all`.
    #[serde(default, deserialize_with = "crate::http::body::present")]
    pub scope: Option<LogoutScope>,
}

/// Where a login came from, recorded on its session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The `User-Agent` header, cut to [`crate::wire::MAX_USER_AGENT`] characters.
    pub user_agent: Option<String>,
    /// The client address (behind trusted proxies: the forwarded one).
    pub ip: Option<String>,
}

/// A live login session of the caller: one login and all its refresh rotations.
#[derive(Debug, Clone, Object)]
pub struct Session {
    /// The session id (the `sid` claim of its tokens).
    pub id: Uuid,
    pub created_at: Timestamp,
    /// The login or the latest refresh.
    pub last_used_at: Timestamp,
    /// When its refresh token expires.
    pub expires_at: Timestamp,
    /// The `User-Agent` of the login (at most 255 characters).
    #[oai(nullable)]
    pub user_agent: Option<UserAgent>,
    /// The client address of the login.
    #[oai(nullable)]
    pub ip: Option<String>,
    /// Whether the presented access token belongs to this session.
    pub current: bool,
}

impl Session {
    /// The stored session as the caller of session `current` sees it.
    pub fn from_record(s: SessionRecord, current: Uuid) -> Self {
        Session {
            current: s.id == current,
            id: s.id,
            created_at: s.created_at.into(),
            last_used_at: s.last_used_at.into(),
            expires_at: s.expires_at.into(),
            user_agent: s.user_agent.map(UserAgent::new),
            ip: s.ip,
        }
    }
}

/// One page of the caller's live sessions, most recently used first.
#[derive(Debug, Clone, Object)]
pub struct SessionPage {
    /// At most `limit` (so at most 100) items.
    #[oai(validator(max_items = 100))]
    pub items: Vec<Session>,
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
    pub has_more: bool,
}

/// The account's password, confirming its deletion.
#[derive(Debug, Deserialize, Object)]
pub struct DeleteAccountRequest {
    pub password: PasswordString,
}

/// An address to send a password-reset link to.
#[derive(Debug, Deserialize, Object)]
pub struct PasswordResetRequest {
    pub email: EmailString,
}

/// A new password, with the token of a reset link.
#[derive(Debug, Deserialize, Object)]
pub struct PasswordResetConfirm {
    /// The `token` of the link (`{APP_URL}/reset-password?token=…`).
    pub token: OneTimeTokenString,
    /// Same policy as registration.
    pub new_password: NewPasswordString,
}

/// The token of a verification link (`{APP_URL}/verify-email?token=…`).
#[derive(Debug, Deserialize, Object)]
pub struct VerifyEmailRequest {
    pub token: OneTimeTokenString,
}

/// A password change.
#[derive(Debug, Deserialize, Object)]
pub struct ChangePasswordRequest {
    pub current_password: PasswordString,
    /// Same policy as registration; must differ from the current password.
    pub new_password: NewPasswordString,
}
