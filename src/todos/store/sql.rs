//! The SQL of [`TodoStore`], written once in the dialect PostgreSQL and SQLite share
//! and compiled for each backend with its native column types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{TodoOrder, TodoQuery, TodoRecord, TodoStore, TodoWithTags, TodoWrite};
use crate::db::{Sql, StoreResult};
use crate::tags::store::{TagName, TagRecord};

const TODO_COLUMNS: &str = "id, user_id, title, description, is_completed, priority, due_date, \
     completed_at, version, created_at, updated_at";

/// The `ORDER BY` of a list: the chosen column, nulls last either way, id as tie-break.
fn order_clause(q: &TodoQuery) -> String {
    let column = match q.order {
        TodoOrder::CreatedAt => "created_at",
        TodoOrder::UpdatedAt => "updated_at",
        TodoOrder::CompletedAt => "completed_at",
        TodoOrder::Title => "title_key",
        TodoOrder::DueDate => "due_date",
        TodoOrder::Priority => "priority",
    };
    let dir = if q.descending { "DESC" } else { "ASC" };
    format!(" ORDER BY {column} {dir} NULLS LAST, id {dir}")
}

/// Escapes `%`, `_` and `\` so the search text matches literally in `LIKE … ESCAPE '\'`.
fn like_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The tag columns of a todo-tags left join, renamed apart from the todo's own.
const JOINED_TAG_COLUMNS: &str = "g.id AS tag_id, g.user_id AS tag_user_id, g.name AS tag_name, \
     g.color AS tag_color, g.created_at AS tag_created_at, g.updated_at AS tag_updated_at";

/// The tag half of a todo-tags left join row: all `None` for a todo without tags.
#[derive(sqlx::FromRow)]
struct JoinedTag {
    tag_id: Option<Uuid>,
    tag_user_id: Option<Uuid>,
    tag_name: Option<String>,
    tag_color: Option<String>,
    tag_created_at: Option<DateTime<Utc>>,
    tag_updated_at: Option<DateTime<Utc>>,
}

impl JoinedTag {
    fn into_tag(self) -> Option<TagRecord> {
        Some(TagRecord {
            id: self.tag_id?,
            user_id: self.tag_user_id?,
            name: self.tag_name?,
            color: self.tag_color,
            created_at: self.tag_created_at?,
            updated_at: self.tag_updated_at?,
        })
    }
}

/// Folds left-join rows, ordered by todo and then by tag, into todos with their tags.
fn fold_joined<R: sqlx::Row>(rows: &[R]) -> Result<Vec<TodoWithTags>, sqlx::Error>
where
    TodoRecord: for<'r> sqlx::FromRow<'r, R>,
    JoinedTag: for<'r> sqlx::FromRow<'r, R>,
{
    let mut out: Vec<TodoWithTags> = Vec::new();
    for row in rows {
        let todo = <TodoRecord as sqlx::FromRow<R>>::from_row(row)?;
        let tag = <JoinedTag as sqlx::FromRow<R>>::from_row(row)?.into_tag();
        match out.last_mut() {
            Some(last) if last.todo.id == todo.id => last.tags.extend(tag),
            _ => out.push(TodoWithTags {
                todo,
                tags: tag.into_iter().collect(),
            }),
        }
    }
    Ok(out)
}

/// Tags linked in a write, in the order reads list them (by key, then id; the keys
/// compare the way the databases' `C`/binary collations do), without duplicates.
fn sorted_tags(mut linked: Vec<(String, TagRecord)>) -> Vec<TagRecord> {
    linked.sort_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
    linked.dedup_by_key(|(_, t)| t.id);
    linked.into_iter().map(|(_, t)| t).collect()
}

/// Binds the columns of a [`TodoWrite`], in the order both todo writes list them.
macro_rules! bind_write {
    ($query:expr, $t:expr) => {
        $query
            .bind(&$t.title)
            .bind($t.title_key())
            .bind(&$t.description)
            .bind($t.search_text())
            .bind($t.is_completed)
            .bind($t.priority)
            .bind($t.due_date)
            .bind($t.completed_at)
    };
}

/// Links `tags` (created for the user when new) to the todo `id` inside transaction `tx`;
/// evaluates to the linked tags, sorted.
macro_rules! link_tags {
    ($tx:ident, $id:expr, $user_id:expr, $tags:expr, $at:expr) => {{
        let mut linked = Vec::with_capacity($tags.len());
        for tag in $tags {
            // The columns of `TAG_COLUMNS`, spelled out to keep the statement static.
            let record: TagRecord = sqlx::query_as(
                "INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $5) \
                 ON CONFLICT (user_id, name_key) DO UPDATE SET name_key = excluded.name_key \
                 RETURNING id, user_id, name, color, created_at, updated_at",
            )
            .bind(Uuid::now_v7())
            .bind($user_id)
            .bind(&tag.name)
            .bind(&tag.key)
            .bind($at)
            .fetch_one(&mut *$tx)
            .await?;
            sqlx::query(
                "INSERT INTO todo_tags (todo_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind($id)
            .bind(record.id)
            .execute(&mut *$tx)
            .await?;
            linked.push((tag.key.clone(), record));
        }
        sorted_tags(linked)
    }};
}

/// Appends the list filters of `q` to the query builder `b` (after `WHERE user_id = ?`).
macro_rules! push_filters {
    ($b:ident, $q:expr) => {
        if let Some(done) = $q.is_completed {
            $b.push(" AND is_completed = ").push_bind(done);
        }
        if let Some(p) = $q.priority {
            $b.push(" AND priority = ").push_bind(p);
        }
        if let Some(tag) = &$q.tag_key {
            $b.push(
                " AND EXISTS (SELECT 1 FROM todo_tags tt JOIN tags g ON g.id = tt.tag_id \
                 WHERE tt.todo_id = todos.id AND g.name_key = ",
            )
            .push_bind(tag.clone())
            .push(")");
        }
        if let Some(s) = &$q.search {
            $b.push(" AND search_text LIKE ")
                .push_bind(like_pattern(s))
                .push(" ESCAPE '\\'");
        }
        if let Some(before) = $q.due_before {
            $b.push(" AND due_date < ").push_bind(before);
        }
        if let Some(after) = $q.due_after {
            $b.push(" AND due_date > ").push_bind(after);
        }
    };
}

/// Implements [`TodoStore`] on one backend's [`Sql`]; `$db` is the `sqlx::Database`.
macro_rules! todo_store {
    ($db:ty) => {
        #[async_trait]
        impl TodoStore for Sql<$db> {
            async fn insert_todo(
                &self,
                id: Uuid,
                user_id: Uuid,
                t: &TodoWrite,
                tags: &[TagName],
                at: DateTime<Utc>,
            ) -> StoreResult<Vec<TagRecord>> {
                let insert = sqlx::query(
                    "INSERT INTO todos (id, user_id, title, title_key, description, search_text, is_completed, \
                       priority, due_date, completed_at, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)",
                )
                .bind(id)
                .bind(user_id);
                let insert = bind_write!(insert, t).bind(at);
                self.guard.run("insert_todo", async {
                    if tags.is_empty() {
                        // A single statement needs no transaction (and its round trips).
                        insert.execute(&self.pool).await?;
                        return Ok(vec![]);
                    }
                    let mut tx = self.pool.begin().await?;
                    insert.execute(&mut *tx).await?;
                    let linked = link_tags!(tx, id, user_id, tags, at);
                    tx.commit().await?;
                    Ok(linked)
                }).await
            }

            async fn todo_by_id(&self, id: Uuid) -> StoreResult<Option<TodoWithTags>> {
                let sql = format!(
                    "SELECT t.*, {JOINED_TAG_COLUMNS} FROM (SELECT {TODO_COLUMNS} FROM todos WHERE id = $1) t \
                     LEFT JOIN todo_tags tt ON tt.todo_id = t.id LEFT JOIN tags g ON g.id = tt.tag_id \
                     ORDER BY g.name_key, g.id"
                );
                self.guard.run("todo_by_id", async {
                    let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
                    Ok(fold_joined(&rows)?.pop())
                }).await
            }

            async fn update_todo(
                &self,
                id: Uuid,
                user_id: Uuid,
                expected_version: i64,
                t: &TodoWrite,
                tags: Option<&[TagName]>,
                at: DateTime<Utc>,
            ) -> StoreResult<Option<Vec<TagRecord>>> {
                // The version check and the write are one statement, so concurrent
                // writers cannot both succeed; it also takes the write lock first.
                let update = sqlx::query(
                    "UPDATE todos SET title = $4, title_key = $5, description = $6, search_text = $7, \
                       is_completed = $8, priority = $9, due_date = $10, completed_at = $11, \
                       version = version + 1, updated_at = $12 \
                     WHERE id = $1 AND user_id = $2 AND version = $3",
                )
                .bind(id)
                .bind(user_id)
                .bind(expected_version);
                let update = bind_write!(update, t).bind(at);
                self.guard.run("update_todo", async {
                    let Some(tags) = tags else {
                        // Tags unchanged: a single statement needs no transaction.
                        let updated = update.execute(&self.pool).await?.rows_affected() == 1;
                        return Ok(updated.then(Vec::new));
                    };
                    let mut tx = self.pool.begin().await?;
                    if update.execute(&mut *tx).await?.rows_affected() != 1 {
                        return Ok(None);
                    }
                    sqlx::query("DELETE FROM todo_tags WHERE todo_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    let linked = link_tags!(tx, id, user_id, tags, at);
                    tx.commit().await?;
                    Ok(Some(linked))
                }).await
            }

            async fn delete_todo(
                &self,
                id: Uuid,
                user_id: Uuid,
                expected_version: Option<i64>,
            ) -> StoreResult<bool> {
                let delete = sqlx::query(
                    "DELETE FROM todos WHERE id = $1 AND user_id = $2 AND ($3 IS NULL OR version = $3)",
                )
                .bind(id)
                .bind(user_id)
                .bind(expected_version);
                self.guard.run("delete_todo", async {
                    Ok(delete.execute(&self.pool).await?.rows_affected() == 1)
                }).await
            }

            async fn list_todos(&self, q: &TodoQuery) -> StoreResult<(Vec<TodoWithTags>, i64)> {
                // The page (with the filtered total and each row's position) and its
                // tags in one statement.
                let order = order_clause(q);
                let mut b = sqlx::QueryBuilder::<$db>::new(format!(
                    "WITH page AS (SELECT {TODO_COLUMNS}, COUNT(*) OVER () AS total_count, \
                       ROW_NUMBER() OVER ({order}) AS pos FROM todos WHERE user_id = "
                ));
                b.push_bind(q.user_id);
                push_filters!(b, q);
                b.push(&order);
                b.push(" LIMIT ").push_bind(q.limit).push(" OFFSET ").push_bind(q.skip);
                b.push(format!(
                    ") SELECT page.*, {JOINED_TAG_COLUMNS} FROM page \
                     LEFT JOIN todo_tags tt ON tt.todo_id = page.id LEFT JOIN tags g ON g.id = tt.tag_id \
                     ORDER BY page.pos, g.name_key, g.id"
                ));
                self.guard.run("list_todos", async {
                    let rows = b.build().fetch_all(&self.pool).await?;
                    let total = match rows.first() {
                        Some(row) => {
                            use sqlx::Row;
                            row.try_get::<i64, _>("total_count")?
                        }
                        None if q.skip == 0 => 0,
                        // Past the last page: the window count is unavailable, count directly.
                        None => {
                            let mut c = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM todos WHERE user_id = ");
                            c.push_bind(q.user_id);
                            push_filters!(c, q);
                            c.build_query_scalar::<i64>().fetch_one(&self.pool).await?
                        }
                    };
                    Ok((fold_joined(&rows)?, total))
                }).await
            }
        }
    };
}

todo_store!(sqlx::Postgres);
todo_store!(sqlx::Sqlite);
