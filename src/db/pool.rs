//! The connection pool of either backend, its start-up and its migrations.

use std::time::Duration;

use super::{Backend, DbSettings};

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
}
