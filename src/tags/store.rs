//! Tags' storage: the trait the tag service uses, its rows, and its SQL for both
//! backends (written once; the dialects agree on every statement here).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::{Sql, StoreResult};

/// A tag row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub color: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tag name as a todo or a tag write gives it: trimmed, with its lower-cased key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName {
    pub name: String,
    pub key: String,
}

/// Tags of all users (the service scopes every call to one).
#[async_trait]
pub trait TagStore: Send + Sync {
    /// Inserts a tag; `UniqueViolation` when the user has a tag with that key.
    async fn insert_tag(&self, tag: &TagRecord, key: &str) -> StoreResult<()>;
    async fn tag_by_id(&self, id: Uuid) -> StoreResult<Option<TagRecord>>;
    /// One page of the user's tags, by key, and the total number of them.
    async fn list_tags(
        &self,
        user_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> StoreResult<(Vec<TagRecord>, i64)>;
    async fn update_tag(&self, tag: &TagRecord, key: &str) -> StoreResult<()>;
    async fn delete_tag(&self, id: Uuid, user_id: Uuid) -> StoreResult<bool>;
}

/// The columns of a [`TagRecord`], in its field order.
pub const TAG_COLUMNS: &str = "id, user_id, name, color, created_at, updated_at";

/// Implements [`TagStore`] on one backend's [`Sql`] (the SQL is the same for both).
macro_rules! tag_store {
    ($db:ty) => {
        #[async_trait]
        impl TagStore for Sql<$db> {
            async fn insert_tag(&self, t: &TagRecord, key: &str) -> StoreResult<()> {
                let q = sqlx::query(
                    "INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(t.id)
                .bind(t.user_id)
                .bind(&t.name)
                .bind(key)
                .bind(&t.color)
                .bind(t.created_at)
                .bind(t.updated_at);
                self.guard
                    .run("insert_tag", async { q.execute(&self.pool).await.map(drop) })
                    .await
            }

            async fn tag_by_id(&self, id: Uuid) -> StoreResult<Option<TagRecord>> {
                let sql = format!("SELECT {TAG_COLUMNS} FROM tags WHERE id = $1");
                self.guard
                    .run("tag_by_id", async {
                        sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await
                    })
                    .await
            }

            async fn list_tags(
                &self,
                user_id: Uuid,
                skip: i64,
                limit: i64,
            ) -> StoreResult<(Vec<TagRecord>, i64)> {
                let sql = format!(
                    "SELECT {TAG_COLUMNS} FROM tags WHERE user_id = $1 \
                     ORDER BY name_key, id LIMIT $2 OFFSET $3"
                );
                self.guard
                    .run("list_tags", async {
                        let items = sqlx::query_as(&sql)
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
                    })
                    .await
            }

            async fn update_tag(&self, t: &TagRecord, key: &str) -> StoreResult<()> {
                let q = sqlx::query(
                    "UPDATE tags SET name = $3, name_key = $4, color = $5, updated_at = $6 \
                     WHERE id = $1 AND user_id = $2",
                )
                .bind(t.id)
                .bind(t.user_id)
                .bind(&t.name)
                .bind(key)
                .bind(&t.color)
                .bind(t.updated_at);
                self.guard
                    .run("update_tag", async { q.execute(&self.pool).await.map(drop) })
                    .await
            }

            async fn delete_tag(&self, id: Uuid, user_id: Uuid) -> StoreResult<bool> {
                let q = sqlx::query("DELETE FROM tags WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id);
                self.guard
                    .run("delete_tag", async {
                        Ok(q.execute(&self.pool).await?.rows_affected() == 1)
                    })
                    .await
            }
        }
    };
}

tag_store!(sqlx::Postgres);
tag_store!(sqlx::Sqlite);
