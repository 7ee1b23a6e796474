//! The `todo-api` binary: serve, migrate, print the spec, or probe a running server.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context;
use clap::{Parser, Subcommand};
use todo_api::app::App;
use todo_api::config::{Config, LogFormat, Lookup, SETTINGS};
use todo_api::db::{DbSettings, Pool};

#[derive(Parser)]
#[command(
    name = "todo-api",
    version,
    about = "OpenAPI-first Todo service",
    after_help = todo_api::config::help_text()
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default): applies pending migrations, then listens.
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI spec (YAML) to stdout.
    Openapi,
    /// Probe a running server: exit 0 if GET /health/live answers 200 within 2 s.
    ///
    /// For container HEALTHCHECKs. Reads HOST and PORT (127.0.0.1 when HOST is 0.0.0.0 or
    /// unset, ::1 when it is ::; port 8000 by default), and TLS_CERT_FILE (then it speaks
    /// TLS, trusting that certificate); exits 1 with a one-line reason on stderr otherwise.
    Healthcheck,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest N applied migrations (default 1), saying which.
    ///
    /// N greater than the number applied is refused (nothing is reverted): use --all.
    Down {
        /// How many of the newest applied migrations to revert.
        #[arg(conflicts_with = "all")]
        steps: Option<usize>,
        /// Revert every applied migration.
        #[arg(long)]
        all: bool,
    },
    /// List applied and pending migrations.
    Status,
}

#[tokio::main]
async fn main() {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Err(e) = run(cli.command.unwrap_or(Command::Serve)).await {
        let _ = writeln!(std::io::stderr(), "error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Openapi => emit(&todo_api::openapi::spec_yaml()),
        Command::Healthcheck => {
            // Reads only HOST, PORT and TLS_CERT_FILE: a probe must not fail on
            // unrelated settings.
            let url = todo_api::healthcheck::run()
                .await
                .map_err(|e| anyhow::anyhow!("healthcheck: {e}"))?;
            emit(&format!("healthcheck: {url} answered 200\n"))
        }
        Command::Migrate { action } => migrate(action).await,
        Command::Serve => serve().await,
    }
}

/// Writes `text` to stdout. A closed pipe (`todo-api openapi | head`) is not an error:
/// the reader has all it wanted.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}

/// The environment, for the tables' [`Lookup`].
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Configures, connects, migrates, binds, and serves until a shutdown signal. Warnings
/// about the configuration are logged only once all of that worked.
async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    // Argon2's working memory (~19 MiB per hash) goes back to the OS after each hash.
    // With GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (the Dockerfile sets it) the fresh
    // block is faulted in as huge pages, which makes this cheaper.
    todo_api::memory::map_large_allocations(1 << 20);
    let _telemetry = todo_api::telemetry::init(&config)?;
    let requested = SocketAddr::new(config.host, config.port);
    let pretty = config.log_format == LogFormat::Pretty;
    let warnings = config.warnings.clone();
    let app = App::build(config)
        .await
        .map_err(|e| explain_bind_error(e, requested))?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    announce(SocketAddr::new(requested.ip(), app.port()), pretty);
    app.run(shutdown_signal()).await?;
    tracing::info!("shut down");
    Ok(())
}

/// Logs `listening` with the bound `address` and the `docs` URL (and, for pretty logs,
/// prints the same as a sentence). An unspecified address (0.0.0.0, ::) is browsed at
/// the loopback address.
fn announce(address: SocketAddr, pretty: bool) {
    let browse = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), address.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), address.port())
        }
        _ => address,
    };
    let docs = format!("http://{browse}/docs");
    tracing::info!(address = %address, port = address.port(), docs = %docs, "listening");
    if pretty {
        let _ = emit(&format!(
            "listening on http://{address} \u{2014} docs at {docs}\n"
        ));
    }
}

/// Explains a failure to bind `addr` (the other start-up errors explain themselves).
fn explain_bind_error(e: anyhow::Error, addr: SocketAddr) -> anyhow::Error {
    use std::io::ErrorKind;
    let Some(kind) = e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) else {
        return e;
    };
    let (cause, fix) = match kind {
        ErrorKind::AddrInUse => (
            "the address is already in use",
            "Another process (perhaps another todo-api) listens there: stop it, or set PORT \
             to a free port (PORT=0 picks one)",
        ),
        ErrorKind::AddrNotAvailable => (
            "this machine has no such address",
            "Set HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for all interfaces)",
        ),
        ErrorKind::PermissionDenied if addr.port() < 1024 => (
            "ports below 1024 need privileges",
            "Set PORT to 1024 or above (e.g. 8000), or grant CAP_NET_BIND_SERVICE",
        ),
        _ => return e,
    };
    anyhow::anyhow!("cannot listen on {addr} (HOST, PORT): {cause}. {fix}")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}

/// Applies, reverts or lists migrations, saying what changed, then lists them all.
/// Needs only `DATABASE_URL` and the database variables (no JWT secret).
async fn migrate(action: MigrateAction) -> anyhow::Result<()> {
    let database_url = Lookup::new(&env_var, SETTINGS).text("DATABASE_URL");
    let settings = DbSettings::from_lookup(env_var)?;
    let pool = Pool::connect_with(&database_url, 1, &settings).await?;
    let mut out = match action {
        MigrateAction::Up => migrate_up(&pool).await?,
        MigrateAction::Down { steps, all } => migrate_down(&pool, steps, all).await?,
        MigrateAction::Status => String::new(),
    };
    let applied = pool.applied_versions().await?;
    for m in ups(&pool) {
        let state = if applied.contains(&m.version) {
            "applied"
        } else {
            "pending"
        };
        out.push_str(&format!("{:>4} {:<20} {state}\n", m.version, m.description));
    }
    emit(&out)
}

/// The backend's forward migrations.
fn ups(pool: &Pool) -> impl Iterator<Item = &'static sqlx::migrate::Migration> {
    let migrator = pool.backend().migrator();
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
}

/// "applied|reverted VERSION DESCRIPTION" lines for `versions`.
fn report(pool: &Pool, verb: &str, versions: &[i64]) -> String {
    versions
        .iter()
        .map(|v| {
            let name = ups(pool)
                .find(|m| m.version == *v)
                .map_or("", |m| &m.description);
            format!("{verb} {v:>4} {name}\n")
        })
        .collect()
}

async fn migrate_up(pool: &Pool) -> anyhow::Result<String> {
    let before = pool.applied_versions().await?;
    pool.migrate_up().await?;
    let after = pool.applied_versions().await?;
    let new: Vec<i64> = after.into_iter().filter(|v| !before.contains(v)).collect();
    if new.is_empty() {
        return Ok("nothing to apply: every migration is applied\n".to_owned());
    }
    Ok(report(pool, "applied", &new))
}

/// Reverts the newest `steps` (default 1) or `all` applied migrations; refuses more
/// steps than are applied.
async fn migrate_down(pool: &Pool, steps: Option<usize>, all: bool) -> anyhow::Result<String> {
    let applied = pool.applied_versions().await?;
    let count = applied.len();
    if count == 0 {
        return Ok("nothing to revert: no migration is applied\n".to_owned());
    }
    let steps = if all { count } else { steps.unwrap_or(1) };
    if steps == 0 {
        return Ok("nothing to revert: 0 steps asked\n".to_owned());
    }
    if steps > count {
        let list: Vec<String> = applied.iter().map(i64::to_string).collect();
        anyhow::bail!(
            "migrate down {steps}: only {count} migration(s) are applied ({}); nothing was \
             reverted. Run `todo-api migrate down {count}` or `todo-api migrate down --all` \
             to revert them all",
            list.join(", ")
        );
    }
    let reverted = pool.migrate_down(steps).await?;
    Ok(report(pool, "reverted", &reverted))
}
