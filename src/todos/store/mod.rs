//! Todos' storage: the trait the todo service uses, its rows and query types; the SQL
//! for both backends is in `sql.rs`.

mod sql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::StoreResult;
use crate::tags::store::{TagName, TagRecord};

/// A todo row (tags are loaded separately, for a whole page at once).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TodoRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub is_completed: bool,
    pub priority: i32,
    pub due_date: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A todo with its tags, sorted by name (one round trip: the tags are joined in).
#[derive(Debug, Clone)]
pub struct TodoWithTags {
    pub todo: TodoRecord,
    pub tags: Vec<TagRecord>,
}

/// Column a todo list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TodoOrder {
    CreatedAt,
    UpdatedAt,
    CompletedAt,
    Title,
    DueDate,
    Priority,
}

/// Filters, order and page of a todo list query (already validated).
#[derive(Debug, Clone)]
pub struct TodoQuery {
    pub user_id: Uuid,
    pub is_completed: Option<bool>,
    pub priority: Option<i32>,
    /// Lower-cased tag name.
    pub tag_key: Option<String>,
    /// Lower-cased search text.
    pub search: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub order: TodoOrder,
    pub descending: bool,
    pub skip: i64,
    pub limit: i64,
}

/// Fields written on todo insert/update; the derived search columns are computed here.
#[derive(Debug, Clone)]
pub struct TodoWrite {
    pub title: String,
    pub description: Option<String>,
    pub is_completed: bool,
    pub priority: i32,
    pub due_date: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl TodoWrite {
    /// The lower-cased title the `title` sort uses.
    pub(super) fn title_key(&self) -> String {
        self.title.to_lowercase()
    }
    /// The lower-cased title and description `q` searches.
    pub(super) fn search_text(&self) -> String {
        let mut s = self.title.to_lowercase();
        if let Some(d) = &self.description {
            s.push('\n');
            s.push_str(&d.to_lowercase());
        }
        s
    }
}

/// Todos of all users (the service scopes every call to one).
#[async_trait]
pub trait TodoStore: Send + Sync {
    /// Inserts a todo and links `tags` (created for the user when new); returns the
    /// linked tags, sorted by name.
    async fn insert_todo(
        &self,
        id: Uuid,
        user_id: Uuid,
        todo: &TodoWrite,
        tags: &[TagName],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<TagRecord>>;
    async fn todo_by_id(&self, id: Uuid) -> StoreResult<Option<TodoWithTags>>;
    /// Writes `todo` if the stored version is still `expected_version`; replaces the
    /// tags when given. `None` (and nothing changed) on a version mismatch; otherwise
    /// the newly linked tags, sorted by name (empty when `tags` was not given).
    async fn update_todo(
        &self,
        id: Uuid,
        user_id: Uuid,
        expected_version: i64,
        todo: &TodoWrite,
        tags: Option<&[TagName]>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Vec<TagRecord>>>;
    /// Deletes the todo, if `expected_version` (when given) still matches.
    async fn delete_todo(
        &self,
        id: Uuid,
        user_id: Uuid,
        expected_version: Option<i64>,
    ) -> StoreResult<bool>;
    /// One page of todos with their tags and the total number matching the filters,
    /// in one round trip.
    async fn list_todos(&self, q: &TodoQuery) -> StoreResult<(Vec<TodoWithTags>, i64)>;
}
