//! The rules of todos: validation, ownership, completion, versions and If-Match.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::model::{IfMatch, Priority, SortBy, SortOrder, Todo, TodoInput, TodoPage, TodoPatch};
use super::store::{TodoQuery, TodoRecord, TodoStore, TodoWithTags, TodoWrite};
use crate::db::now;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::page;
use crate::tags::model::Tag;
use crate::tags::service::tag_name;
use crate::tags::store::{TagName, TagRecord};
use crate::text::{check_text, required_text};
use crate::wire::{
    DescriptionString, TagNames, Timestamp, MAX_DESCRIPTION, MAX_SEARCH, MAX_TAGS, MAX_TAG_NAME,
    MAX_TITLE,
};

/// Attempts of a write without If-Match that races other writers.
const WRITE_ATTEMPTS: usize = 5;

/// List parameters as received (validated here).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub skip: Option<i64>,
    pub limit: Option<i64>,
    pub is_completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub q: Option<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub sort_by: Option<SortBy>,
    pub sort_order: Option<SortOrder>,
}

fn title(raw: &str) -> ApiResult<String> {
    required_text("title", raw, MAX_TITLE)
}

fn description(raw: Option<DescriptionString>) -> ApiResult<Option<String>> {
    if let Some(d) = &raw {
        check_text("description", d, MAX_DESCRIPTION)?;
    }
    Ok(raw.map(|d| d.0))
}

/// Trims tag names and collapses duplicates (ignoring case), keeping the first spelling.
fn tag_names(TagNames(raw): TagNames) -> ApiResult<Vec<TagName>> {
    if raw.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_005,
            "tags",
            format!("`tags` has more than {MAX_TAGS} names"),
        ));
    }
    let mut names: Vec<TagName> = Vec::with_capacity(raw.len());
    for (i, n) in raw.iter().enumerate() {
        let name = tag_name(&format!("tags[{i}]"), &n.0)?;
        if !names.iter().any(|x| x.key == name.key) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Checks a create/replace body; `completed_at` is left for the caller to set.
fn validate(input: TodoInput) -> ApiResult<(TodoWrite, Vec<TagName>)> {
    let write = TodoWrite {
        title: title(&input.title)?,
        description: description(input.description)?,
        is_completed: input.is_completed.unwrap_or(false),
        priority: input.priority.unwrap_or_default().rank(),
        due_date: input.due_date.map(truncate_micros),
        completed_at: None,
    };
    Ok((write, tag_names(input.tags.unwrap_or_default())?))
}

fn not_null<T>(field: &str, v: MaybeUndefined<T>) -> ApiResult<Option<T>> {
    match v {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Value(v) => Ok(Some(v)),
        MaybeUndefined::Null => Err(ApiError::invalid(
            ErrorCode::VALIDATION_004,
            field,
            format!("`{field}` cannot be null"),
        )),
    }
}

/// When a todo in state `was` (completed at `since`) becomes `now_completed`.
fn completed_at(
    was: bool,
    since: Option<DateTime<Utc>>,
    now_completed: bool,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match (was, now_completed) {
        (_, false) => None,
        (true, true) => since.or(Some(at)),
        (false, true) => Some(at),
    }
}

fn to_todo(TodoWithTags { todo: r, tags }: TodoWithTags) -> Todo {
    let tags = tags.into_iter().map(Tag::from).collect();
    Todo {
        id: r.id,
        user_id: r.user_id,
        title: r.title,
        description: r.description,
        is_completed: r.is_completed,
        priority: Priority::from_rank(r.priority),
        due_date: r.due_date.map(Timestamp),
        tags,
        created_at: r.created_at.into(),
        updated_at: r.updated_at.into(),
        completed_at: r.completed_at.map(Timestamp),
        version: r.version,
    }
}

/// The row as a successful write of `w` at `at` leaves it (no re-read needed).
fn written(
    id: Uuid,
    user_id: Uuid,
    w: TodoWrite,
    version: i64,
    created_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> TodoRecord {
    TodoRecord {
        id,
        user_id,
        title: w.title,
        description: w.description,
        is_completed: w.is_completed,
        priority: w.priority,
        due_date: w.due_date,
        completed_at: w.completed_at,
        version,
        created_at,
        updated_at: at,
    }
}

fn current_write(r: &TodoRecord) -> TodoWrite {
    TodoWrite {
        title: r.title.clone(),
        description: r.description.clone(),
        is_completed: r.is_completed,
        priority: r.priority,
        due_date: r.due_date,
        completed_at: r.completed_at,
    }
}

/// A change to apply to the current state of a todo: the fields and, optionally, tags.
type Change = (TodoWrite, Option<Vec<TagName>>);

/// Todo rules over the store.
pub struct TodoService {
    store: Arc<dyn TodoStore>,
}

impl TodoService {
    pub fn new(store: Arc<dyn TodoStore>) -> Self {
        TodoService { store }
    }

    /// Creates a todo; unknown tag names are created for the user.
    pub async fn create(&self, user_id: Uuid, input: TodoInput) -> ApiResult<Todo> {
        let (mut write, tags) = validate(input)?;
        let at = now();
        write.completed_at = write.is_completed.then_some(at);
        let id = Uuid::now_v7();
        let tags = self
            .store
            .insert_todo(id, user_id, &write, &tags, at)
            .await?;
        let todo = written(id, user_id, write, 1, at, at);
        Ok(to_todo(TodoWithTags { todo, tags }))
    }

    /// The todo `id` with its tags, if the user owns it (404 RESOURCE_001 / 403 AUTHZ_001).
    async fn owned(&self, user_id: Uuid, id: Uuid) -> ApiResult<TodoWithTags> {
        match self.store.todo_by_id(id).await? {
            None => Err(ApiError::TodoNotFound),
            Some(t) if t.todo.user_id != user_id => Err(ApiError::Forbidden),
            Some(t) => Ok(t),
        }
    }

    pub async fn get(&self, user_id: Uuid, id: Uuid) -> ApiResult<Todo> {
        Ok(to_todo(self.owned(user_id, id).await?))
    }

    /// Applies `change` to the current state, honouring If-Match; without If-Match a
    /// write that loses a race is retried on the new state.
    async fn write(
        &self,
        user_id: Uuid,
        id: Uuid,
        if_match: Option<&IfMatch>,
        change: impl Fn(&TodoRecord, DateTime<Utc>) -> ApiResult<Change>,
    ) -> ApiResult<Todo> {
        for _ in 0..WRITE_ATTEMPTS {
            let TodoWithTags {
                todo: current,
                tags: current_tags,
            } = self.owned(user_id, id).await?;
            if if_match.is_some_and(|m| !m.matches(current.version)) {
                return Err(ApiError::PreconditionFailed);
            }
            let at = now();
            let (write, tags) = change(&current, at)?;
            let updated = self
                .store
                .update_todo(id, user_id, current.version, &write, tags.as_deref(), at)
                .await?;
            if let Some(linked) = updated {
                let tags: Vec<TagRecord> = if tags.is_some() { linked } else { current_tags };
                let todo = written(
                    id,
                    user_id,
                    write,
                    current.version + 1,
                    current.created_at,
                    at,
                );
                return Ok(to_todo(TodoWithTags { todo, tags }));
            }
            if if_match.is_some() {
                return Err(ApiError::PreconditionFailed);
            }
        }
        Err(ApiError::Unavailable {
            retry_after_secs: 1,
        })
    }

    /// Full replacement (PUT).
    pub async fn replace(
        &self,
        user_id: Uuid,
        id: Uuid,
        input: TodoInput,
        if_match: Option<&IfMatch>,
    ) -> ApiResult<Todo> {
        let (write, tags) = validate(input)?;
        self.write(user_id, id, if_match, |current, at| {
            let mut w = write.clone();
            w.completed_at = completed_at(
                current.is_completed,
                current.completed_at,
                w.is_completed,
                at,
            );
            Ok((w, Some(tags.clone())))
        })
        .await
    }

    /// Partial update (PATCH): absent fields stay, `null` clears nullable ones.
    pub async fn patch(
        &self,
        user_id: Uuid,
        id: Uuid,
        patch: TodoPatch,
        if_match: Option<&IfMatch>,
    ) -> ApiResult<Todo> {
        let title_v = not_null("title", patch.title)?
            .map(|t| title(&t))
            .transpose()?;
        let description_v = match patch.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => Some(description(Some(d))?),
        };
        let priority = not_null("priority", patch.priority)?;
        let due_date = match patch.due_date {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => Some(Some(truncate_micros(d))),
        };
        let done = not_null("is_completed", patch.is_completed)?;
        let tags = not_null("tags", patch.tags)?.map(tag_names).transpose()?;
        self.write(user_id, id, if_match, |current, at| {
            let mut w = current_write(current);
            if let Some(t) = &title_v {
                w.title = t.clone();
            }
            if let Some(d) = &description_v {
                w.description = d.clone();
            }
            if let Some(p) = priority {
                w.priority = p.rank();
            }
            if let Some(d) = due_date {
                w.due_date = d;
            }
            if let Some(done) = done {
                w.is_completed = done;
                w.completed_at = completed_at(current.is_completed, current.completed_at, done, at);
            }
            Ok((w, tags.clone()))
        })
        .await
    }

    /// Toggles completion.
    pub async fn toggle(
        &self,
        user_id: Uuid,
        id: Uuid,
        if_match: Option<&IfMatch>,
    ) -> ApiResult<Todo> {
        self.write(user_id, id, if_match, |current, at| {
            let mut w = current_write(current);
            w.is_completed = !current.is_completed;
            w.completed_at = completed_at(
                current.is_completed,
                current.completed_at,
                w.is_completed,
                at,
            );
            Ok((w, None))
        })
        .await
    }

    /// Deletes a todo, honouring If-Match.
    pub async fn delete(
        &self,
        user_id: Uuid,
        id: Uuid,
        if_match: Option<&IfMatch>,
    ) -> ApiResult<()> {
        let current = self.owned(user_id, id).await?.todo;
        if if_match.is_some_and(|m| !m.matches(current.version)) {
            return Err(ApiError::PreconditionFailed);
        }
        let expected = if_match.map(|_| current.version);
        if self.store.delete_todo(id, user_id, expected).await? {
            Ok(())
        } else if if_match.is_some() {
            Err(ApiError::PreconditionFailed)
        } else {
            Err(ApiError::TodoNotFound)
        }
    }

    /// One page of the user's todos with their tags (loaded in one statement).
    pub async fn list(&self, user_id: Uuid, p: ListParams) -> ApiResult<TodoPage> {
        let (skip, limit) = page(p.skip, p.limit)?;
        if let Some(t) = &p.tag {
            check_text("tag", t, MAX_TAG_NAME)?;
        }
        if let Some(q) = &p.q {
            check_text("q", q, MAX_SEARCH)?;
        }
        let query = TodoQuery {
            user_id,
            is_completed: p.is_completed,
            priority: p.priority.map(Priority::rank),
            tag_key: p.tag.map(|t| t.trim().to_lowercase()),
            search: p.q.filter(|q| !q.is_empty()).map(|q| q.to_lowercase()),
            due_before: p.due_before,
            due_after: p.due_after,
            order: p.sort_by.unwrap_or(SortBy::CreatedAt).into(),
            descending: p.sort_order.unwrap_or(SortOrder::Desc) == SortOrder::Desc,
            skip,
            limit,
        };
        let (rows, total) = self.store.list_todos(&query).await?;
        let has_more = skip + (rows.len() as i64) < total;
        let items = rows.into_iter().map(to_todo).collect();
        Ok(TodoPage {
            items,
            total,
            skip,
            limit,
            has_more,
        })
    }
}

/// Drops sub-microsecond precision, which PostgreSQL would drop anyway.
fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_timestamps() {
        let (t0, t1) = (Utc::now(), Utc::now() + chrono::Duration::seconds(5));
        assert_eq!(completed_at(false, None, true, t1), Some(t1));
        assert_eq!(completed_at(true, Some(t0), true, t1), Some(t0));
        assert_eq!(completed_at(true, Some(t0), false, t1), None);
    }
}
