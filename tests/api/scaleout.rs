//! Several instances on one PostgreSQL database: two `todo-api` processes behind an
//! imagined load balancer share every piece of state that decides a request (sessions,
//! revocations, refresh-token rotation, the auth rate limit), and start-up migrations run
//! once however many instances start together. PostgreSQL only: SQLite serves one
//! instance (its rate limit stays in process; see the README).

use client_sdk::types::{self, ErrorCode};
use client_sdk::{authenticated_client, Client, Error, ResponseValue};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::operations::process::ServerProcess;

type SdkResult<T> = Result<ResponseValue<T>, Error<types::ErrorBody>>;

/// A fresh Postgres database, or `None` when `SKIP_POSTGRES=1`.
async fn postgres() -> Option<TestDatabase> {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping a scale-out test");
        return None;
    }
    Some(TestDatabase::create(Backend::Postgres).await)
}

/// Instance A, then instance B, over `db` (A migrates it); `vars` go to both.
async fn pair(db: &TestDatabase, vars: &[(&str, &str)]) -> (ServerProcess, ServerProcess) {
    let mut env = vec![("DATABASE_URL", db.url.as_str())];
    env.extend_from_slice(vars);
    let a = ServerProcess::start(&env).await;
    let b = ServerProcess::start(&env).await;
    (a, b)
}

fn anonymous(server: &ServerProcess) -> Client {
    Client::new_with_client(&server.base_url, http_client())
}

fn bearer(server: &ServerProcess, access: &str) -> Client {
    authenticated_client(&server.base_url, access).expect("an authenticated client")
}

#[track_caller]
fn ok<T: std::fmt::Debug>(result: SdkResult<T>) -> T {
    match result {
        Ok(resp) => resp.into_inner(),
        Err(e) => panic!("expected success, got {e:?}"),
    }
}

#[track_caller]
fn refused<T: std::fmt::Debug>(result: SdkResult<T>, status: StatusCode, code: ErrorCode) {
    match result {
        Err(Error::ErrorResponse(resp)) => {
            assert_eq!(resp.status(), status, "{resp:?}");
            assert_eq!(resp.error_code, code, "{resp:?}");
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

/// Registers a user on `server` and logs in on it.
async fn user_on(server: &ServerProcess) -> (String, types::TokenPair) {
    let email = unique_email();
    let anon = anonymous(server);
    let req = types::RegisterRequest::builder()
        .email(email.as_str())
        .password(STRONG_PASSWORD);
    ok(anon.register().body(req).send().await);
    let tokens = login_on(server, &email, STRONG_PASSWORD).await;
    (email, tokens)
}

async fn login_on(server: &ServerProcess, email: &str, password: &str) -> types::TokenPair {
    let req = types::LoginRequest::builder()
        .email(email)
        .password(password);
    ok(anonymous(server).login().body(req).send().await)
}

async fn count(db: &TestDatabase, sql: &str) -> i64 {
    let pool = db.pool().await;
    on_pool!(&pool, |p| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn logout_on_one_instance_refuses_the_token_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (_, tokens) = user_on(&a).await;
    // The token from A works on B (and B has just checked it once).
    let me = ok(bearer(&b, &tokens.access_token).get_me().send().await);
    let logout = types::LogoutRequest::builder().refresh_token(None);
    ok(bearer(&a, &tokens.access_token)
        .logout()
        .body(logout)
        .send()
        .await);
    refused(
        bearer(&b, &tokens.access_token).get_me().send().await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Auth004,
    );
    let refresh = types::RefreshRequest::builder().refresh_token(tokens.refresh_token.as_str());
    refused(
        anonymous(&b).refresh_token().body(refresh).send().await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Auth004,
    );
    let live = format!(
        "SELECT COUNT(*) FROM sessions WHERE user_id = '{}' AND revoked_at IS NULL",
        me.id
    );
    assert_eq!(
        count(&db, &live).await,
        0,
        "the session is revoked in the shared database"
    );
}

#[tokio::test]
async fn password_change_on_one_instance_refuses_every_token_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (email, first) = user_on(&a).await;
    let second = login_on(&b, &email, STRONG_PASSWORD).await;
    for access in [&first.access_token, &second.access_token] {
        ok(bearer(&b, access).get_me().send().await);
    }
    let change = types::ChangePasswordRequest::builder()
        .current_password(STRONG_PASSWORD)
        .new_password("Battery#Staple7");
    ok(bearer(&a, &second.access_token)
        .change_password()
        .body(change)
        .send()
        .await);
    for access in [&first.access_token, &second.access_token] {
        refused(
            bearer(&b, access).get_me().send().await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth004,
        );
    }
    let req = types::LoginRequest::builder()
        .email(email.as_str())
        .password(STRONG_PASSWORD);
    refused(
        anonymous(&b).login().body(req).send().await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Auth001,
    );
    let fresh = login_on(&b, &email, "Battery#Staple7").await;
    ok(bearer(&a, &fresh.access_token).get_me().send().await);
}

#[tokio::test]
async fn refresh_token_reuse_is_detected_across_instances() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (_, original) = user_on(&a).await;
    let rotate = |token: &str| types::RefreshRequest::builder().refresh_token(token);
    let rotated = ok(anonymous(&b)
        .refresh_token()
        .body(rotate(&original.refresh_token))
        .send()
        .await);
    // B checks (and caches) the new access token.
    ok(bearer(&b, &rotated.access_token).get_me().send().await);
    // Replaying the first refresh token on A: reuse, and the whole session is revoked.
    refused(
        anonymous(&a)
            .refresh_token()
            .body(rotate(&original.refresh_token))
            .send()
            .await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Auth004,
    );
    refused(
        bearer(&b, &rotated.access_token).get_me().send().await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Auth004,
    );
    refused(
        anonymous(&b)
            .refresh_token()
            .body(rotate(&rotated.refresh_token))
            .send()
            .await,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Auth004,
    );
}

#[tokio::test]
async fn the_auth_rate_limit_counts_requests_on_every_instance() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[("AUTH_RATE_LIMIT_PER_MINUTE", "4")]).await;
    let email = unique_email();
    let attempt = || {
        types::LoginRequest::builder()
            .email(email.as_str())
            .password("Wrong#Horse9")
    };
    // Four attempts, alternating between the instances, use up the client's bucket ...
    for server in [&a, &b, &a, &b] {
        refused(
            anonymous(server).login().body(attempt()).send().await,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Auth001,
        );
    }
    // ... so the fifth is refused by whichever instance gets it.
    for server in [&a, &b] {
        let resp = http_client()
            .post(server.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": "Wrong#Horse9"}))
            .send()
            .await
            .expect("request sent");
        let retry_after: u64 = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After in seconds");
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
        assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_001").await;
    }
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM rate_limits").await,
        1,
        "one shared bucket for the client"
    );
}

#[tokio::test]
async fn instances_started_together_migrate_the_database_once() {
    let Some(db) = postgres().await else { return };
    let env = [("DATABASE_URL", db.url.as_str())];
    let (a, b) = tokio::join!(ServerProcess::start(&env), ServerProcess::start(&env));
    for server in [&a, &b] {
        let health = http_client()
            .get(server.url("/health"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(health.status(), StatusCode::OK, "{}", server.output_text());
    }
    let expected = Backend::Postgres
        .migrator()
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count();
    let applied = count(&db, "SELECT COUNT(*) FROM _sqlx_migrations WHERE success").await;
    assert_eq!(
        applied, expected as i64,
        "every migration applied, each once"
    );
    // Both work on the one schema.
    let (_, tokens) = user_on(&a).await;
    ok(bearer(&b, &tokens.access_token).get_me().send().await);
}
