//! `AppState`: the services of one instance and their wiring to the database. A leaf
//! for the API modules: it imports services and stores, never an `api.rs`.

use std::ops::Deref;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth::attempts::{FailureLimit, MAIL_REQUESTS};
use crate::auth::external::ExternalAuth;
use crate::auth::federated::Identity;
use crate::auth::password::PasswordHasher;
use crate::auth::recovery::MailFlows;
use crate::auth::service::{AuthService, AuthStores, CheckLimits};
use crate::auth::session_cache::SessionCache;
use crate::auth::store::{listen, ExternalUserStore, OneTimeTokenStore, SessionStore, UserStore};
use crate::auth::tokens::TokenKeys;
use crate::config::Config;
use crate::db::{Db, Pool, Sql};
use crate::http::rate_limit::RateLimitStore;
use crate::mail::store::OutboxStore;
use crate::mail::transport::Transport;
use crate::mail::worker::{MailHealth, MailWorker};
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
    /// The outbox's delivery worker (when a transport is configured and a runtime runs).
    pub mail_worker: Option<AbortOnDrop>,
    /// Whether mail is being delivered (readiness reports it; it never fails readiness).
    pub mail_health: Arc<MailHealth>,
    /// The start-up fetch of the external issuer's JWKS.
    pub jwks_prefetch: Option<AbortOnDrop>,

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
    pub external_users: Arc<dyn ExternalUserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub tokens: Arc<dyn OneTimeTokenStore>,
    pub outbox: Arc<dyn OutboxStore>,
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
        Sql<DB>: UserStore
            + ExternalUserStore
            + SessionStore
            + OneTimeTokenStore
            + OutboxStore
            + TodoStore
            + TagStore
            + RateLimitStore,
    {
        let sql = Arc::new(sql);
        Stores {
            users: sql.clone(),
            external_users: sql.clone(),
            sessions: sql.clone(),
            tokens: sql.clone(),
            outbox: sql.clone(),
            todos: sql.clone(),
            tags: sql.clone(),
            rate_limits: sql,
        }
    }
}

/// Runs `task` while a runtime is there to run it (not for [`AppState::spec_only`]).
fn in_runtime(task: impl FnOnce() -> tokio::task::JoinHandle<()>) -> Option<AbortOnDrop> {
    tokio::runtime::Handle::try_current()
        .is_ok()
        .then(|| AbortOnDrop(task()))
}

/// The mail flows over `stores`, and the worker delivering their outbox (when a
/// transport is configured): its handle and what readiness reports.
fn mail(
    config: &Config,
    stores: &Stores,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<(MailFlows, Option<AbortOnDrop>, Arc<MailHealth>)> {
    let wake = Arc::new(Notify::new());
    let transport = Transport::from_settings(&config.mail)?;
    let health = Arc::new(MailHealth::new(transport.is_some() || !config.mail.enabled));
    let worker = transport
        .filter(|_| config.mail.enabled)
        .and_then(|transport| {
            let worker = MailWorker {
                store: stores.outbox.clone(),
                transport,
                metrics: metrics.clone(),
                health: health.clone(),
                wake: wake.clone(),
                retry_base: config.mail.retry_base,
            };
            in_runtime(|| worker.spawn())
        });
    let flows = MailFlows {
        settings: config.mail.clone(),
        tokens: stores.tokens.clone(),
        wake,
        mail_requests: Arc::new(FailureLimit::new(
            stores.rate_limits.clone(),
            "mail",
            MAIL_REQUESTS,
        )),
    };
    Ok((flows, worker, health))
}

/// Who may sign in: `LOCAL_AUTH` and the external issuer over its users' store.
fn identity(config: &Config, stores: &Stores, metrics: &Arc<Metrics>) -> Identity {
    Identity {
        local_auth: config.identity.local_auth,
        external: config.identity.issuer.clone().map(|issuer| {
            ExternalAuth::new(issuer, stores.external_users.clone(), metrics.clone())
        }),
    }
}

/// The session cache's revocation listener. Only PostgreSQL tells instances about
/// revocations; elsewhere the cache stays off.
fn session_listener(
    pool: &Pool,
    sessions: &Arc<SessionCache>,
    config: &Config,
) -> Option<AbortOnDrop> {
    match pool {
        Pool::Postgres(pg) => {
            in_runtime(|| listen(sessions, pg, config.database_listen_url.as_deref()))
        }
        Pool::Sqlite(_) => None,
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
        metrics.register(hasher.collectors());
        metrics.register(sessions.collectors());
        let listener = session_listener(pool, &sessions, &config);
        let (flows, mail_worker, mail_health) = mail(&config, &stores, &metrics)?;
        let auth = AuthService::new(
            AuthStores {
                users: stores.users.clone(),
                sessions: stores.sessions.clone(),
            },
            hasher,
            keys,
            metrics.clone(),
            sessions.clone(),
            CheckLimits::new(
                stores.rate_limits.clone(),
                config.login_failures_per_account,
            ),
            flows,
        )
        .with_identity(identity(&config, &stores, &metrics));
        let jwks_prefetch = auth
            .external()
            .and_then(|e| e.jwks.clone())
            .and_then(|jwks| in_runtime(|| tokio::spawn(jwks.prefetch())));
        Ok(AppState(Arc::new(Services {
            jwks_prefetch,
            listener,
            mail_worker,
            mail_health,
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
