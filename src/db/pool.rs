//! The connection pool of either backend, its start-up and its migrations.
//!
//! Start-up failures are explained here, once: which database (the URL with its
//! password redacted), what went wrong, and what to do about it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;

use super::{Backend, DbSettings};

/// The pause between two connection attempts while start-up waits for the database.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Why the first connection failed.
#[derive(Debug)]
enum ConnectFailure {
    /// An attempt got no answer within this long.
    NoAnswer(Duration),
    /// The last attempt's error.
    Error(sqlx::Error),
}

/// Whether an error may go away while the database starts: nothing listens yet, the
/// connection was reset, or PostgreSQL answers "the database system is starting up".
fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(d) => d.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// Opens the pool's first connection. A database that refuses connections, does not
/// answer or is still starting is retried for `DB_CONNECT_WAIT_MS` (a server started
/// next to its database should not lose the race); any other error (bad credentials,
/// unknown database, unopenable file) fails at once. Each attempt is a direct
/// connection, so that the failure names its cause instead of "pool timed out".
async fn first_connection<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    opts: &<DB::Connection as sqlx::Connection>::Options,
    settings: &DbSettings,
) -> Result<(), ConnectFailure> {
    let deadline = Instant::now() + settings.connect_wait;
    let mut announced = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let budget = left.max(settings.acquire_timeout);
        let failure = match tokio::time::timeout(budget, opts.connect()).await {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
                // Keep one connection open in the pool, as before.
                return pool
                    .acquire()
                    .await
                    .map(drop)
                    .map_err(ConnectFailure::Error);
            }
            Ok(Err(e)) if retryable(&e) => ConnectFailure::Error(e),
            Ok(Err(e)) => return Err(ConnectFailure::Error(e)),
            Err(_) => ConnectFailure::NoAnswer(budget),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(failure);
        }
        if !announced {
            let wait_ms = settings.connect_wait.as_millis() as u64;
            tracing::info!(wait_ms, "database not accepting connections yet; retrying");
            announced = true;
        }
        tokio::time::sleep(RETRY_PAUSE.min(left)).await;
    }
}

/// `url` with its password (in the user info or a `password=` parameter) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let mut out = url[..scheme_end].to_owned();
    match authority.rfind('@') {
        Some(at) => {
            let user_info = &authority[..at];
            match user_info.find(':') {
                Some(colon) => {
                    out.push_str(&user_info[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(user_info),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(&redact_query(&url[authority_end..]));
    out
}

/// The path/query/fragment tail of a URL with every `password=` value replaced.
fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match tail[q + 1..].find('#') {
        Some(h) => (&tail[q + 1..q + 1 + h], &tail[q + 1 + h..]),
        None => (&tail[q + 1..], ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}{fragment}", &tail[..q], pairs.join("&"))
}

/// How long start-up waited, for messages.
fn waited(settings: &DbSettings) -> String {
    format!(
        "start-up waited DB_CONNECT_WAIT_MS={} ms for it",
        settings.connect_wait.as_millis()
    )
}

/// An I/O error as a cause: "connection refused" rather than "Connection refused (os error 111)".
fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset".into(),
        std::io::ErrorKind::NotFound => format!("no such socket ({e})"),
        _ => e.to_string(),
    }
}

/// The cause and the fix of a failed PostgreSQL connection.
fn pg_cause_and_fix(
    opts: &PgConnectOptions,
    settings: &DbSettings,
    failure: &ConnectFailure,
) -> (String, String) {
    let (host, port) = (opts.get_host(), opts.get_port());
    let at = format!("{host}:{port}");
    let db = opts.get_database().unwrap_or(opts.get_username());
    let e = match failure {
        ConnectFailure::NoAnswer(t) => {
            let cause = format!("no answer from {at} within {} ms", t.as_millis());
            let fix = format!("Check the host and port in DATABASE_URL, and that no firewall drops the connection; {}", waited(settings));
            return (cause, fix);
        }
        ConnectFailure::Error(e) => e,
    };
    match e {
        sqlx::Error::Io(io) => (io_cause(io), format!("Is PostgreSQL running and listening on {at}? Start it, or correct the host and port in DATABASE_URL; {} (raise it if the database starts slowly)", waited(settings))),
        sqlx::Error::Tls(t) => (format!("TLS: {t}"), "Check sslmode in DATABASE_URL (e.g. ?sslmode=disable for a local server without TLS)".into()),
        sqlx::Error::Database(d) => {
            let fix = match d.code().as_deref() {
                Some("3D000") => format!("Create it: createdb -h {host} -p {port} -U {} {db}", opts.get_username()),
                Some("28P01" | "28000") => "Check the user name and password in DATABASE_URL (and pg_hba.conf on the server)".into(),
                Some("57P03") => format!("The server is still starting; {} (raise it to wait longer)", waited(settings)),
                _ => "See the PostgreSQL server log".into(),
            };
            (d.message().to_owned(), fix)
        }
        other => (other.to_string(), "Check DATABASE_URL".into()),
    }
}

/// A failed PostgreSQL start-up connection, explained.
fn describe_pg(
    url: &str,
    opts: &PgConnectOptions,
    s: &DbSettings,
    f: &ConnectFailure,
) -> anyhow::Error {
    let (cause, fix) = pg_cause_and_fix(opts, s, f);
    anyhow::anyhow!(
        "cannot connect to PostgreSQL at {} (DATABASE_URL): {cause}. {fix}",
        redact_url(url)
    )
}

/// Whether an SQLite URL asks to create a missing file (`mode=rwc`).
fn creates_file(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p == "mode=rwc"))
}

/// What to check when SQLite cannot open `path`.
fn sqlite_fix(url: &str, path: &Path, code: Option<&str>) -> String {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if code == Some("26") {
        return format!(
            "{} is not an SQLite database: point DATABASE_URL at the service's database file",
            path.display()
        );
    }
    if !dir.is_dir() {
        return format!(
            "The directory {} does not exist: create it (mkdir -p {}) or point DATABASE_URL at a file in an existing directory",
            dir.display(),
            dir.display()
        );
    }
    if !path.exists() && !creates_file(url) {
        return format!("The file does not exist, and DATABASE_URL does not ask to create it: add ?mode=rwc (DATABASE_URL=sqlite://{}?mode=rwc)", path.display());
    }
    format!(
        "Check that this process may read and write {} and its directory {} (owner, permissions, read-only file system); ?mode=rwc creates a missing file",
        path.display(),
        dir.display()
    )
}

/// A failed SQLite open, explained.
fn describe_sqlite(url: &str, opts: &SqliteConnectOptions, f: &ConnectFailure) -> anyhow::Error {
    let file = opts.get_filename();
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let (cause, code) = match f {
        ConnectFailure::Error(sqlx::Error::Database(d)) => {
            (d.message().to_owned(), d.code().map(|c| c.into_owned()))
        }
        ConnectFailure::Error(e) => (e.to_string(), None),
        ConnectFailure::NoAnswer(t) => (format!("no answer within {} ms", t.as_millis()), None),
    };
    let fix = sqlite_fix(url, &path, code.as_deref());
    anyhow::anyhow!(
        "cannot open the SQLite database {} (DATABASE_URL={}): {cause}. {fix}",
        path.display(),
        redact_url(url)
    )
}

/// A `DATABASE_URL` the driver refuses to parse.
fn invalid_url(url: &str, e: sqlx::Error) -> anyhow::Error {
    anyhow::anyhow!("DATABASE_URL={} is invalid: {e}", redact_url(url))
}

/// An open connection pool of either backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Pool {
    /// Whether every connection the pool may open is open and checked out: a pool
    /// timeout then means congestion, not an unreachable database.
    pub fn saturated(&self) -> bool {
        match self {
            Pool::Postgres(p) => p.size() >= p.options().get_max_connections() && p.num_idle() == 0,
            Pool::Sqlite(p) => p.size() >= p.options().get_max_connections() && p.num_idle() == 0,
        }
    }

    /// Connects with the default [`DbSettings`] (tools and tests).
    pub async fn connect(url: &str, size: u32) -> anyhow::Result<Self> {
        Self::connect_with(url, size, &DbSettings::default()).await
    }

    /// Connects a pool of at most `size` connections (SQLite: at most 8, in WAL mode).
    /// Acquiring a connection gives up after `acquire_timeout`; on Postgres every
    /// statement is limited by `statement_timeout` (set at connection start-up).
    pub async fn connect_with(url: &str, size: u32, settings: &DbSettings) -> anyhow::Result<Self> {
        match Backend::from_url(url)? {
            Backend::Postgres => Self::connect_pg(url, size, settings).await,
            Backend::Sqlite => Self::connect_sqlite(url, size, settings).await,
        }
    }

    async fn connect_pg(url: &str, size: u32, settings: &DbSettings) -> anyhow::Result<Self> {
        use std::str::FromStr;
        let mut opts = PgConnectOptions::from_str(url).map_err(|e| invalid_url(url, e))?;
        if !settings.statement_timeout.is_zero() {
            let ms = settings.statement_timeout.as_millis().to_string();
            opts = opts.options([("statement_timeout", ms.as_str())]);
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(settings.acquire_timeout)
            // No ping before each use: it doubles the round trips. A dead
            // connection fails its query instead (503, counted by the breaker).
            .test_before_acquire(false)
            .connect_lazy_with(opts.clone());
        first_connection(&pool, &opts, settings)
            .await
            .map_err(|f| describe_pg(url, &opts, settings, &f))?;
        Ok(Pool::Postgres(pool))
    }

    async fn connect_sqlite(url: &str, size: u32, settings: &DbSettings) -> anyhow::Result<Self> {
        use std::str::FromStr;
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| invalid_url(url, e))?
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(settings.sqlite_synchronous)
            .foreign_keys(true)
            .busy_timeout(settings.sqlite_busy_timeout());
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(size.min(8))
            .acquire_timeout(settings.acquire_timeout)
            // No ping before each use: it doubles the round trips. A dead
            // connection fails its query instead (503, counted by the breaker).
            .test_before_acquire(false)
            .connect_lazy_with(opts.clone());
        first_connection(&pool, &opts, settings)
            .await
            .map_err(|f| describe_sqlite(url, &opts, &f))?;
        Ok(Pool::Sqlite(pool))
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

    /// Reverts the newest `steps` applied migrations (all of them when fewer are
    /// applied); returns the versions reverted, newest first.
    pub async fn migrate_down(&self, steps: usize) -> anyhow::Result<Vec<i64>> {
        let applied = self.applied_versions().await?;
        if steps == 0 || applied.is_empty() {
            return Ok(vec![]);
        }
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
        let left = self.applied_versions().await?;
        Ok(applied
            .into_iter()
            .rev()
            .filter(|v| !left.contains(v))
            .collect())
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

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
