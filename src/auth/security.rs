//! The bearer security schemes: who is calling, checked on every protected operation.

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OAuthScopes, SecurityScheme};

use super::service::CurrentUser;
use crate::error::ApiError;
use crate::http::middleware::CallerSlot;
use crate::state::AppState;

/// OAuth2 scopes (declared because OpenAPI 3.0 requires a scopes map; not enforced).
#[derive(OAuthScopes)]
pub enum TodoScopes {
    /// Read and write your todos and tags.
    #[oai(rename = "todos")]
    Todos,
}

/// OAuth2 password flow (Swagger UI's Authorize button) yielding a bearer JWT.
#[derive(SecurityScheme)]
#[oai(
    rename = "oauth2",
    ty = "oauth2",
    flows(password(token_url = "/api/v1/auth/token", scopes = "TodoScopes")),
    checker = "defer_to_bearer"
)]
pub struct OAuth2Auth(CurrentUser);

/// A token of the frontend's auth server (only when this service is configured with
/// `EXTERNAL_ISSUER`): paste it as is. Better Auth: the `token` of
/// `GET /api/auth/token` (JWT plugin); an OIDC provider (Auth0, Keycloak, …): its
/// access token for this API's audience. Its `iss` must be `EXTERNAL_ISSUER`; it is
/// verified with the issuer's JWKS (`EXTERNAL_JWKS_URL`) by `kid`. The first valid token
/// of a subject creates its user here.
#[derive(SecurityScheme)]
#[oai(
    rename = "externalBearer",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "defer_to_bearer"
)]
pub struct ExternalBearer(CurrentUser);

/// A bearer JWT access token from login, token or refresh (or, with `EXTERNAL_ISSUER`,
/// the external issuer's token: see `externalBearer`).
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_token"
)]
pub struct BearerAuth(CurrentUser);

/// Any scheme: the same `Authorization: Bearer` header, however the token was obtained.
#[derive(SecurityScheme)]
pub enum Auth {
    OAuth2(OAuth2Auth),
    External(ExternalBearer),
    Bearer(BearerAuth),
}

impl Auth {
    /// The authenticated caller.
    pub fn user(&self) -> &CurrentUser {
        match self {
            Auth::OAuth2(OAuth2Auth(u))
            | Auth::External(ExternalBearer(u))
            | Auth::Bearer(BearerAuth(u)) => u,
        }
    }
}

/// The schemes read the same `Authorization: Bearer` token and `Auth` tries them in
/// order, keeping the error of the last one: checking the token in each would verify
/// every refused token three times (three database round trips; three times the
/// connection timeout while the database is down). So the OAuth2 and external variants
/// only declare their schemes, and `BearerAuth` (last) makes the one real check, for
/// the service's own tokens and the external issuer's alike.
async fn defer_to_bearer(_req: &Request, _bearer: Bearer) -> poem::Result<CurrentUser> {
    Err(ApiError::InvalidToken.into())
}

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<CurrentUser> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
    if bearer.token.is_empty() {
        return Err(ApiError::InvalidToken.into());
    }
    let user = state.auth.authenticate(&bearer.token).await?;
    if let Some(slot) = req.extensions().get::<CallerSlot>() {
        let _ = slot.0.set(user.id);
    }
    Ok(user)
}
