//! The test harness: a real server on port 0 over a fresh database per test, on
//! SQLite and on PostgreSQL, plus the helpers the tests share: [`raw`] requests (for
//! what the SDK cannot express; normal calls go through [`crate::sdk_helpers`]) and
//! [`tokens`] (decoding and forging JWTs with the test secret).

mod raw;
mod tokens;

pub use raw::*;
pub use tokens::*;

use std::collections::HashMap;

use reqwest::Url;
use tokio::sync::oneshot;
use uuid::Uuid;

pub use todo_api::db::Backend;
use todo_api::db::Pool;

/// Runs the same sqlx expression on whichever pool `$pool` holds.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            todo_api::db::Pool::Postgres($p) => $body,
            todo_api::db::Pool::Sqlite($p) => $body,
        }
    };
}

/// The JWT secret every test server signs with; tests forge tokens with it.
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef-0123456789abcdef";

/// A password that satisfies the strength policy.
pub const STRONG_PASSWORD: &str = "Correct#Horse9";

/// Maintenance database used to create and drop the per-test Postgres databases.
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether Postgres tests are explicitly switched off (`SKIP_POSTGRES=1`).
pub fn skip_postgres() -> bool {
    std::env::var("SKIP_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn maintenance_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Expands each `async fn name(backend: Backend) { … }` into the tests
/// `name_sqlite` and `name_postgres`. A missing Postgres fails the Postgres test
/// loudly unless `SKIP_POSTGRES=1` is set; with it, the Postgres tests are reported as
/// ignored (`build.rs` sets `cfg(skip_postgres)`). Attributes (docs) go on both tests.
macro_rules! both_backends {
    ($(
        $(#[$attr:meta])*
        async fn $name:ident($backend:ident : Backend) $body:block
    )*) => {$(
        async fn $name($backend: $crate::helpers::Backend) $body

        paste::paste! {
            $(#[$attr])*
            #[tokio::test]
            async fn [<$name _sqlite>]() {
                $name($crate::helpers::Backend::Sqlite).await
            }

            $(#[$attr])*
            #[tokio::test]
            #[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
            async fn [<$name _postgres>]() {
                if $crate::helpers::skip_postgres() {
                    eprintln!("SKIP_POSTGRES=1: skipping {}", stringify!([<$name _postgres>]));
                    return;
                }
                $name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// A fresh, empty database (no migrations applied) that is removed when the test
/// passes and kept (with its name printed) when it fails.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    kind: DbKind,
}

enum DbKind {
    Sqlite(Option<tempfile::TempDir>),
    Postgres {
        maintenance_url: String,
        name: String,
    },
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("todo-api-test-")
                    .tempdir()
                    .expect("create a temporary directory");
                let path = dir.path().join("test.db");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                TestDatabase {
                    backend,
                    url,
                    kind: DbKind::Sqlite(Some(dir)),
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let maintenance = maintenance_url();
                let name = format!("test_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&maintenance)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot connect to Postgres at {maintenance} (set TEST_DATABASE_URL, \
                         or SKIP_POSTGRES=1 to skip the Postgres tests explicitly): {e}"
                        )
                    });
                sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
                let _ = conn.close().await;
                let mut url = Url::parse(&maintenance).expect("TEST_DATABASE_URL is a valid URL");
                url.set_path(&format!("/{name}"));
                TestDatabase {
                    backend,
                    url: url.to_string(),
                    kind: DbKind::Postgres {
                        maintenance_url: maintenance,
                        name,
                    },
                }
            }
        }
    }

    /// A small pool on this database, for direct assertions.
    pub async fn pool(&self) -> Pool {
        Pool::connect(&self.url, 2)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        match &mut self.kind {
            DbKind::Sqlite(dir) => {
                if let Some(dir) = dir.take() {
                    if failed {
                        eprintln!(
                            "test failed: keeping the SQLite database {}",
                            dir.keep().display()
                        );
                    }
                }
            }
            DbKind::Postgres {
                maintenance_url,
                name,
            } => {
                if failed {
                    eprintln!(
                        "test failed: keeping the Postgres database {name:?} ({maintenance_url})"
                    );
                    return;
                }
                let (maintenance_url, name) = (maintenance_url.clone(), name.clone());
                // Drop runs inside the test's runtime; do the async work on a thread of its own.
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async {
                        use sqlx::Connection;
                        let mut conn = sqlx::PgConnection::connect(&maintenance_url).await?;
                        sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                            .execute(&mut conn)
                            .await?;
                        conn.close().await?;
                        Ok::<_, anyhow_like::Error>(())
                    })
                })
                .join();
                match dropped {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("warning: could not drop the test database: {e}"),
                    Err(_) => eprintln!("warning: dropping the test database panicked"),
                }
            }
        }
    }
}

/// A tiny boxed error for the drop thread (no extra dependency).
mod anyhow_like {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
}

/// Installs, once per test binary, a tracing subscriber that prints what test servers
/// log, when `TEST_LOG` is set; tests are silent otherwise. `TEST_LOG` holds
/// `EnvFilter` directives (`debug`, `todo_api=debug,sqlx=warn`); `1` or `true` means
/// `debug`. Lines go through the test writer, so libtest shows them for failing tests
/// (all of them with `--nocapture`).
pub fn init_test_log() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let Ok(value) = std::env::var("TEST_LOG") else {
            return;
        };
        let directives = match value.trim() {
            "" | "1" | "true" => "debug",
            v => v,
        };
        let filter = tracing_subscriber::EnvFilter::try_new(directives)
            .unwrap_or_else(|e| panic!("TEST_LOG={value:?} is not an EnvFilter: {e}"));
        // Another subscriber may already be set (none is, today): keep it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Anything serving the API at a base URL: an in-process [`TestApp`] or a child process.
pub trait Served {
    fn base_url(&self) -> &str;
}

impl Served for TestApp {
    fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// A running server over its own fresh database.
pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    pub port: u16,
    /// A raw client: no proxy, no default headers.
    pub client: reqwest::Client,
    pub database_url: String,
    /// Direct database handle for assertions.
    pub db: Pool,
    shutdown: Option<oneshot::Sender<()>>,
    // Dropped last: the database outlives the server handle and the pool.
    _database: TestDatabase,
}

/// The settings every test server starts from, in process or as a child (before its
/// database and per-test overrides): port 0, the test secret, cheap Argon2, no rate limit.
pub const TEST_ENV: &[(&str, &str)] = &[
    ("HOST", "127.0.0.1"),
    ("PORT", "0"),
    ("APP_ENV", "development"),
    ("JWT_SECRET_KEY", TEST_JWT_SECRET),
    ("ARGON2_MEMORY_KIB", "8"),
    ("ARGON2_ITERATIONS", "1"),
    ("ARGON2_PARALLELISM", "1"),
    ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
    // Off like the per-address limit; the abuse tests switch it on.
    ("LOGIN_FAILURES_PER_ACCOUNT", "0"),
    // A loaded CI machine can take over the default 2 s to open a fresh database; the
    // start-up tests that are about this wait set their own environment.
    ("DB_CONNECT_WAIT_MS", "30000"),
];

/// The environment of an in-process test server (before per-test overrides).
fn base_env(database_url: &str) -> HashMap<String, String> {
    let own = [
        ("DATABASE_URL", database_url),
        ("DATABASE_POOL_SIZE", "5"),
        ("LOG_LEVEL", "warn"),
    ];
    TEST_ENV
        .iter()
        .chain(&own)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A reqwest client that never goes through a proxy.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build the HTTP client")
}

impl TestApp {
    /// A server with the default test configuration over a fresh database.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Like [`TestApp::spawn`], with some environment variables overridden.
    pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        let database = TestDatabase::create(backend).await;
        Self::spawn_on(database, vars).await
    }

    /// Starts a server over an existing test database (migrated on start).
    pub async fn spawn_on(database: TestDatabase, vars: &[(&str, &str)]) -> TestApp {
        init_test_log();
        let mut env = base_env(&database.url);
        for (k, v) in vars {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = todo_api::config::Config::from_lookup(|k| env.get(k).cloned())
            .expect("the test configuration is valid");
        let app = todo_api::app::App::build(config)
            .await
            .expect("build the app");
        let port = app.port();
        assert_ne!(port, 0, "App::build must report the bound port");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        let db = database.pool().await;
        TestApp {
            backend: database.backend,
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            client: http_client(),
            database_url: database.url.clone(),
            db,
            shutdown: Some(tx),
            _database: database,
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `/api/v1/auth` + `path`.
    pub fn auth_url(&self, path: &str) -> String {
        self.url(&format!("/api/v1/auth{path}"))
    }

    /// The stored password hash of `email`.
    pub async fn stored_password_hash(&self, email: &str) -> String {
        let sql = "SELECT password_hash FROM users WHERE email = $1";
        on_pool!(&self.db, |p| sqlx::query_scalar::<_, String>(sql)
            .bind(email)
            .fetch_one(p)
            .await)
        .expect("the user row exists")
    }

    /// The stored `last_login_at` of `email`.
    pub async fn stored_last_login_at(&self, email: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let sql = "SELECT last_login_at FROM users WHERE email = $1";
        on_pool!(&self.db, |p| sqlx::query_scalar::<
            _,
            Option<chrono::DateTime<chrono::Utc>>,
        >(sql)
        .bind(email)
        .fetch_one(p)
        .await)
        .expect("the user row exists")
    }

    /// Deletes a user row directly; returns the number of rows removed.
    pub async fn delete_user(&self, id: Uuid) -> u64 {
        let sql = "DELETE FROM users WHERE id = $1";
        on_pool!(&self.db, |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .expect("delete the user")
    }

    /// Disables a user directly; returns the number of rows changed.
    pub async fn deactivate_user(&self, id: Uuid) -> u64 {
        let sql = "UPDATE users SET is_active = $2 WHERE id = $1";
        on_pool!(&self.db, |p| sqlx::query(sql)
            .bind(id)
            .bind(false)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .expect("deactivate the user")
    }

    /// Runs a scalar `SELECT COUNT(*) …` (no parameters).
    pub async fn count(&self, sql: &str) -> i64 {
        count_on(&self.db, sql).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The single integer `sql` selects on `pool` (e.g. a `COUNT(*)`).
pub async fn count_on(pool: &Pool, sql: &str) -> i64 {
    on_pool!(pool, |p| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A unique, valid email address.
pub fn unique_email() -> String {
    format!("user-{}@example.com", Uuid::new_v4().simple())
}
