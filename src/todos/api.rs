//! The todo operations (`/api/v1/todos`): thin adapters over [`TodoService`].

use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::IfMatch;
use super::model::*;
use super::service::ListParams;
use crate::auth::security::Auth;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::body::JsonBody;
use crate::http::responses::*;
use crate::state::AppState;
use crate::wire::{ApiTags, IfMatchString, Limit, Search, Skip, TagFilter};

/// CRUD, completion and listing of the caller's todos.
pub struct TodoApi {
    pub state: AppState,
}

/// A todo with its ETag.
#[derive(ApiResponse)]
pub enum TodoResponse {
    /// The todo.
    #[oai(status = 200)]
    Ok(Json<Todo>, #[oai(header = "ETag")] String),
}

/// A todo with its ETag, or nothing when the client's copy is current.
#[derive(ApiResponse)]
pub enum TodoFetched {
    /// The todo.
    #[oai(status = 200)]
    Ok(Json<Todo>, #[oai(header = "ETag")] String),
    /// `If-None-Match` names the current ETag: the client's copy is current (no body).
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

/// A created todo.
#[derive(ApiResponse)]
pub enum TodoCreated {
    /// Created; `Location` points at it.
    #[oai(status = 201)]
    Created(
        Json<Todo>,
        #[oai(header = "Location")] String,
        #[oai(header = "ETag")] String,
    ),
}

fn etag(todo: &Todo) -> String {
    format!("\"{}\"", todo.version)
}

/// The parsed `If-Match` (or `If-None-Match`) header, when sent; 422 VALIDATION_009
/// naming the header when it is not of the documented form.
fn precondition(header: &Header<Option<IfMatchString>>, name: &str) -> ApiResult<Option<IfMatch>> {
    let Some(value) = header.0.as_deref() else {
        return Ok(None);
    };
    match IfMatch::parse(value) {
        Some(tags) => Ok(Some(tags)),
        None => Err(ApiError::invalid(
            ErrorCode::VALIDATION_009,
            name,
            format!("`{name}` must be `*` or a list of entity tags such as `\"3\"`"),
        )),
    }
}

fn found(todo: Todo) -> TodoResponse {
    let tag = etag(&todo);
    TodoResponse::Ok(Json(todo), tag)
}

type ItemErrors = Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }>;
type WriteErrors = Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | PRECONDITION_FAILED | BODY }>;

#[OpenApi(prefix_path = "/api/v1/todos", tag = "ApiTags::Todos")]
impl TodoApi {
    /// List todos
    ///
    /// Filters combine with AND. `q` matches title or description, ignoring case;
    /// `due_after`/`due_before` are exclusive and never match todos without a due date.
    /// Nulls sort last in both directions; ties break by id.
    #[oai(path = "/", method = "get", operation_id = "list_todos")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: Auth,
        /// Items to skip.
        skip: Query<Option<Skip>>,
        /// Page size (1..=100, default 20).
        limit: Query<Option<Limit>>,
        is_completed: Query<Option<bool>>,
        priority: Query<Option<Priority>>,
        /// A tag name (case-insensitive).
        tag: Query<Option<TagFilter>>,
        /// Case-insensitive substring of title or description.
        q: Query<Option<Search>>,
        due_before: Query<Option<DateTime<Utc>>>,
        due_after: Query<Option<DateTime<Utc>>>,
        /// Default `created_at`.
        sort_by: Query<Option<SortBy>>,
        /// Default `desc`.
        sort_order: Query<Option<SortOrder>>,
    ) -> Result<Json<TodoPage>, Errors<{ AUTHED | UNPROCESSABLE }>> {
        let params = ListParams {
            skip: skip.0.map(|s| s.0),
            limit: limit.0.map(|l| l.0),
            is_completed: is_completed.0,
            priority: priority.0,
            tag: tag.0.map(|t| t.0),
            q: q.0.map(|q| q.0),
            due_before: due_before.0,
            due_after: due_after.0,
            sort_by: sort_by.0,
            sort_order: sort_order.0,
        };
        Ok(Json(self.state.todos.list(auth.user().id, params).await?))
    }

    /// Create a todo
    ///
    /// Unknown tag names are created for the caller. The answer carries the todo's
    /// `Location` and its `ETag` (`"1"`).
    #[oai(path = "/", method = "post", operation_id = "create_todo")]
    async fn create(
        &self,
        auth: Auth,
        body: JsonBody<TodoInput>,
    ) -> Result<TodoCreated, Errors<{ AUTHED | BODY }>> {
        let todo = self.state.todos.create(auth.user().id, body.0).await?;
        let location = format!("/api/v1/todos/{}", todo.id);
        let tag = etag(&todo);
        Ok(TodoCreated::Created(Json(todo), location, tag))
    }

    /// Get a todo
    ///
    /// With `If-None-Match` naming the current ETag (weak comparison, or `*`), 304 with
    /// the ETag and no body.
    #[oai(path = "/:id", method = "get", operation_id = "get_todo")]
    async fn get(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        /// ETags of the client's copy: 304 when one is current.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<IfMatchString>>,
    ) -> Result<TodoFetched, ItemErrors> {
        let cached = precondition(&if_none_match, "If-None-Match")?;
        let todo = self.state.todos.get(auth.user().id, id.0).await?;
        let tag = etag(&todo);
        if cached.is_some_and(|c| c.matches_weakly(todo.version)) {
            return Ok(TodoFetched::NotModified(tag));
        }
        Ok(TodoFetched::Ok(Json(todo), tag))
    }

    /// Replace a todo
    ///
    /// Absent fields take their defaults (tags become empty). Honours `If-Match`.
    #[oai(path = "/:id", method = "put", operation_id = "replace_todo")]
    async fn replace(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        /// Only write if the todo's ETag is one of these (412 otherwise).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatchString>>,
        body: JsonBody<TodoInput>,
    ) -> Result<TodoResponse, WriteErrors> {
        let m = precondition(&if_match, "If-Match")?;
        Ok(found(
            self.state
                .todos
                .replace(auth.user().id, id.0, body.0, m.as_ref())
                .await?,
        ))
    }

    /// Update a todo
    ///
    /// Absent fields stay; `null` clears `description` and `due_date`. Honours `If-Match`.
    #[oai(path = "/:id", method = "patch", operation_id = "update_todo")]
    async fn update(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        /// Only write if the todo's ETag is one of these (412 otherwise).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatchString>>,
        body: JsonBody<TodoPatch>,
    ) -> Result<TodoResponse, WriteErrors> {
        let m = precondition(&if_match, "If-Match")?;
        Ok(found(
            self.state
                .todos
                .patch(auth.user().id, id.0, body.0, m.as_ref())
                .await?,
        ))
    }

    /// Delete a todo
    ///
    /// Removes the todo (its tags stay). Honours `If-Match`.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_todo")]
    async fn delete(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        /// Only delete if the todo's ETag is one of these (412 otherwise).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatchString>>,
    ) -> Result<
        Deleted,
        Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | PRECONDITION_FAILED | UNPROCESSABLE }>,
    > {
        let m = precondition(&if_match, "If-Match")?;
        self.state
            .todos
            .delete(auth.user().id, id.0, m.as_ref())
            .await?;
        Ok(Deleted::NoContent)
    }

    /// Toggle completion
    ///
    /// Completes an open todo or reopens a completed one. Honours `If-Match`.
    #[oai(path = "/:id/complete", method = "patch", operation_id = "toggle_todo")]
    async fn toggle(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        /// Only write if the todo's ETag is one of these (412 otherwise).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatchString>>,
    ) -> Result<
        TodoResponse,
        Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | PRECONDITION_FAILED | UNPROCESSABLE }>,
    > {
        let m = precondition(&if_match, "If-Match")?;
        Ok(found(
            self.state
                .todos
                .toggle(auth.user().id, id.0, m.as_ref())
                .await?,
        ))
    }
}
