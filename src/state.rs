//! `AppState`: the services of one instance and their wiring to the database. A leaf
//! for the API modules: it imports services and stores, never an `api.rs`.

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::password::PasswordHasher;
use crate::auth::service::{AuthService, CheckLimits};
use crate::auth::session_cache::SessionCache;
use crate::auth::store::{listen, SessionStore, UserStore};
use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::db::{Db, Pool, Sql};
use crate::http::rate_limit::RateLimitStore;
use crate::metrics::Metrics;
use crate::tags::service::TagService;
use crate::tags::store::TagStore;
use crate::todos::service::TodoService;
use crate::todos::store::TodoStore;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// The services of one instance.
pub struct Services {
    pub config: Config,
    /// Sessions whose tokens passed the database check (PostgreSQL only).
    pub sessions: Arc<SessionCache>,
    /// Keeps the session cache's listener running for as long as the services live.
    pub listener: Option<AbortOnDrop>,

    pub metrics: Arc<Metrics>,
    /// The database as a whole (readiness, pool gauges).
    pub db: Db,
    pub stores: Stores,
    pub auth: AuthService,
    pub todos: TodoService,
    pub tags: TagService,
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// A background task that ends with its owner.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every resource's store over one database.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub todos: Arc<dyn TodoStore>,
    pub tags: Arc<dyn TagStore>,
    pub rate_limits: Arc<dyn RateLimitStore>,
}

impl Stores {
    /// The stores of `db`'s backend, all behind its one guard.
    pub fn new(db: &Db) -> Self {
        match db.pool() {
            Pool::Postgres(p) => Self::over(Sql {
                pool: p.clone(),
                guard: db.guard().clone(),
            }),
            Pool::Sqlite(p) => Self::over(Sql {
                pool: p.clone(),
                guard: db.guard().clone(),
            }),
        }
    }

    fn over<DB: sqlx::Database>(sql: Sql<DB>) -> Self
    where
        Sql<DB>: UserStore + SessionStore + TodoStore + TagStore + RateLimitStore,
    {
        let sql = Arc::new(sql);
        Stores {
            users: sql.clone(),
            sessions: sql.clone(),
            todos: sql.clone(),
            tags: sql.clone(),
            rate_limits: sql,
        }
    }
}

impl AppState {
    pub fn new(config: Config, pool: &Pool) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::new());
        let db = Db::new(pool.clone(), metrics.clone(), &config.db);
        let stores = Stores::new(&db);
        let hasher = PasswordHasher::new(config.argon2, config.hash_workers, config.hash_queue)?;
        let keys = TokenKeys::new(&config);
        let sessions = Arc::new(SessionCache::default());
        // Only PostgreSQL tells instances about revocations; elsewhere the cache stays off.
        let listener = match pool {
            Pool::Postgres(pg) if tokio::runtime::Handle::try_current().is_ok() => Some(
                AbortOnDrop(listen(&sessions, pg, config.database_listen_url.as_deref())),
            ),
            _ => None,
        };
        let auth = AuthService::new(
            stores.users.clone(),
            stores.sessions.clone(),
            hasher,
            keys,
            metrics.clone(),
            sessions.clone(),
            CheckLimits::new(
                stores.rate_limits.clone(),
                config.login_failures_per_account,
            ),
        );
        Ok(AppState(Arc::new(Services {
            listener,
            auth,
            todos: TodoService::new(stores.todos.clone()),
            tags: TagService::new(stores.tags.clone()),
            sessions,
            metrics,
            db,
            stores,
            config,
        })))
    }

    /// A state that is never served: enough to emit the spec, with no I/O.
    pub fn spec_only() -> Self {
        // A fixed secret: the spec does not depend on it, and no warning is printed.
        let config =
            Config::from_lookup(|k| (k == "JWT_SECRET_KEY").then(|| "spec-only".repeat(4)))
                .expect("default configuration is valid");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .expect("in-memory SQLite URL is valid");
        AppState::new(config, &Pool::Sqlite(pool)).expect("default configuration is valid")
    }
}
