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

/// A bearer JWT access token from login, token or refresh.
#[derive(SecurityScheme)]
#[oai(
    rename = "bearerAuth",
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_token"
)]
pub struct BearerAuth(CurrentUser);

/// Either scheme: the same access token, however it was obtained.
#[derive(SecurityScheme)]
pub enum Auth {
    OAuth2(OAuth2Auth),
    Bearer(BearerAuth),
}

impl Auth {
    /// The authenticated caller.
    pub fn user(&self) -> &CurrentUser {
        match self {
            Auth::OAuth2(OAuth2Auth(u)) | Auth::Bearer(BearerAuth(u)) => u,
        }
    }
}

/// Both schemes read the same `Authorization: Bearer` token and `Auth` tries the OAuth2
/// variant first, keeping the error of the last one: checking the token here as well
/// would verify every refused token twice (two database round trips; twice the
/// connection timeout while the database is down). So the OAuth2 variant only declares
/// the scheme, and `BearerAuth` makes the one real check.
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
