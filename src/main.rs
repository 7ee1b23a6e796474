//! The `todo-api` binary: serve, migrate, or print the spec.

use clap::{Parser, Subcommand};
use todo_api::app::App;
use todo_api::config::Config;
use todo_api::store::Pool;

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
    let config = Config::from_env()?;
    match command {
        Command::Openapi => unreachable!("handled above"),
        Command::Serve => {
            todo_api::telemetry::init(&config);
            let app = App::build(config).await?;
            tracing::info!(port = app.port(), "listening");
            app.run(shutdown_signal()).await?;
            tracing::info!("shut down");
        }
        Command::Migrate { action } => {
            let pool = Pool::connect(&config.database_url, 1).await?;
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
