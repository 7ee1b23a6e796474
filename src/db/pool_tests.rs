//! Tests of the pool: URL redaction, SQLite durability settings, start-up errors.

use super::*;

#[test]
fn redact_url_hides_passwords_only() {
    for (url, shown) in [
        (
            "postgres://app:s3cr%40t@db:5432/todo",
            "postgres://app:***@db:5432/todo",
        ),
        ("postgres://app@db/todo", "postgres://app@db/todo"),
        (
            "postgres://db/todo?user=app&password=pw&sslmode=off",
            "postgres://db/todo?user=app&password=***&sslmode=off",
        ),
        ("postgresql://a:b@h", "postgresql://a:***@h"),
        ("sqlite://todo.db?mode=rwc", "sqlite://todo.db?mode=rwc"),
        ("sqlite::memory:", "sqlite::memory:"),
    ] {
        assert_eq!(redact_url(url), shown, "{url}");
    }
}

async fn synchronous_of(url: &str, settings: &DbSettings) -> i64 {
    let Pool::Sqlite(pool) = Pool::connect_with(url, 2, settings).await.unwrap() else {
        unreachable!("an SQLite URL gives an SQLite pool")
    };
    // Two connections at once: every pooled connection has the setting, not just one.
    let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    let sql = "PRAGMA synchronous";
    let x: i64 = sqlx::query_scalar(sql).fetch_one(&mut *a).await.unwrap();
    let y: i64 = sqlx::query_scalar(sql).fetch_one(&mut *b).await.unwrap();
    assert_eq!(x, y);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *a)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    x
}

#[tokio::test]
async fn sqlite_is_synchronous_full_by_default_and_normal_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    assert_eq!(
        synchronous_of(&url, &DbSettings::default()).await,
        2,
        "FULL"
    );
    let env = |k: &str| (k == "SQLITE_SYNCHRONOUS").then(|| "normal".to_owned());
    let normal = DbSettings::from_lookup(env).unwrap();
    assert_eq!(synchronous_of(&url, &normal).await, 1, "NORMAL");
    let env = |k: &str| (k == "SQLITE_SYNCHRONOUS").then(|| "extra".to_owned());
    let extra = DbSettings::from_lookup(env).unwrap();
    assert_eq!(synchronous_of(&url, &extra).await, 3, "EXTRA");
}

async fn connect_error(url: &str) -> String {
    let settings = DbSettings {
        connect_wait: Duration::ZERO,
        ..DbSettings::default()
    };
    let err = Pool::connect_with(url, 1, &settings).await.unwrap_err();
    format!("{err:#}")
}

#[tokio::test]
async fn sqlite_open_failures_name_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("no-such-dir").join("app.db");
    let e = connect_error(&format!("sqlite://{}?mode=rwc", missing_dir.display())).await;
    assert!(e.contains(&missing_dir.display().to_string()), "{e}");
    assert!(
        e.contains("does not exist") && e.contains("mkdir -p"),
        "{e}"
    );
    assert_eq!(e.matches("unable to open database file").count(), 1, "{e}");
    assert!(!e.contains("(code: 14)"), "{e}");

    let missing_file = dir.path().join("app.db");
    let e = connect_error(&format!("sqlite://{}", missing_file.display())).await;
    assert!(e.contains("?mode=rwc") && e.contains("DATABASE_URL"), "{e}");
    assert!(!missing_file.exists());

    std::fs::write(
        &missing_file,
        b"this is not a database, just some text ....",
    )
    .unwrap();
    let e = connect_error(&format!("sqlite://{}", missing_file.display())).await;
    assert!(e.contains("not an SQLite database"), "{e}");
}

#[tokio::test]
async fn unreachable_postgres_is_named_with_the_password_redacted() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/todo");
    let e = connect_error(&url).await;
    let shown = format!("postgres://app:***@127.0.0.1:{port}/todo");
    assert!(e.contains(&shown) && !e.contains("hunter2"), "{e}");
    assert!(
        e.contains("connection refused") && e.contains("DB_CONNECT_WAIT_MS"),
        "{e}"
    );
}
