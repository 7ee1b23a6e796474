//! Password reset and email verification: one-time tokens sent by mail.
//!
//! A reset request answers the same whatever the address: the lookup and the issuing
//! run after the answer (a background task), so neither the body nor the time taken
//! tells whether an account exists. Each address gets at most 3 reset mails an hour.

use std::sync::Arc;
use tracing::Instrument;

use tokio::sync::Notify;
use uuid::Uuid;

use super::attempts::FailureLimit;
use super::email::Email;
use super::model::User;
use super::onetime::{self, NewOneTimeToken, RESET, VERIFY};
use super::password::check_strength;
use super::service::{AuthService, CurrentUser, Origin};
use super::session_cache::Invalidation;
use super::store::{OneTimeTokenStore, UserStore};
use crate::db::now;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::mail::{compose, MailSettings, NewMail};
use crate::metrics::Metrics;
use crate::wire::MAX_ONE_TIME_TOKEN;

/// What the mail flows need: their settings, the token store, and the local delivery
/// worker's wake-up (other instances' workers poll).
#[derive(Clone)]
pub struct MailFlows {
    pub settings: MailSettings,
    pub tokens: Arc<dyn OneTimeTokenStore>,
    pub wake: Arc<Notify>,
    /// Mail sent on request, per address (resets) and per account (resends): 3 an hour.
    pub mail_requests: Arc<FailureLimit>,
}

/// A token's text as the service checks it before looking it up.
fn check_token(token: &str) -> ApiResult<()> {
    if token.is_empty() {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_004,
            "token",
            "`token` must not be empty",
        ));
    }
    crate::text::check_text("token", token, MAX_ONE_TIME_TOKEN)
}

impl MailFlows {
    /// A verification token for a new or unverified account, with its mail.
    pub fn verification(&self, user_id: Uuid, email: &str) -> Option<(NewOneTimeToken, NewMail)> {
        if !self.settings.enabled {
            return None;
        }
        let (token, stored) = onetime::issue(user_id, VERIFY, now(), self.settings.verify_ttl);
        let mail = compose::verify_email(&self.settings, user_id, email, &token);
        Some((stored, mail))
    }

    /// Looks `email` up and, for an active account, issues a reset token and queues its
    /// mail. Runs after the request was answered.
    async fn issue_reset(&self, users: &dyn UserStore, metrics: &Metrics, email: &Email) {
        let outcome = match users.user_by_email(email).await {
            Ok(Some(user)) if user.is_active => {
                let at = now();
                let (token, stored) = onetime::issue(user.id, RESET, at, self.settings.reset_ttl);
                let mail = compose::password_reset(&self.settings, user.id, &user.email, &token);
                match self.tokens.issue_token(&stored, &mail).await {
                    Ok(()) => {
                        self.wake.notify_one();
                        "queued"
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "password reset: could not queue the mail");
                        "error"
                    }
                }
            }
            Ok(_) => "no_account",
            Err(e) => {
                tracing::warn!(error = %e, "password reset: account lookup failed");
                "error"
            }
        };
        metrics.auth_event("password_reset_request", outcome);
        tracing::info!(event = "password_reset_request", outcome, "auth event");
    }
}

impl AuthService {
    /// Asks for a reset mail. Always `Ok` for a well-formed address: unknown addresses
    /// and addresses over their hourly allowance get no mail, and cannot be told apart.
    pub async fn request_password_reset(&self, email: &str) -> ApiResult<()> {
        self.local_only()?;
        let email = Email::parse(email)?;
        if !self.mail.settings.enabled {
            tracing::warn!("password reset requested, but MAIL_ENABLED=false: nothing is sent");
            return Ok(());
        }
        if self.mail.mail_requests.take(email.as_str()).await.is_err() {
            self.record("password_reset_request", "limited", None);
            return Ok(());
        }
        let (mail, users, metrics) = (self.mail.clone(), self.users.clone(), self.metrics.clone());
        // A child of the request's span: its lines keep the request's ids.
        let span = tracing::info_span!("password_reset_lookup");
        tokio::spawn(
            async move { mail.issue_reset(users.as_ref(), &metrics, &email).await }
                .instrument(span),
        );
        Ok(())
    }

    /// Sets a new password with a reset token (AUTH_008 when it is not usable; the
    /// strength rules first): every session of the user ends, the token is consumed.
    pub async fn confirm_password_reset(&self, token: &str, new_password: String) -> ApiResult<()> {
        self.local_only()?;
        check_token(token)?;
        check_strength("new_password", &new_password)?;
        let hash = onetime::hash(token);
        // Checked before hashing: a bad token costs no Argon2 hash.
        if !self.mail.tokens.token_usable(&hash, RESET, now()).await? {
            return Err(ApiError::OneTimeTokenInvalid);
        }
        let password_hash = self.hasher.hash(new_password).await?;
        let user = self
            .mail
            .tokens
            .reset_password(&hash, &password_hash, now())
            .await?
            .ok_or(ApiError::OneTimeTokenInvalid)?;
        self.cache.invalidate(Invalidation::User(user));
        self.record("password_reset", "success", Some(user));
        Ok(())
    }

    /// Marks the address of the token's account verified (AUTH_008 when the token is
    /// not usable); the account as it is now.
    pub async fn verify_email(&self, token: &str) -> ApiResult<User> {
        check_token(token)?;
        let hash = onetime::hash(token);
        let user = self
            .mail
            .tokens
            .verify_email(&hash, now())
            .await?
            .ok_or(ApiError::OneTimeTokenInvalid)?;
        let record = self.users.user_by_id(user).await?;
        self.record("email_verify", "success", Some(user));
        Ok(record.ok_or(ApiError::OneTimeTokenInvalid)?.into())
    }

    /// Sends the caller a new verification mail, unless the address is verified
    /// already (RATE_LIMIT_001 beyond 3 an hour).
    /// The external issuer verifies its own users' addresses: nothing is sent to them.
    pub async fn resend_verification(&self, user: &CurrentUser) -> ApiResult<()> {
        if user.origin == Origin::External {
            return Ok(());
        }
        let record = self
            .users
            .user_by_id(user.id)
            .await?
            .ok_or(ApiError::UserGone)?;
        if record.email_verified {
            return Ok(());
        }
        let Some((token, mail)) = self.mail.verification(record.id, &record.email) else {
            return Ok(());
        };
        let key = format!("verify:{}", record.id);
        self.mail.mail_requests.take(&key).await?;
        self.mail.tokens.issue_token(&token, &mail).await?;
        self.mail.wake.notify_one();
        self.record("verification_resend", "queued", Some(user.id));
        Ok(())
    }
}
