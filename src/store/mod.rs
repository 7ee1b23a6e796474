//! Storage: one trait per resource, implemented for PostgreSQL and SQLite pools.
//!
//! The SQL is portable (both dialects accept it) and lives once, in `sql.rs`; it is
//! compiled for each backend with its native types (uuid/timestamptz on Postgres,
//! BLOB/TEXT on SQLite).

mod breaker;
mod sql;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::metrics::Metrics;

pub use breaker::{
    BreakerSettings, BreakerState, CircuitBreaker, GuardedStore, Outcome, Permit, Rejected,
};

/// Failures of the storage layer; the services turn them into API errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write.
    #[error("unique constraint violated")]
    UniqueViolation,
    /// The database cannot be reached or did not answer in time: connection refused
    /// or reset, pool timeout, TLS, the server refusing connections, a statement or
    /// lock-wait timeout, a call past its deadline, or the circuit breaker open.
    /// The API answers 503 `SERVER_001` with `Retry-After`.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else (a bug or a corrupt row).
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            sqlx::Error::Database(db) if transient_database_error(db.as_ref()).is_some() => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Other(e),
        }
    }
}

/// Why a database-reported error is temporary, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transient {
    /// The server cannot serve this connection (shutting down, starting, connection
    /// limit, connection exception): counts towards the circuit breaker.
    Connection,
    /// A statement hit `statement_timeout` (Postgres) or the lock wait gave up
    /// (SQLite `BUSY`/`LOCKED`): the database is there, but slow.
    Timeout,
}

fn transient_database_error(db: &dyn sqlx::error::DatabaseError) -> Option<Transient> {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return match code {
            // query_canceled: statement_timeout fired.
            "57014" => Some(Transient::Timeout),
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
            "57P01" | "57P02" | "57P03" | "53300" => Some(Transient::Connection),
            // Class 08: connection exception.
            c if c.starts_with("08") => Some(Transient::Connection),
            _ => None,
        };
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Primary result codes SQLITE_BUSY (5) and SQLITE_LOCKED (6), also as extended codes.
        let primary = db.code()?.parse::<i32>().ok()? & 0xff;
        return matches!(primary, 5 | 6).then_some(Transient::Timeout);
    }
    None
}

impl StoreError {
    /// Whether this failure says the database could not be reached (connection refused
    /// or reset, pool timeout, TLS failure, the server refusing connections, a call
    /// that ran past its deadline): what the circuit breaker counts.
    pub fn is_connection_failure(&self) -> bool {
        let StoreError::Unavailable(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Database(db) => {
                transient_database_error(db.as_ref()) == Some(Transient::Connection)
            }
            _ => true,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A user as stored, including the password hash (never leaves the service layer).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an access-token check needs to know, read in one round trip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenStatus {
    pub is_active: bool,
    /// 1 when the token's session exists and is not revoked.
    pub active_sessions: i64,
    /// 1 when the token's jti is on the revocation list.
    pub revoked: i64,
}

/// A new login session: the family of refresh tokens of one login.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub refresh_jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Outcome of presenting a refresh token for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; the session now expects the new jti.
    Rotated,
    /// The token had already been rotated: the whole session is now revoked.
    ReuseDetected,
    /// The session is unknown, expired or already revoked.
    Revoked,
}

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

/// A tag name as a todo refers to it: trimmed, with its lower-cased key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName {
    pub name: String,
    pub key: String,
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
    fn title_key(&self) -> String {
        self.title.to_lowercase()
    }
    fn search_text(&self) -> String {
        let mut s = self.title.to_lowercase();
        if let Some(d) = &self.description {
            s.push('\n');
            s.push_str(&d.to_lowercase());
        }
        s
    }
}

/// Users and their credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<UserRecord>>;
    async fn touch_last_login(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// Sets a new hash and revokes every session of the user, atomically.
    async fn change_password(&self, id: Uuid, hash: &str, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Login sessions, refresh-token rotation and access-token revocation.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, s: &NewSession, at: DateTime<Utc>) -> StoreResult<()>;
    async fn rotate_refresh(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        presented_jti: Uuid,
        next_jti: Uuid,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Rotation>;
    /// Revokes the session and puts the access token's jti on the list until `access_exp`.
    async fn logout(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        access_jti: Uuid,
        access_exp: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// `None` when the user no longer exists.
    async fn token_status(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        jti: Uuid,
    ) -> StoreResult<Option<TokenStatus>>;
    /// Deletes revocations and sessions that can no longer matter; returns rows removed.
    async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        session_cutoff: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// The auth rate limit's buckets, kept in the database so that every instance on it
/// counts together (GCRA: one theoretical arrival time per key).
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes one request from `key`'s bucket at `now_us` (µs since the epoch), where a
    /// request costs `interval_us` and the bucket holds `burst_us`. `None` when allowed;
    /// otherwise how many microseconds until a request would be.
    async fn take_rate_token(
        &self,
        key: &str,
        now_us: i64,
        interval_us: i64,
        burst_us: i64,
    ) -> StoreResult<Option<i64>>;
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

/// Tags of all users (the service scopes every call to one).
#[async_trait]
pub trait TagStore: Send + Sync {
    async fn insert_tag(&self, tag: &TagRecord, key: &str) -> StoreResult<()>;
    async fn tag_by_id(&self, id: Uuid) -> StoreResult<Option<TagRecord>>;
    async fn list_tags(
        &self,
        user_id: Uuid,
        skip: i64,
        limit: i64,
    ) -> StoreResult<(Vec<TagRecord>, i64)>;
    async fn update_tag(&self, tag: &TagRecord, key: &str) -> StoreResult<()>;
    async fn delete_tag(&self, id: Uuid, user_id: Uuid) -> StoreResult<bool>;
}

/// The whole storage interface, as the services see it.
#[async_trait]
pub trait Store: UserStore + SessionStore + TodoStore + TagStore + RateLimitStore {
    /// One round trip to the database (readiness check).
    async fn ping(&self) -> StoreResult<()>;
    /// Which backend this is (`postgres` or `sqlite`).
    fn backend(&self) -> Backend;
    /// Connections in the pool: (open, idle).
    fn pool_stats(&self) -> (u32, usize);
}

/// The database backends the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// Picks the backend from the URL scheme.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            anyhow::bail!("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")
        }
    }

    /// The embedded migrations of this backend.
    pub fn migrator(self) -> &'static Migrator {
        static PG: Migrator = sqlx::migrate!("./migrations/postgres");
        static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
        match self {
            Backend::Postgres => &PG,
            Backend::Sqlite => &SQLITE,
        }
    }
}

/// Timeouts and circuit breaker of the database layer, from the `DB_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbSettings {
    /// Longest wait for a pooled connection, including (re)connecting
    /// (`DB_ACQUIRE_TIMEOUT_MS`, default 1000).
    pub acquire_timeout: Duration,
    /// How long one statement may run (`DB_STATEMENT_TIMEOUT_MS`, default 5000): the
    /// PostgreSQL `statement_timeout` (0 switches it off), and how long SQLite waits
    /// for a lock before giving up with `BUSY` (0: the default 5 s).
    pub statement_timeout: Duration,
    /// When the store's circuit breaker opens (`DB_BREAKER_FAILURES`, default 5, 0
    /// switches it off) and how long it stays open (`DB_BREAKER_COOLDOWN_MS`, default 2000).
    pub breaker: BreakerSettings,
}

impl Default for DbSettings {
    fn default() -> Self {
        DbSettings {
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(5),
            breaker: BreakerSettings::default(),
        }
    }
}

/// The statement limit used where `DB_STATEMENT_TIMEOUT_MS` is 0 (SQLite's lock wait,
/// and the basis of the call deadline).
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The smallest client-side deadline of a store call, above the acquire timeout.
const MIN_CALL_DEADLINE: Duration = Duration::from_secs(10);

impl DbSettings {
    /// Reads the `DB_*` variables through `var` (unset or blank: the default).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let d = DbSettings::default();
        let num = |k: &str, default: u64| -> anyhow::Result<u64> {
            match var(k).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{k}={v:?} is invalid: {e}")),
            }
        };
        let ms = |k: &str, default: Duration| {
            num(k, default.as_millis() as u64).map(Duration::from_millis)
        };
        let settings = DbSettings {
            acquire_timeout: ms("DB_ACQUIRE_TIMEOUT_MS", d.acquire_timeout)?,
            statement_timeout: ms("DB_STATEMENT_TIMEOUT_MS", d.statement_timeout)?,
            breaker: BreakerSettings {
                failure_threshold: u32::try_from(num(
                    "DB_BREAKER_FAILURES",
                    u64::from(d.breaker.failure_threshold),
                )?)
                .map_err(|_| anyhow::anyhow!("DB_BREAKER_FAILURES is too large"))?,
                cooldown: ms("DB_BREAKER_COOLDOWN_MS", d.breaker.cooldown)?,
            },
        };
        if settings.acquire_timeout.is_zero() {
            anyhow::bail!("DB_ACQUIRE_TIMEOUT_MS must be at least 1");
        }
        Ok(settings)
    }

    /// The client-side deadline of one whole store call: the acquire timeout plus room
    /// for two slow statements, and at least 10 s more. It is the last resort against a
    /// silent network (no reset, no answer), which no server-side timeout catches.
    pub fn call_deadline(&self) -> Duration {
        self.acquire_timeout + (2 * self.sqlite_busy_timeout()).max(MIN_CALL_DEADLINE)
    }

    fn sqlite_busy_timeout(&self) -> Duration {
        if self.statement_timeout.is_zero() {
            DEFAULT_STATEMENT_TIMEOUT
        } else {
            self.statement_timeout
        }
    }
}

/// How long start-up waits for a database that is not reachable yet (still starting).
const STARTUP_WAIT: Duration = Duration::from_secs(10);

/// Opens the pool's first connection. A database that refuses connections or does not
/// answer is retried for [`STARTUP_WAIT`] (a server started next to its database should
/// not lose the race); any other error (bad credentials, unknown database) fails at once.
async fn first_connection<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + STARTUP_WAIT;
    let mut logged = false;
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(()),
            Err(e @ (sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)))
                if std::time::Instant::now() < deadline =>
            {
                if !logged {
                    tracing::warn!(error = %e, "database not reachable yet; retrying for up to 10 s");
                    logged = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// An open connection pool of either backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Pool {
    /// Connects with the default [`DbSettings`] (tools and tests).
    pub async fn connect(url: &str, size: u32) -> anyhow::Result<Self> {
        Self::connect_with(url, size, &DbSettings::default()).await
    }

    /// Connects a pool of at most `size` connections (SQLite: at most 8, in WAL mode).
    /// Acquiring a connection gives up after `acquire_timeout`; on Postgres every
    /// statement is limited by `statement_timeout` (set at connection start-up).
    pub async fn connect_with(url: &str, size: u32, settings: &DbSettings) -> anyhow::Result<Self> {
        use std::str::FromStr;
        let acquire = settings.acquire_timeout;
        Ok(match Backend::from_url(url)? {
            Backend::Postgres => {
                let mut opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
                if !settings.statement_timeout.is_zero() {
                    let ms = settings.statement_timeout.as_millis().to_string();
                    opts = opts.options([("statement_timeout", ms.as_str())]);
                }
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(acquire)
                    // No ping before each use: it doubles the round trips. A dead
                    // connection fails its query instead (503, counted by the breaker).
                    .test_before_acquire(false)
                    .connect_lazy_with(opts);
                first_connection(&pool).await?;
                Pool::Postgres(pool)
            }
            Backend::Sqlite => {
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(settings.sqlite_busy_timeout());
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(size.min(8))
                    .acquire_timeout(acquire)
                    // No ping before each use: it doubles the round trips. A dead
                    // connection fails its query instead (503, counted by the breaker).
                    .test_before_acquire(false)
                    .connect_lazy_with(opts);
                first_connection(&pool).await?;
                Pool::Sqlite(pool)
            }
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate_up(&self) -> anyhow::Result<()> {
        let m = self.backend().migrator();
        match self {
            Pool::Postgres(p) => m.run(&mut *Self::unlimited_pg_connection(p).await?).await?,
            Pool::Sqlite(p) => m.run(p).await?,
        }
        Ok(())
    }

    /// A Postgres connection without `statement_timeout`, for migrations (which may
    /// legitimately run long); it is closed rather than returned to the pool.
    async fn unlimited_pg_connection(
        pool: &sqlx::PgPool,
    ) -> anyhow::Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        let mut conn = pool.acquire().await?;
        conn.close_on_drop();
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await?;
        Ok(conn)
    }

    /// Reverts the newest `steps` applied migrations.
    pub async fn migrate_down(&self, steps: usize) -> anyhow::Result<()> {
        let applied = self.applied_versions().await?;
        let target = if steps >= applied.len() {
            0
        } else {
            applied[applied.len() - steps - 1]
        };
        let m = self.backend().migrator();
        match self {
            Pool::Postgres(p) => {
                m.undo(&mut *Self::unlimited_pg_connection(p).await?, target)
                    .await?
            }
            Pool::Sqlite(p) => m.undo(p, target).await?,
        }
        Ok(())
    }

    /// Versions of the applied migrations, oldest first.
    pub async fn applied_versions(&self) -> anyhow::Result<Vec<i64>> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let rows = match self {
            Pool::Postgres(p) => sqlx::query_scalar(SQL).fetch_all(p).await,
            Pool::Sqlite(p) => sqlx::query_scalar(SQL).fetch_all(p).await,
        };
        match rows {
            Ok(v) => Ok(v),
            // No bookkeeping table yet: nothing applied.
            Err(sqlx::Error::Database(_)) => Ok(vec![]),
            Err(e) => Err(e.into()),
        }
    }

    /// The storage interface over this pool, timing operations into `metrics`, behind
    /// the circuit breaker and call deadline of `settings` (see [`GuardedStore`]).
    pub fn store(&self, metrics: Arc<Metrics>, settings: &DbSettings) -> Arc<dyn Store> {
        let sql: Arc<dyn Store> = match self {
            Pool::Postgres(p) => Arc::new(sql::SqlStore {
                pool: p.clone(),
                metrics,
            }),
            Pool::Sqlite(p) => Arc::new(sql::SqlStore {
                pool: p.clone(),
                metrics,
            }),
        };
        Arc::new(GuardedStore::new(
            sql,
            settings.breaker,
            settings.call_deadline(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<DbSettings> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        DbSettings::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn db_settings_defaults_and_overrides() {
        let d = settings(&[]).unwrap();
        assert_eq!(d, DbSettings::default());
        assert_eq!(d.acquire_timeout, Duration::from_secs(1));
        assert_eq!(d.statement_timeout, Duration::from_secs(5));
        assert_eq!(d.breaker.failure_threshold, 5);
        assert_eq!(d.breaker.cooldown, Duration::from_secs(2));
        assert_eq!(d.call_deadline(), Duration::from_secs(11));

        let s = settings(&[
            ("DB_ACQUIRE_TIMEOUT_MS", "250"),
            ("DB_STATEMENT_TIMEOUT_MS", " 300 "),
            ("DB_BREAKER_FAILURES", "0"),
            ("DB_BREAKER_COOLDOWN_MS", "100"),
        ])
        .unwrap();
        assert_eq!(s.acquire_timeout, Duration::from_millis(250));
        assert_eq!(s.statement_timeout, Duration::from_millis(300));
        assert_eq!(s.breaker.failure_threshold, 0);
        assert_eq!(s.breaker.cooldown, Duration::from_millis(100));
        assert_eq!(s.sqlite_busy_timeout(), Duration::from_millis(300));
        assert_eq!(s.call_deadline(), Duration::from_millis(10_250));

        let off = settings(&[("DB_STATEMENT_TIMEOUT_MS", "0")]).unwrap();
        assert_eq!(off.sqlite_busy_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn db_settings_reject_bad_values() {
        for (k, v) in [
            ("DB_ACQUIRE_TIMEOUT_MS", "0"),
            ("DB_ACQUIRE_TIMEOUT_MS", "-1"),
            ("DB_STATEMENT_TIMEOUT_MS", "1s"),
            ("DB_BREAKER_FAILURES", "99999999999"),
            ("DB_BREAKER_COOLDOWN_MS", "soon"),
        ] {
            let err = settings(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(k), "{k}={v}: {err}");
        }
    }

    #[test]
    fn connection_class_errors_count_for_the_breaker() {
        let unavailable = |e| StoreError::from(e);
        assert!(unavailable(sqlx::Error::PoolTimedOut).is_connection_failure());
        assert!(
            unavailable(sqlx::Error::Io(std::io::Error::other("reset"))).is_connection_failure()
        );
        assert!(!unavailable(sqlx::Error::RowNotFound).is_connection_failure());
        assert!(!StoreError::UniqueViolation.is_connection_failure());
    }
}
