//! The account operations (`/api/v1/auth`): the caller's sessions, password reset and
//! email verification. Thin adapters over [`crate::auth::service::AuthService`].

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use super::security::Auth;
use crate::http::body::JsonBody;
use crate::http::responses::*;
use crate::state::AppState;
use crate::wire::{ApiTags, Limit, Skip};

/// Sessions of the authenticated user, password reset and email verification.
pub struct AccountApi {
    pub state: AppState,
}

/// A request taken; what follows happens by mail.
#[derive(ApiResponse)]
pub enum Accepted {
    /// Accepted: a message goes out if there is anything to send.
    #[oai(status = 202)]
    Accepted(Json<Message>),
}

fn accepted(message: &str) -> Accepted {
    Accepted::Accepted(Json(Message {
        message: message.to_owned(),
    }))
}

/// The one answer to every well-formed reset request.
const RESET_ACCEPTED: &str =
    "If an account exists for this address, a password-reset link is on its way";

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AccountApi {
    /// List the caller's sessions
    ///
    /// Live sessions (not ended, refresh token not expired), one per login, most
    /// recently used first; `current` marks the one of the presented token. A caller
    /// of the external issuer has none here (its sessions live at the issuer).
    #[oai(path = "/sessions", method = "get", operation_id = "list_sessions")]
    async fn list_sessions(
        &self,
        auth: Auth,
        /// Items to skip.
        skip: Query<Option<Skip>>,
        /// Page size (1..=100, default 20).
        limit: Query<Option<Limit>>,
    ) -> Result<Json<SessionPage>, Errors<{ AUTHED | UNPROCESSABLE }>> {
        let (skip, limit) = (skip.0.map(|s| s.0), limit.0.map(|l| l.0));
        let page = self.state.auth.list_sessions(auth.user(), skip, limit);
        Ok(Json(page.await?))
    }

    /// End a session
    ///
    /// Its refresh token and every access token of it are refused from now on
    /// (AUTH_004), on every instance. The caller's own session may be ended too.
    /// Unknown, ended and other users' sessions are RESOURCE_004.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "delete_session"
    )]
    async fn delete_session(
        &self,
        auth: Auth,
        id: Path<Uuid>,
    ) -> Result<Deleted, Errors<{ AUTHED | NOT_FOUND | UNPROCESSABLE }>> {
        self.state.auth.end_session(auth.user(), id.0).await?;
        Ok(Deleted::NoContent)
    }

    /// Ask for a password-reset link
    ///
    /// Always the same 202 for a well-formed address, whether or not an account exists:
    /// the link goes out by mail (`{APP_URL}/reset-password?token=…`, valid 30 minutes
    /// by default, once). Rate limited per client IP (the auth bucket) and per address
    /// (3 mails an hour; beyond that still 202, and nothing is sent). Accounts of the
    /// external issuer never get one; with `LOCAL_AUTH=disabled` this is AUTHZ_003.
    #[oai(
        path = "/password-reset",
        method = "post",
        operation_id = "request_password_reset"
    )]
    async fn request_password_reset(
        &self,
        body: JsonBody<PasswordResetRequest>,
    ) -> Result<Accepted, Errors<{ BODY | TOO_MANY_REQUESTS | NOT_AVAILABLE }>> {
        let email = body.0.email.0;
        self.state.auth.request_password_reset(&email).await?;
        Ok(accepted(RESET_ACCEPTED))
    }

    /// Set a new password with a reset link's token
    ///
    /// The password follows the registration rules (VALIDATION_002). Every session of
    /// the account ends (log in again) and the token is used up; an unknown, expired or
    /// used token is AUTH_008. AUTHZ_003 with `LOCAL_AUTH=disabled`.
    #[oai(
        path = "/password-reset/confirm",
        method = "post",
        operation_id = "confirm_password_reset"
    )]
    async fn confirm_password_reset(
        &self,
        body: JsonBody<PasswordResetConfirm>,
    ) -> Result<Json<Message>, Errors<{ BODY | UNAUTHORIZED | NOT_AVAILABLE }>> {
        let b = body.0;
        let auth = &self.state.auth;
        auth.confirm_password_reset(&b.token.0, b.new_password.0)
            .await?;
        Ok(Json(Message {
            message: "Password changed; log in again".into(),
        }))
    }

    /// Verify the email address with a verification link's token
    ///
    /// The token comes from the mail sent at registration (or by
    /// `resend_verification`): `{APP_URL}/verify-email?token=…`, valid 24 hours by
    /// default, once. An unknown, expired or used token is AUTH_008.
    #[oai(path = "/verify-email", method = "post", operation_id = "verify_email")]
    async fn verify_email(
        &self,
        body: JsonBody<VerifyEmailRequest>,
    ) -> Result<Json<User>, Errors<{ BODY | UNAUTHORIZED }>> {
        let token = body.0.token.0;
        Ok(Json(self.state.auth.verify_email(&token).await?))
    }

    /// Send the verification link again
    ///
    /// Nothing is sent when the address is verified already, nor to a caller of the
    /// external issuer (it verifies its own addresses). At most 3 mails an hour
    /// (then 429).
    #[oai(
        path = "/verify-email/resend",
        method = "post",
        operation_id = "resend_verification"
    )]
    async fn resend_verification(
        &self,
        auth: Auth,
    ) -> Result<Accepted, Errors<{ AUTHED | TOO_MANY_REQUESTS }>> {
        self.state.auth.resend_verification(auth.user()).await?;
        Ok(accepted(
            "If the address is not verified yet, a verification link is on its way",
        ))
    }
}
