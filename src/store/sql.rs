//! The SQL of every store, written once in the dialect PostgreSQL and SQLite share and
//! compiled for each backend's pool with its native column types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use uuid::Uuid;

use crate::metrics::Metrics;

use super::*;

/// A pool of one backend, timing every operation into the metrics.
pub struct SqlStore<P> {
    pub pool: P,
    pub metrics: Arc<Metrics>,
}

const USER_COLUMNS: &str =
    "id, email, name, password_hash, is_active, last_login_at, created_at, updated_at";
const TODO_COLUMNS: &str = "id, user_id, title, description, is_completed, priority, due_date, \
     completed_at, version, created_at, updated_at";

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

macro_rules! sql_stores {
    ($pool:ty, $db:ty, $backend:expr) => {
        #[async_trait]
        impl UserStore for SqlStore<$pool> {
            async fn create_user(&self, u: &UserRecord) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("create_user");
                sqlx::query(
                    "INSERT INTO users (id, email, name, password_hash, is_active, last_login_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(u.id)
                .bind(&u.email)
                .bind(&u.name)
                .bind(&u.password_hash)
                .bind(u.is_active)
                .bind(u.last_login_at)
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
                let _timer = self.metrics.db_timer("user_by_email");
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = $1");
                Ok(sqlx::query_as(&sql).bind(email).fetch_optional(&self.pool).await?)
            }

            async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>> {
                let _timer = self.metrics.db_timer("user_by_id");
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
            }

            async fn touch_last_login(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("touch_last_login");
                sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn change_password(&self, id: Uuid, hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("change_password");
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(hash)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $2, updated_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl SessionStore for SqlStore<$pool> {
            async fn create_session(&self, s: &NewSession, at: DateTime<Utc>) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("create_session");
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, refresh_jti, expires_at, revoked_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, NULL, $5, $5)",
                )
                .bind(s.id)
                .bind(s.user_id)
                .bind(s.refresh_jti)
                .bind(s.expires_at)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn rotate_refresh(
                &self,
                session_id: Uuid,
                user_id: Uuid,
                presented_jti: Uuid,
                next_jti: Uuid,
                expires_at: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> StoreResult<Rotation> {
                let _timer = self.metrics.db_timer("rotate_refresh");
                // Compare-and-swap: only the current refresh token of a live session rotates.
                let rotated = sqlx::query(
                    "UPDATE sessions SET refresh_jti = $4, expires_at = $5, updated_at = $6 \
                     WHERE id = $1 AND user_id = $2 AND refresh_jti = $3 AND revoked_at IS NULL AND expires_at > $6",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(presented_jti)
                .bind(next_jti)
                .bind(expires_at)
                .bind(at)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if rotated == 1 {
                    return Ok(Rotation::Rotated);
                }
                // Not current: if the session is still live, this is a replayed token.
                let revoked = sqlx::query(
                    "UPDATE sessions SET revoked_at = $3, updated_at = $3 \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND refresh_jti <> $4",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(at)
                .bind(presented_jti)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(if revoked == 1 { Rotation::ReuseDetected } else { Rotation::Revoked })
            }

            async fn logout(
                &self,
                session_id: Uuid,
                user_id: Uuid,
                access_jti: Uuid,
                access_exp: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("logout");
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO revoked_tokens (jti, user_id, expires_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(access_jti)
                .bind(user_id)
                .bind(access_exp)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $3, updated_at = $3 \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn token_status(
                &self,
                user_id: Uuid,
                session_id: Uuid,
                jti: Uuid,
            ) -> StoreResult<Option<TokenStatus>> {
                let _timer = self.metrics.db_timer("token_status");
                Ok(sqlx::query_as(
                    "SELECT u.is_active, \
                       (SELECT COUNT(*) FROM sessions s WHERE s.id = $2 AND s.user_id = u.id AND s.revoked_at IS NULL) AS active_sessions, \
                       (SELECT COUNT(*) FROM revoked_tokens r WHERE r.jti = $3) AS revoked \
                     FROM users u WHERE u.id = $1",
                )
                .bind(user_id)
                .bind(session_id)
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn purge_expired(&self, now: DateTime<Utc>, session_cutoff: DateTime<Utc>) -> StoreResult<u64> {
                let _timer = self.metrics.db_timer("purge_expired");
                let tokens = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                    .bind(session_cutoff)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                // A bucket whose arrival time has passed is full again: same as no row.
                let buckets = sqlx::query("DELETE FROM rate_limits WHERE tat_us < $1")
                    .bind(now.timestamp_micros())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(tokens + sessions + buckets)
            }
        }

        #[async_trait]
        impl RateLimitStore for SqlStore<$pool> {
            async fn take_rate_token(
                &self,
                key: &str,
                now_us: i64,
                interval_us: i64,
                burst_us: i64,
            ) -> StoreResult<Option<i64>> {
                let _timer = self.metrics.db_timer("take_rate_token");
                // One atomic upsert: the row lock serializes concurrent requests of
                // every instance, and the WHERE refuses a request beyond the burst.
                let taken: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO rate_limits (key, tat_us) VALUES ($1, $2 + $3) \
                     ON CONFLICT (key) DO UPDATE \
                       SET tat_us = CASE WHEN rate_limits.tat_us > $2 THEN rate_limits.tat_us ELSE $2 END + $3 \
                       WHERE CASE WHEN rate_limits.tat_us > $2 THEN rate_limits.tat_us ELSE $2 END + $3 - $2 <= $4 \
                     RETURNING tat_us",
                )
                .bind(key)
                .bind(now_us)
                .bind(interval_us)
                .bind(burst_us)
                .fetch_optional(&self.pool)
                .await?;
                if taken.is_some() {
                    return Ok(None);
                }
                let tat: i64 = sqlx::query_scalar("SELECT tat_us FROM rate_limits WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?
                    .unwrap_or(now_us);
                Ok(Some((tat.max(now_us) + interval_us - now_us - burst_us).max(1)))
            }
        }

        #[async_trait]
        impl TodoStore for SqlStore<$pool> {
            async fn insert_todo(
                &self,
                id: Uuid,
                user_id: Uuid,
                t: &TodoWrite,
                tags: &[TagName],
                at: DateTime<Utc>,
            ) -> StoreResult<Vec<TagRecord>> {
                let _timer = self.metrics.db_timer("insert_todo");
                let insert = sqlx::query(
                    "INSERT INTO todos (id, user_id, title, title_key, description, search_text, is_completed, \
                       priority, due_date, completed_at, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)",
                )
                .bind(id)
                .bind(user_id);
                let insert = bind_write!(insert, t).bind(at);
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
            }

            async fn todo_by_id(&self, id: Uuid) -> StoreResult<Option<TodoWithTags>> {
                let _timer = self.metrics.db_timer("todo_by_id");
                let sql = format!(
                    "SELECT t.*, {JOINED_TAG_COLUMNS} FROM (SELECT {TODO_COLUMNS} FROM todos WHERE id = $1) t \
                     LEFT JOIN todo_tags tt ON tt.todo_id = t.id LEFT JOIN tags g ON g.id = tt.tag_id \
                     ORDER BY g.name_key, g.id"
                );
                let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
                Ok(fold_joined(&rows)?.pop())
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
                let _timer = self.metrics.db_timer("update_todo");
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
            }

            async fn delete_todo(&self, id: Uuid, user_id: Uuid, expected_version: Option<i64>) -> StoreResult<bool> {
                let _timer = self.metrics.db_timer("delete_todo");
                let deleted = sqlx::query(
                    "DELETE FROM todos WHERE id = $1 AND user_id = $2 AND ($3 IS NULL OR version = $3)",
                )
                .bind(id)
                .bind(user_id)
                .bind(expected_version)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(deleted == 1)
            }

            async fn list_todos(&self, q: &TodoQuery) -> StoreResult<(Vec<TodoWithTags>, i64)> {
                let _timer = self.metrics.db_timer("list_todos");
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
            }
        }

        #[async_trait]
        impl TagStore for SqlStore<$pool> {
            async fn insert_tag(&self, t: &TagRecord, key: &str) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("insert_tag");
                sqlx::query(
                    "INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.id)
                .bind(t.user_id)
                .bind(&t.name)
                .bind(key)
                .bind(&t.color)
                .bind(t.created_at)
                .bind(t.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn tag_by_id(&self, id: Uuid) -> StoreResult<Option<TagRecord>> {
                let _timer = self.metrics.db_timer("tag_by_id");
                Ok(sqlx::query_as(
                    "SELECT id, user_id, name, color, created_at, updated_at FROM tags WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list_tags(&self, user_id: Uuid, skip: i64, limit: i64) -> StoreResult<(Vec<TagRecord>, i64)> {
                let _timer = self.metrics.db_timer("list_tags");
                let items = sqlx::query_as(
                    "SELECT id, user_id, name, color, created_at, updated_at FROM tags WHERE user_id = $1 \
                     ORDER BY name_key, id LIMIT $2 OFFSET $3",
                )
                .bind(user_id)
                .bind(limit)
                .bind(skip)
                .fetch_all(&self.pool)
                .await?;
                let total = sqlx::query_scalar("SELECT COUNT(*) FROM tags WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok((items, total))
            }

            async fn update_tag(&self, t: &TagRecord, key: &str) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("update_tag");
                sqlx::query(
                    "UPDATE tags SET name = $3, name_key = $4, color = $5, updated_at = $6 WHERE id = $1 AND user_id = $2",
                )
                .bind(t.id)
                .bind(t.user_id)
                .bind(&t.name)
                .bind(key)
                .bind(&t.color)
                .bind(t.updated_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_tag(&self, id: Uuid, user_id: Uuid) -> StoreResult<bool> {
                let _timer = self.metrics.db_timer("delete_tag");
                let deleted = sqlx::query("DELETE FROM tags WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(deleted == 1)
            }
        }

        #[async_trait]
        impl Store for SqlStore<$pool> {
            async fn ping(&self) -> StoreResult<()> {
                let _timer = self.metrics.db_timer("ping");
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn backend(&self) -> Backend {
                $backend
            }

            fn pool_stats(&self) -> (u32, usize) {
                (self.pool.size(), self.pool.num_idle())
            }
        }
    };
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

sql_stores!(sqlx::PgPool, sqlx::Postgres, Backend::Postgres);
sql_stores!(sqlx::SqlitePool, sqlx::Sqlite, Backend::Sqlite);
