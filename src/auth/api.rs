//! The auth operations (`/api/v1/auth`): thin adapters over [`AuthService`].

use poem::http::header::USER_AGENT;
use poem::Request;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, OpenApi};

use super::model::*;
use super::security::Auth;
use crate::error::{ApiError, ErrorCode};
use crate::http::body::JsonBody;
use crate::http::client_ip::ClientIp;
use crate::http::responses::*;
use crate::state::AppState;
use crate::wire::{ApiTags, MAX_SCOPE, MAX_TOKEN, MAX_USER_AGENT};

/// Register, log in, rotate and revoke tokens.
pub struct AuthApi {
    pub state: AppState,
}

#[derive(ApiResponse)]
pub enum Registered {
    /// The account was created.
    #[oai(status = 201)]
    Created(Json<User>, #[oai(header = "Location")] String),
}

/// Where a request comes from: its `User-Agent` (control characters dropped, cut to
/// [`MAX_USER_AGENT`] characters) and client address.
pub fn client_info(req: &Request) -> ClientInfo {
    let user_agent = req
        .headers()
        .get(USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT)
                .collect::<String>()
        })
        .filter(|ua| !ua.trim().is_empty());
    ClientInfo {
        user_agent,
        ip: req.extensions().get::<ClientIp>().map(|c| c.0.to_string()),
    }
}

/// Errors of the rate-limited credential operations (AUTHZ_003 with `LOCAL_AUTH=disabled`).
type CredentialErrors = Errors<{ BODY | UNAUTHORIZED | TOO_MANY_REQUESTS | NOT_AVAILABLE }>;
/// Errors of login and token: those, and an unverified address when verification is required.
type LoginErrors =
    Errors<{ BODY | UNAUTHORIZED | TOO_MANY_REQUESTS | NOT_VERIFIED | NOT_AVAILABLE }>;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Register a new account
    ///
    /// Emails are case-insensitive and stored lower-cased. Rate limited per client IP.
    /// With `LOCAL_AUTH=disabled` (the frontend's auth server owns sign-up): AUTHZ_003.
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        body: JsonBody<RegisterRequest>,
    ) -> Result<Registered, Errors<{ BODY | CONFLICT | TOO_MANY_REQUESTS | NOT_AVAILABLE }>> {
        let b = body.0;
        let user = self
            .state
            .auth
            .register(&b.email.0, b.password.0, b.name.map(|n| n.0))
            .await?;
        Ok(Registered::Created(
            Json(user),
            "/api/v1/auth/me".to_owned(),
        ))
    }

    /// Log in with email and password
    ///
    /// Unknown emails and wrong passwords get the same answer (AUTH_001). Rate limited per
    /// client IP. With `REQUIRE_VERIFIED_EMAIL=true`, an unverified address is AUTHZ_002;
    /// with `LOCAL_AUTH=disabled`, every login is AUTHZ_003.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        req: &Request,
        body: JsonBody<LoginRequest>,
    ) -> Result<Json<TokenPair>, LoginErrors> {
        let b = body.0;
        let client = client_info(req);
        let pair = self.state.auth.login(&b.email.0, b.password.0, client);
        Ok(Json(pair.await?))
    }

    /// OAuth2 password grant
    ///
    /// Form-encoded `grant_type=password&username=<email>&password=…` (Swagger UI's
    /// Authorize uses it). Extra fields such as `scope` or `client_id` are ignored.
    /// AUTHZ_003 with `LOCAL_AUTH=disabled`.
    #[oai(path = "/token", method = "post", operation_id = "issue_token")]
    async fn token(
        &self,
        req: &Request,
        body: Form<TokenRequest>,
    ) -> Result<Json<TokenPair>, LoginErrors> {
        let b = body.0;
        // `scope` is ignored, but its documented bound holds.
        if b.scope
            .as_deref()
            .is_some_and(|s| s.chars().count() > MAX_SCOPE)
        {
            let msg = format!("`scope` is longer than {MAX_SCOPE} characters");
            return Err(ApiError::invalid(ErrorCode::VALIDATION_005, "scope", msg).into());
        }
        let client = client_info(req);
        let auth = &self.state.auth;
        let pair = auth.password_grant(&b.grant_type, &b.username, b.password.0, client);
        Ok(Json(pair.await?))
    }

    /// Rotate a refresh token
    ///
    /// Returns a new pair; the presented refresh token stops working. Presenting an
    /// already rotated token revokes the whole session (AUTH_004). AUTHZ_003 with
    /// `LOCAL_AUTH=disabled`.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh_token")]
    async fn refresh(
        &self,
        body: JsonBody<RefreshRequest>,
    ) -> Result<Json<TokenPair>, CredentialErrors> {
        let b = body.0;
        Ok(Json(self.state.auth.refresh(&b.refresh_token).await?))
    }

    /// Log out
    ///
    /// `scope` `current` (the default) revokes the presented access token and its
    /// session's refresh token; other sessions stay valid, and an invalid
    /// `refresh_token` in the body is ignored. `others` ends every other session of the
    /// user, `all` every session, the caller's included.
    ///
    /// With a token of the external issuer: that token is refused here from now on
    /// (until its `exp`); the issuer's own session is the issuer's business (sign out
    /// there too). `others` and `all` are AUTHZ_003 for such a caller.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        auth: Auth,
        body: JsonBody<Option<LogoutRequest>>,
    ) -> Result<Json<Message>, Errors<{ AUTHED | BODY | NOT_AVAILABLE }>> {
        let b = body.0.unwrap_or_default();
        let scope = b.scope.unwrap_or_default();
        let refresh = b.refresh_token.as_deref();
        if refresh.is_some_and(|t| t.chars().count() > MAX_TOKEN) {
            let msg = format!("`refresh_token` is longer than {MAX_TOKEN} characters");
            return Err(ApiError::invalid(ErrorCode::VALIDATION_005, "refresh_token", msg).into());
        }
        self.state.auth.logout(auth.user(), refresh, scope).await?;
        Ok(Json(Message {
            message: "Logged out".into(),
        }))
    }

    /// Change the password
    ///
    /// Revokes every session of the user, including the current one: log in again.
    /// AUTHZ_003 for a caller of the external issuer (its password lives there) and
    /// with `LOCAL_AUTH=disabled`.
    #[oai(
        path = "/change-password",
        method = "post",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        auth: Auth,
        body: JsonBody<ChangePasswordRequest>,
    ) -> Result<Json<Message>, Errors<{ AUTHED | BODY | TOO_MANY_REQUESTS | NOT_AVAILABLE }>> {
        let b = body.0;
        self.state
            .auth
            .change_password(auth.user(), b.current_password.0, b.new_password.0)
            .await?;
        Ok(Json(Message {
            message: "Password changed; log in again".into(),
        }))
    }

    /// The current user
    ///
    /// The account of the presented access token.
    #[oai(path = "/me", method = "get", operation_id = "get_me")]
    async fn me(&self, auth: Auth) -> Result<Json<User>, Errors<AUTHED>> {
        Ok(Json(self.state.auth.me(auth.user()).await?))
    }

    /// Delete the account
    ///
    /// Needs the account's password (VALIDATION_007 when wrong; limited like
    /// change-password, then 429). Removes the user with its todos, tags, sessions and
    /// one-time tokens in one transaction; every token of the user is AUTH_007 from then
    /// on, on every instance. AUTHZ_003 for a caller of the external issuer (the
    /// account lives there).
    #[oai(path = "/me", method = "delete", operation_id = "delete_me")]
    async fn delete_me(
        &self,
        auth: Auth,
        body: JsonBody<DeleteAccountRequest>,
    ) -> Result<Deleted, Errors<{ AUTHED | BODY | TOO_MANY_REQUESTS | NOT_AVAILABLE }>> {
        let password = body.0.password.0;
        self.state
            .auth
            .delete_account(auth.user(), password)
            .await?;
        Ok(Deleted::NoContent)
    }
}
