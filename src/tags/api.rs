//! The tag operations (`/api/v1/tags`): thin adapters over [`TagService`].

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use crate::auth::security::Auth;
use crate::http::body::JsonBody;
use crate::http::responses::*;
use crate::paging::page;
use crate::state::AppState;
use crate::wire::{ApiTags, Limit, Skip};

/// CRUD of the caller's tags.
pub struct TagApi {
    pub state: AppState,
}

/// A created tag.
#[derive(ApiResponse)]
pub enum TagCreated {
    /// Created; `Location` points at it.
    #[oai(status = 201)]
    Created(Json<Tag>, #[oai(header = "Location")] String),
}

type ItemErrors = Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }>;

#[OpenApi(prefix_path = "/api/v1/tags", tag = "ApiTags::Tags")]
impl TagApi {
    /// List tags
    ///
    /// Sorted by name (ignoring case).
    #[oai(path = "/", method = "get", operation_id = "list_tags")]
    async fn list(
        &self,
        auth: Auth,
        /// Items to skip.
        skip: Query<Option<Skip>>,
        /// Page size (1..=100, default 20).
        limit: Query<Option<Limit>>,
    ) -> Result<Json<TagPage>, Errors<{ AUTHED | UNPROCESSABLE }>> {
        let (skip, limit) = page(skip.0.map(|s| s.0), limit.0.map(|l| l.0))?;
        Ok(Json(
            self.state.tags.list(auth.user().id, skip, limit).await?,
        ))
    }

    /// Create a tag
    ///
    /// Names are trimmed and unique per user, ignoring case (CONFLICT_001); the answer
    /// carries the tag's `Location`.
    #[oai(path = "/", method = "post", operation_id = "create_tag")]
    async fn create(
        &self,
        auth: Auth,
        body: JsonBody<NewTag>,
    ) -> Result<TagCreated, Errors<{ AUTHED | BODY | CONFLICT }>> {
        let tag = self.state.tags.create(auth.user().id, body.0).await?;
        let location = format!("/api/v1/tags/{}", tag.id);
        Ok(TagCreated::Created(Json(tag), location))
    }

    /// Get a tag
    ///
    /// Another user's tag is AUTHZ_001, an unknown one RESOURCE_002.
    #[oai(path = "/:id", method = "get", operation_id = "get_tag")]
    async fn get(&self, auth: Auth, id: Path<Uuid>) -> Result<Json<Tag>, ItemErrors> {
        Ok(Json(self.state.tags.get(auth.user().id, id.0).await?))
    }

    /// Update a tag
    ///
    /// Absent fields stay; `color: null` clears the color.
    #[oai(path = "/:id", method = "patch", operation_id = "update_tag")]
    async fn update(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        body: JsonBody<TagPatch>,
    ) -> Result<Json<Tag>, Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | CONFLICT | BODY }>> {
        Ok(Json(
            self.state.tags.update(auth.user().id, id.0, body.0).await?,
        ))
    }

    /// Delete a tag
    ///
    /// Removes it from the user's todos (their versions do not change).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_tag")]
    async fn delete(&self, auth: Auth, id: Path<Uuid>) -> Result<Deleted, ItemErrors> {
        self.state.tags.delete(auth.user().id, id.0).await?;
        Ok(Deleted::NoContent)
    }
}
