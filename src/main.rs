//! The `todo-api` binary: serve, migrate, print the spec, or probe a running server.

use clap::{Parser, Subcommand};
use todo_api::app::App;
use todo_api::config::Config;
use todo_api::db::Pool;

#[derive(Parser)]
#[command(name = "todo-api", version, about = "OpenAPI-first Todo service")]
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
    /// Revert the newest N applied migrations (default 1).
    Down { steps: Option<usize> },
    /// List applied and pending migrations.
    Status,
}

#[tokio::main]
async fn main() {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Err(e) = run(cli.command.unwrap_or(Command::Serve)).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    if let Command::Openapi = command {
        print!("{}", todo_api::openapi::spec_yaml());
        return Ok(());
    }
    if let Command::Healthcheck = command {
        // Reads only HOST, PORT and TLS_CERT_FILE: a probe must not fail on unrelated settings.
        let url = todo_api::healthcheck::run()
            .await
            .map_err(|e| anyhow::anyhow!("healthcheck: {e}"))?;
        println!("healthcheck: {url} answered 200");
        return Ok(());
    }
    if let Command::Migrate { action } = command {
        return migrate(action).await;
    }
    let config = Config::from_env()?;
    match command {
        Command::Openapi | Command::Healthcheck | Command::Migrate { .. } => {
            unreachable!("handled above")
        }
        Command::Serve => {
            // Argon2's working memory (~19 MiB per hash) goes back to the OS after each hash.
            // With GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (the Dockerfile sets it) the fresh
            // block is faulted in as huge pages, which makes this cheaper.
            todo_api::memory::map_large_allocations(1 << 20);
            let _telemetry = todo_api::telemetry::init(&config)?;
            let app = App::build(config).await?;
            tracing::info!(port = app.port(), "listening");
            app.run(shutdown_signal()).await?;
            tracing::info!("shut down");
        }
    }
    Ok(())
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

/// Applies, reverts or lists migrations. Needs only `DATABASE_URL` (no JWT secret).
async fn migrate(action: MigrateAction) -> anyhow::Result<()> {
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| todo_api::config::DEFAULT_DATABASE_URL.to_owned());
    let pool = Pool::connect(&database_url, 1).await?;
    let migrator = pool.backend().migrator();
    match action {
        MigrateAction::Up => pool.migrate_up().await?,
        MigrateAction::Down { steps } => pool.migrate_down(steps.unwrap_or(1)).await?,
        MigrateAction::Status => {}
    }
    let applied = pool.applied_versions().await?;
    for m in migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
    {
        let state = if applied.contains(&m.version) {
            "applied"
        } else {
            "pending"
        };
        println!("{:>4} {:<20} {state}", m.version, m.description);
    }
    Ok(())
}
