//! The account operations (`/api/v1/auth`): the caller's sessions. Thin adapters over
//! [`crate::auth::service::AuthService`].

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use uuid::Uuid;

use super::model::*;
use super::security::Auth;
use crate::http::responses::*;
use crate::state::AppState;
use crate::wire::{ApiTags, Limit, Skip};

/// Sessions of the authenticated user.
pub struct AccountApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AccountApi {
    /// List the caller's sessions
    ///
    /// Live sessions (not ended, refresh token not expired), one per login, most
    /// recently used first; `current` marks the one of the presented token.
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
}
