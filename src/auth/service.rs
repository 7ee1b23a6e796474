//! The rules of authentication: registration, logins, token rotation and revocation.

use std::sync::Arc;

use uuid::Uuid;

use super::attempts::{self, Attempt, FailureLimit};
use super::email::Email;
use super::federated::Identity;
use super::model::{ClientInfo, LogoutScope, TokenPair, TokenType, User};
use super::password::{check_strength, PasswordHasher};
use super::recovery::MailFlows;
use super::session_cache::{Invalidation, SessionCache};
use super::store::{NewSession, Rotation, SessionStore, UserRecord, UserStore};
use super::tokens::{Claims, TokenKeys, TokenKind};
use crate::db::{now, StoreError};
use crate::error::{ApiError, ApiResult, ErrorCode, Unavailability};
use crate::http::rate_limit::RateLimitStore;
use crate::metrics::Metrics;
use crate::text::check_text;
use crate::wire::MAX_NAME;

/// Who signed the caller's token in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This service (login, token, refresh).
    Local,
    /// The configured external issuer.
    External,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: Uuid,
    pub origin: Origin,
    /// The token's claims (for an external token: as [`super::federated`] maps them).
    pub claims: Claims,
}

/// Authentication rules over the user and session stores, the hasher and the signing keys.
pub struct AuthService {
    pub(super) users: Arc<dyn UserStore>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) hasher: PasswordHasher,
    pub(super) keys: TokenKeys,
    pub(super) metrics: Arc<Metrics>,
    pub(super) cache: Arc<SessionCache>,
    pub(super) limits: CheckLimits,
    pub(super) mail: MailFlows,
    pub(super) identity: Identity,
}

/// The stores the auth rules work on.
pub struct AuthStores {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
}

/// The per-account limits on failed credential checks.
pub struct CheckLimits {
    /// Failed logins per email (off when `LOGIN_FAILURES_PER_ACCOUNT=0`).
    pub logins: FailureLimit,
    /// Failed current-password checks per user.
    pub current_password: FailureLimit,
}

impl CheckLimits {
    /// The contract's limits, counted in `store`; `login_failures` per account (0: off).
    pub fn new(store: Arc<dyn RateLimitStore>, login_failures: u32) -> Self {
        CheckLimits {
            logins: FailureLimit::new(store.clone(), "login", attempts::login(login_failures)),
            current_password: FailureLimit::new(store, "pw", attempts::CURRENT_PASSWORD),
        }
    }
}

impl AuthService {
    /// The caller's stored record and one attempt from its current-password limit: what
    /// every operation that checks a current password starts with.
    pub(super) async fn current_password_check(
        &self,
        user: &CurrentUser,
    ) -> ApiResult<(UserRecord, Attempt<'_>)> {
        let record = self
            .users
            .user_by_id(user.id)
            .await?
            .ok_or(ApiError::UserGone)?;
        let attempt = self
            .limits
            .current_password
            .take(&user.id.to_string())
            .await?;
        Ok((record, attempt))
    }

    pub fn new(
        stores: AuthStores,
        hasher: PasswordHasher,
        keys: TokenKeys,
        metrics: Arc<Metrics>,
        cache: Arc<SessionCache>,
        limits: CheckLimits,
        mail: MailFlows,
    ) -> Self {
        AuthService {
            users: stores.users,
            sessions: stores.sessions,
            hasher,
            keys,
            metrics,
            cache,
            limits,
            mail,
            identity: Identity::default(),
        }
    }

    /// The same rules with `identity` deciding who may sign in.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = identity;
        self
    }

    /// Logs an auth event (never with credentials) and counts it.
    pub(super) fn record(&self, event: &'static str, outcome: &'static str, user_id: Option<Uuid>) {
        self.metrics.auth_event(event, outcome);
        match user_id {
            Some(id) => tracing::info!(event, outcome, user_id = %id, "auth event"),
            None => tracing::info!(event, outcome, "auth event"),
        }
    }

    /// Creates an account (VALIDATION_001/002/003/005) and queues its verification mail.
    pub async fn register(
        &self,
        email: &str,
        password: String,
        name: Option<String>,
    ) -> ApiResult<User> {
        self.local_only()?;
        let email = Email::parse(email)?;
        check_strength("password", &password)?;
        if let Some(n) = &name {
            check_text("name", n, MAX_NAME)?;
        }
        let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        let hash = self.hasher.hash(password).await?;
        let at = now();
        let user = UserRecord {
            id: Uuid::now_v7(),
            email: email.into_string(),
            name,
            password_hash: hash,
            is_active: true,
            email_verified: false,
            credentials_version: 1,
            last_login_at: None,
            created_at: at,
            updated_at: at,
        };
        let verification = self.mail.verification(user.id, &user.email);
        match self.users.create_user(&user, verification.as_ref()).await {
            Ok(()) => {
                self.mail.wake.notify_one();
                Ok(user.into())
            }
            Err(StoreError::UniqueViolation) => Err(ApiError::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks credentials and opens a new session (AUTH_001 on any mismatch).
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: ClientInfo,
    ) -> ApiResult<TokenPair> {
        self.local_only()?;
        let email = Email::parse(email)?;
        self.login_canonical(&email, password, client).await
    }

    /// The OAuth2 password grant: like login, but a malformed username is just bad credentials.
    pub async fn password_grant(
        &self,
        grant_type: &str,
        username: &str,
        password: String,
        client: ClientInfo,
    ) -> ApiResult<TokenPair> {
        self.local_only()?;
        if grant_type != "password" {
            return Err(ApiError::invalid(
                ErrorCode::VALIDATION_006,
                "grant_type",
                "grant_type must be `password`",
            ));
        }
        match Email::parse(username) {
            Ok(email) => self.login_canonical(&email, password, client).await,
            Err(_) => {
                self.hasher.verify_dummy(password).await?;
                Err(ApiError::InvalidCredentials)
            }
        }
    }

    async fn login_canonical(
        &self,
        email: &Email,
        password: String,
        client: ClientInfo,
    ) -> ApiResult<TokenPair> {
        let attempt = self.limits.logins.take(email.as_str()).await?;
        let Some(user) = self.users.user_by_email(email).await? else {
            self.hasher.verify_dummy(password).await?;
            self.record("login", "failure", None);
            return Err(ApiError::InvalidCredentials);
        };
        if !self
            .hasher
            .verify(password, user.password_hash.clone())
            .await?
            || !user.is_active
        {
            self.record("login", "failure", Some(user.id));
            return Err(ApiError::InvalidCredentials);
        }
        attempt.succeeded().await;
        if self.mail.settings.require_verified_email && !user.email_verified {
            self.record("login", "unverified", Some(user.id));
            return Err(ApiError::EmailNotVerified);
        }
        let pair = self.open_session(&user, client).await?;
        self.users.touch_last_login(user.id, now()).await?;
        self.record("login", "success", Some(user.id));
        Ok(pair)
    }

    async fn open_session(&self, user: &UserRecord, client: ClientInfo) -> ApiResult<TokenPair> {
        let sid = Uuid::now_v7();
        let (access, refresh) = self.issue_pair(user.id, &user.email, sid)?;
        let session = NewSession {
            id: sid,
            user_id: user.id,
            credentials_version: user.credentials_version,
            refresh_jti: refresh.claims.jti,
            expires_at: refresh.claims.expires_at(),
            user_agent: client.user_agent,
            ip: client.ip,
        };
        if !self.sessions.create_session(&session, now()).await? {
            // The credentials changed while this login verified the old ones.
            return Err(ApiError::InvalidCredentials);
        }
        Ok(self.pair(access.token, refresh.token))
    }

    fn issue_pair(
        &self,
        user_id: Uuid,
        email: &str,
        sid: Uuid,
    ) -> ApiResult<(super::tokens::Issued, super::tokens::Issued)> {
        Ok((
            self.keys.issue(TokenKind::Access, user_id, email, sid)?,
            self.keys.issue(TokenKind::Refresh, user_id, email, sid)?,
        ))
    }

    fn pair(&self, access_token: String, refresh_token: String) -> TokenPair {
        TokenPair {
            access_token,
            refresh_token,
            token_type: TokenType::Bearer,
            expires_in: self.keys.access_ttl.num_seconds(),
        }
    }

    /// Rotates a refresh token; a replayed one revokes its whole session (AUTH_004).
    pub async fn refresh(&self, refresh_token: &str) -> ApiResult<TokenPair> {
        self.local_only()?;
        let claims = self.keys.decode(refresh_token, TokenKind::Refresh)?;
        let Some(user) = self.users.user_by_id(claims.sub).await? else {
            return Err(ApiError::UserGone);
        };
        if !user.is_active {
            return Err(ApiError::UserGone);
        }
        let (access, refresh) = self.issue_pair(user.id, &user.email, claims.sid)?;
        let outcome = self
            .sessions
            .rotate_refresh(
                claims.sid,
                user.id,
                claims.jti,
                refresh.claims.jti,
                refresh.claims.expires_at(),
                now(),
            )
            .await?;
        match outcome {
            Rotation::Rotated => {
                self.record("refresh", "success", Some(user.id));
                Ok(self.pair(access.token, refresh.token))
            }
            Rotation::ReuseDetected => {
                self.cache.invalidate(Invalidation::Session(claims.sid));
                self.record("refresh_reuse", "revoked", Some(user.id));
                Err(ApiError::TokenRevoked)
            }
            Rotation::Revoked => Err(ApiError::TokenRevoked),
        }
    }

    /// Verifies an access token for a request: signature, type, expiry, revocation, user.
    /// A session the database found live is remembered until something revokes it.
    /// A token whose `iss` is the external issuer's is verified by it alone.
    pub async fn authenticate(&self, token: &str) -> ApiResult<CurrentUser> {
        if let Some(external) = self.external_for(token) {
            return self.authenticate_external(external, token).await;
        }
        let claims = self.keys.decode(token, TokenKind::Access)?;
        if self.cache.contains(claims.sid, claims.sub) {
            return Ok(CurrentUser {
                id: claims.sub,
                origin: Origin::Local,
                claims,
            });
        }
        let epoch = self.cache.epoch();
        match self
            .sessions
            .token_status(claims.sub, claims.sid, claims.jti)
            .await?
        {
            None => Err(ApiError::UserGone),
            Some(s) if !s.is_active => Err(ApiError::UserGone),
            Some(s) if s.revoked > 0 || s.active_sessions == 0 => Err(ApiError::TokenRevoked),
            Some(_) => {
                if let Some(epoch) = epoch {
                    self.cache.insert(epoch, claims.sid, claims.sub);
                }
                Ok(CurrentUser {
                    id: claims.sub,
                    origin: Origin::Local,
                    claims,
                })
            }
        }
    }

    /// Logs out: `current` revokes the caller's access token and session, and the
    /// session of `refresh_token` when it is a valid refresh token of the same user;
    /// `others` ends every other session of the user; `all` does both. An external
    /// caller has no session here: `current` revokes its token, the rest is AUTHZ_003.
    pub async fn logout(
        &self,
        user: &CurrentUser,
        refresh_token: Option<&str>,
        scope: LogoutScope,
    ) -> ApiResult<()> {
        let at = now();
        let c = &user.claims;
        if user.origin == Origin::External && scope != LogoutScope::Current {
            return Err(ApiError::NotAvailable(Unavailability::ExternalAccount));
        }
        if scope != LogoutScope::Others {
            self.sessions
                .logout(c.sid, user.id, c.jti, c.expires_at(), at)
                .await?;
            self.cache.invalidate(Invalidation::Session(c.sid));
        }
        if scope != LogoutScope::Current {
            let except = if scope == LogoutScope::Others {
                c.sid
            } else {
                Uuid::nil()
            };
            self.sessions.end_sessions(user.id, except, at).await?;
            self.cache.invalidate(Invalidation::User(user.id));
        } else if let Some(other) = refresh_token
            .and_then(|t| self.keys.decode(t, TokenKind::Refresh).ok())
            .filter(|r| r.sub == user.id && r.sid != c.sid)
        {
            self.sessions
                .logout(other.sid, user.id, c.jti, c.expires_at(), at)
                .await?;
            self.cache.invalidate(Invalidation::Session(other.sid));
        }
        self.record("logout", "success", Some(user.id));
        Ok(())
    }

    /// Changes the password and revokes every session of the user.
    pub async fn change_password(
        &self,
        user: &CurrentUser,
        current: String,
        new: String,
    ) -> ApiResult<()> {
        self.password_account(user)?;
        let (record, attempt) = self.current_password_check(user).await?;
        if !self
            .hasher
            .verify(current.clone(), record.password_hash)
            .await?
        {
            return Err(ApiError::invalid(
                ErrorCode::VALIDATION_007,
                "current_password",
                "Current password is incorrect",
            ));
        }
        attempt.succeeded().await;
        if new == current {
            return Err(ApiError::invalid(
                ErrorCode::VALIDATION_008,
                "new_password",
                "New password must differ from the current one",
            ));
        }
        check_strength("new_password", &new)?;
        let hash = self.hasher.hash(new).await?;
        self.users.change_password(user.id, &hash, now()).await?;
        self.cache.invalidate(Invalidation::User(user.id));
        self.record("password_change", "success", Some(user.id));
        Ok(())
    }

    /// The caller's profile.
    pub async fn me(&self, user: &CurrentUser) -> ApiResult<User> {
        let record = self
            .users
            .user_by_id(user.id)
            .await?
            .ok_or(ApiError::UserGone)?;
        Ok(record.into())
    }
}
