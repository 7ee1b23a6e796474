//! What every resource's storage shares: the backend and its pool, migrations,
//! [`StoreError`] and its classification, and the one [`Guard`] every database call
//! runs through (circuit breaker, deadline, timing, error mapping).
//!
//! The SQL itself lives with each resource (`todos/store.rs`, `tags/store.rs`,
//! `auth/store.rs`, `http/rate_limit/store.rs`): each declares its store trait and
//! implements it on [`Sql`] for both backends. This module imports no resource.

mod breaker;
mod error;
mod guard;
mod pool;
mod settings;
mod span;

use std::sync::Arc;

use sqlx::migrate::Migrator;

pub use breaker::{BreakerSettings, BreakerState, CircuitBreaker, Outcome, Permit, Rejected};
pub use error::{StoreError, StoreResult};
pub use guard::Guard;
pub use pool::Pool;
pub use settings::DbSettings;
pub use span::DbTarget;

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

/// One backend's pool and the guard its calls go through. Every resource's store
/// trait is implemented on it (for `sqlx::Postgres` and `sqlx::Sqlite`), each in the
/// resource's own `store.rs`.
pub struct Sql<DB: sqlx::Database> {
    pub pool: sqlx::Pool<DB>,
    pub guard: Arc<Guard>,
}

/// The database as a whole, for what is not a resource's: readiness and pool gauges.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    guard: Arc<Guard>,
}

impl Db {
    /// The pool, guarded by a new [`Guard`] with `settings`, timing into `metrics`.
    pub fn new(pool: Pool, metrics: Arc<crate::metrics::Metrics>, settings: &DbSettings) -> Self {
        let probe = pool.clone();
        let saturated = Box::new(move || probe.saturated());
        let guard = Guard::new(pool.backend(), pool.target(), metrics, settings, saturated);
        let guard = Arc::new(guard);
        Db { pool, guard }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// One round trip to the database (readiness), through the guard.
    pub async fn ping(&self) -> StoreResult<()> {
        self.guard
            .run("ping", async {
                match &self.pool {
                    Pool::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
                    Pool::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
                }
            })
            .await
    }

    /// Connections in the pool: (open, idle).
    pub fn pool_stats(&self) -> (u32, usize) {
        match &self.pool {
            Pool::Postgres(p) => (p.size(), p.num_idle()),
            Pool::Sqlite(p) => (p.size(), p.num_idle()),
        }
    }
}

/// Current time at the precision both databases keep (microseconds).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let t = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
