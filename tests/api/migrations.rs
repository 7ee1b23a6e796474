//! Start-up concerns: the schema migrations (up, down, up again) on both backends, and
//! the production configuration check, in-process and through the built binary.

use std::collections::HashMap;
use std::time::Duration;

use todo_api::config::Config;
use todo_api::db::Pool;

use crate::helpers::*;
use crate::sdk_helpers::*;

/// Whether a query on `table` fails (the table does not exist).
async fn table_missing(pool: &Pool, table: &str) -> bool {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    on_pool!(pool, |p| sqlx::query_scalar::<_, i64>(&sql)
        .fetch_one(p)
        .await)
    .is_err()
}

both_backends! {
    async fn migrations_down_and_up_again(backend: Backend) {
        let database = TestDatabase::create(backend).await;
        let pool = database.pool().await;
        let versions: Vec<i64> = backend
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .collect();
        assert!(versions.starts_with(&[1, 2, 3, 4, 5]), "{versions:?}");
        assert_eq!(
            versions,
            Backend::Postgres
                .migrator()
                .iter()
                .filter(|m| !m.migration_type.is_down_migration())
                .map(|m| m.version)
                .collect::<Vec<_>>(),
            "both backends ship the same numbered migrations"
        );

        assert!(
            pool.applied_versions().await.unwrap().is_empty(),
            "a fresh database has none"
        );
        assert!(table_missing(&pool, "users").await);

        pool.migrate_up().await.unwrap();
        assert_eq!(pool.applied_versions().await.unwrap(), versions);
        for table in [
            "users",
            "sessions",
            "revoked_tokens",
            "todos",
            "tags",
            "todo_tags",
            "rate_limits",
            "one_time_tokens",
            "outbox",
        ] {
            assert!(
                !table_missing(&pool, table).await,
                "{table} exists after migrate up"
            );
        }
        // Up again is a no-op.
        pool.migrate_up().await.unwrap();
        assert_eq!(pool.applied_versions().await.unwrap(), versions);

        // Down to 0002: the session details, the credentials version, the session-cache
        // triggers and the rate-limit buckets go, the rest stays.
        pool.migrate_down(versions.len() - 2).await.unwrap();
        assert_eq!(pool.applied_versions().await.unwrap(), [1, 2]);
        assert!(table_missing(&pool, "rate_limits").await);
        assert!(!table_missing(&pool, "todos").await);

        // Another step: the todos schema goes, the auth schema stays.
        pool.migrate_down(1).await.unwrap();
        assert_eq!(pool.applied_versions().await.unwrap(), [1]);
        assert!(table_missing(&pool, "todos").await);
        assert!(table_missing(&pool, "tags").await);
        assert!(!table_missing(&pool, "users").await);

        // All the way down.
        pool.migrate_up().await.unwrap();
        pool.migrate_down(versions.len()).await.unwrap();
        assert!(pool.applied_versions().await.unwrap().is_empty());
        for table in [
            "users",
            "sessions",
            "revoked_tokens",
            "todos",
            "tags",
            "todo_tags",
            "rate_limits",
            "one_time_tokens",
            "outbox",
        ] {
            assert!(
                table_missing(&pool, table).await,
                "{table} is gone after migrating all the way down"
            );
        }
        // Down with nothing applied is harmless.
        pool.migrate_down(1).await.unwrap();
        assert!(pool.applied_versions().await.unwrap().is_empty());

        pool.migrate_up().await.unwrap();
        assert_eq!(pool.applied_versions().await.unwrap(), versions);
        close(pool).await;

        // The app runs on the re-created schema.
        let app = TestApp::spawn_on(database, &[]).await;
        let (_, tokens) = sdk_user(&app).await;
        me_ok(&app, &tokens.access_token).await;
        assert_eq!(app.db.applied_versions().await.unwrap(), versions);
        let health = anonymous(&app).get_health().send().await;
        let health = health.expect("ready").into_inner();
        assert_eq!(health.status, client_sdk::types::HealthStatus::Healthy, "{health:?}");
    }

    async fn app_build_applies_pending_migrations(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let expected: Vec<i64> = backend
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .collect();
        assert_eq!(app.backend, backend);
        assert_eq!(Backend::from_url(&app.database_url).unwrap(), backend);
        assert_eq!(app.db.applied_versions().await.unwrap(), expected);
        // A second connection (another instance) sees the same migrated database.
        let other = Pool::connect(&app.database_url, 1).await.unwrap();
        assert_eq!(other.applied_versions().await.unwrap(), expected);
        close(other).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
    }
}

/// Closes a pool and waits for its connections to go.
async fn close(pool: Pool) {
    match pool {
        Pool::Postgres(p) => p.close().await,
        Pool::Sqlite(p) => p.close().await,
    }
}

fn config_with(vars: &[(&str, &str)]) -> Result<Config, String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned()).map_err(|e| format!("{e:#}"))
}

#[test]
fn production_config_requires_a_long_jwt_secret() {
    let missing = config_with(&[("APP_ENV", "production")]).expect_err("no secret in production");
    assert!(missing.contains("JWT_SECRET_KEY"), "{missing}");
    let blank = config_with(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", "   ")])
        .expect_err("blank secret");
    assert!(blank.contains("JWT_SECRET_KEY"), "{blank}");
    let short = "s".repeat(31);
    let short = config_with(&[("APP_ENV", "production"), ("JWT_SECRET_KEY", &short)])
        .expect_err("31 bytes");
    assert!(short.contains("JWT_SECRET_KEY"), "{short}");
    assert!(
        !short.contains(&"s".repeat(31)),
        "the secret is not echoed: {short}"
    );

    let ok = config_with(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET_KEY", TEST_JWT_SECRET),
        ("SMTP_URL", "smtp://user:mail-secret@mail.example:587"),
        ("APP_URL", "https://todo.example"),
    ])
    .expect("a long secret, and SMTP for the mail flows");
    assert_eq!(ok.jwt_secret.expose(), TEST_JWT_SECRET.as_bytes());
    assert!(
        !format!("{ok:?}").contains(TEST_JWT_SECRET),
        "Debug redacts the secret"
    );
    assert!(
        !format!("{ok:?}").contains("mail-secret"),
        "Debug redacts the SMTP password"
    );
    // Production sends mail over SMTP, unless the mail flows are off.
    let no_smtp = config_with(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET_KEY", TEST_JWT_SECRET),
    ])
    .expect_err("no SMTP_URL in production");
    assert!(no_smtp.contains("SMTP_URL is not set"), "{no_smtp}");
    config_with(&[
        ("APP_ENV", "production"),
        ("JWT_SECRET_KEY", TEST_JWT_SECRET),
        ("MAIL_ENABLED", "false"),
    ])
    .expect("mail flows off");
    // Development tolerates a missing secret.
    config_with(&[("APP_ENV", "development")]).expect("development without a secret");
}

#[tokio::test]
async fn binary_refuses_to_serve_in_production_without_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("never-created.db");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("JWT_SECRET_KEY")
        .env("APP_ENV", "production")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db_path.display()),
        )
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the binary exits promptly instead of serving")
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "exit status {:?}; stderr: {stderr}",
        output.status
    );
    assert!(stderr.contains("JWT_SECRET_KEY"), "stderr: {stderr}");
    assert!(
        !db_path.exists(),
        "the configuration is checked before the database is touched"
    );

    // A short secret is refused the same way.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .arg("serve")
        .current_dir(dir.path())
        .env("JWT_SECRET_KEY", "too-short")
        .env("APP_ENV", "production")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db_path.display()),
        )
        .env("PORT", "0")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "stderr: {stderr}");
    assert!(stderr.contains("JWT_SECRET_KEY"), "stderr: {stderr}");
    assert!(
        !stderr.contains("too-short"),
        "the secret is not echoed: {stderr}"
    );
    assert!(!db_path.exists());
}
