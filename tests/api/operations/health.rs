//! Readiness and liveness, and a statement stuck behind a lock.

use client_sdk::types::{HealthStatus, LiveStatus};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::metrics::db_calls;
use super::{assert_unavailable, create, created_id, new_user, within};
use crate::helpers::*;
use crate::sdk_helpers::*;

both_backends! {
    /// Liveness does no I/O; readiness reports each check and the version.
    async fn health_live_and_ready(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let live = within(anonymous(&app).get_liveness().send()).await.expect("alive");
        assert_eq!(live.status(), StatusCode::OK);
        assert_eq!(live.into_inner().status, LiveStatus::Alive);

        // Raw: the wire text of the timestamp (UTC, `Z`), which the SDK's typed
        // DateTime hides.
        let ready = within(app.client.get(app.url("/health")).send()).await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "healthy", "{body}");
        // No SMTP_URL nor MAIL_OUTBOX_DIR in the test settings: mail waits in the outbox,
        // which readiness reports without being unready for it.
        let checks = json!({"database": true, "token_revocation": true, "mail": false});
        assert_eq!(body["checks"], checks, "{body}");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"), "{body}");
        let ts = body["timestamp"].as_str().expect("timestamp");
        assert!(ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{body}");
    }

    /// A statement stuck behind a lock gives up after `DB_STATEMENT_TIMEOUT_MS` (Postgres
    /// `statement_timeout`, SQLite busy timeout) with 503 SERVER_001, not a hang and not
    /// a 500, and writes nothing; slow statements do not open the circuit breaker (the
    /// database is there): every attempt reaches the database, and the next write after
    /// the lock is released succeeds.
    async fn a_statement_stuck_on_a_lock_times_out_with_503(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("DB_STATEMENT_TIMEOUT_MS", "300")]).await;
        let user = new_user(&app).await;
        created_id(create(&user.client, "before").await);

        // Another client takes the write lock on todos and keeps it.
        let locker = lock_todos(&app).await;
        // More attempts than the breaker's threshold (5): none may open it.
        for i in 0..6 {
            let calls = db_calls(&app).await;
            assert_unavailable(create(&user.client, &format!("blocked {i}")).await, "create while locked");
            assert!(db_calls(&app).await > calls, "attempt {i} reached the database (the breaker is closed)");
        }
        // The database is reachable meanwhile.
        let ready = within(anonymous(&app).get_health().send()).await.expect("ready");
        assert_eq!(ready.into_inner().status, HealthStatus::Healthy);
        locker.release().await;

        // An open breaker would refuse this at once; a closed one lets it through.
        let id = created_id(create(&user.client, "after").await);
        let sql = "SELECT COUNT(*) FROM todos WHERE id = $1";
        let n: i64 = on_pool!(&app.db, |p| sqlx::query_scalar(sql).bind(id).fetch_one(p).await).unwrap();
        assert_eq!(n, 1);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos WHERE title LIKE 'blocked %'").await, 0);
    }
}

/// A connection of the test holding the write lock on `todos` until released.
enum Locker {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

async fn lock_todos(app: &TestApp) -> Locker {
    use sqlx::Connection;
    match app.backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&app.database_url)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut c).await.unwrap();
            sqlx::query("LOCK TABLE todos IN ACCESS EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            Locker::Postgres(c)
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            Locker::Sqlite(c)
        }
    }
}

impl Locker {
    async fn release(self) {
        use sqlx::Connection;
        match self {
            Locker::Postgres(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
            Locker::Sqlite(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
                c.close().await.unwrap();
            }
        }
    }
}
