//! Several instances on one PostgreSQL database: two `todo-api` processes behind an
//! imagined load balancer share every piece of state that decides a request (sessions,
//! revocations, refresh-token rotation, the auth rate limit), and start-up migrations run
//! once however many instances start together. PostgreSQL only: SQLite serves one
//! instance (its rate limit stays in process; see the README).

use client_sdk::types::{self, ErrorCode};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::mail::sink::SmtpSink;
use crate::mail::{eventually, mail_env, APP_URL};
use crate::operations::process::ServerProcess;
use crate::sdk_helpers::*;

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

async fn count(db: &TestDatabase, sql: &str) -> i64 {
    count_on(&db.pool().await, sql).await
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn logout_on_one_instance_refuses_the_token_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (_, tokens) = sdk_user(&a).await;
    // The token from A works on B (and B has checked, and cached, it).
    let me = me_ok(&b, &tokens.access_token).await;
    let logout = types::LogoutRequest::builder().refresh_token(None);
    let bye = bearer(&a, &tokens.access_token)
        .logout()
        .body(logout)
        .send()
        .await;
    expect_ok(bye, StatusCode::OK);
    me_refused(&b, &tokens.access_token, ErrorCode::Auth004).await;
    refresh_refused(&b, &tokens.refresh_token, ErrorCode::Auth004).await;
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
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn password_change_on_one_instance_refuses_every_token_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (email, first) = sdk_user(&a).await;
    let second = sdk_login(&b, &email, STRONG_PASSWORD).await;
    for access in [&first.access_token, &second.access_token] {
        me_ok(&b, access).await;
    }
    let change = change_password_body(STRONG_PASSWORD, "Battery#Staple7");
    let changed = bearer(&a, &second.access_token)
        .change_password()
        .body(change)
        .send()
        .await;
    expect_ok(changed, StatusCode::OK);
    for access in [&first.access_token, &second.access_token] {
        me_refused(&b, access, ErrorCode::Auth004).await;
    }
    let old = anonymous(&b)
        .login()
        .body(login_body(&email, STRONG_PASSWORD))
        .send()
        .await;
    expect_error(old, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    let fresh = sdk_login(&b, &email, "Battery#Staple7").await;
    me_ok(&a, &fresh.access_token).await;
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn ending_a_session_on_one_instance_refuses_it_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (email, doomed) = sdk_user(&a).await;
    let kept = sdk_login(&b, &email, STRONG_PASSWORD).await;
    // B checks (and caches) the session it is about to hear is ended.
    me_ok(&b, &doomed.access_token).await;
    let ended = bearer(&a, &kept.access_token)
        .delete_session()
        .id(session_id(&doomed.access_token))
        .send()
        .await;
    expect_ok(ended, StatusCode::NO_CONTENT);
    me_refused(&b, &doomed.access_token, ErrorCode::Auth004).await;
    refresh_refused(&b, &doomed.refresh_token, ErrorCode::Auth004).await;
    me_ok(&b, &kept.access_token).await;
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn deleting_the_account_on_one_instance_refuses_its_tokens_on_the_other() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (email, first) = sdk_user(&a).await;
    let second = sdk_login(&b, &email, STRONG_PASSWORD).await;
    // Both instances check (and cache) both sessions.
    for server in [&a, &b] {
        for t in [&first, &second] {
            me_ok(server, &t.access_token).await;
        }
    }
    let body = types::DeleteAccountRequest::builder().password(STRONG_PASSWORD);
    let deleted = bearer(&a, &first.access_token)
        .delete_me()
        .body(body)
        .send()
        .await;
    expect_ok(deleted, StatusCode::NO_CONTENT);
    for t in [&first, &second] {
        me_refused(&b, &t.access_token, ErrorCode::Auth007).await;
        refresh_refused(&b, &t.refresh_token, ErrorCode::Auth007).await;
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sessions").await, 0);
}

/// Two instances draining one outbox deliver every message exactly once, and neither
/// logs a token of the links they sent.
#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn two_instances_deliver_each_message_once() {
    let Some(db) = postgres().await else { return };
    let sink = SmtpSink::start().await;
    let env = mail_env(&sink);
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("LOG_LEVEL", "debug"));
    let (a, b) = pair(&db, &vars).await;
    let mut emails = vec![];
    for i in 0..20 {
        let server = if i % 2 == 0 { &a } else { &b };
        emails.push(sdk_user(server).await.0);
    }
    let got = sink.wait_for(20).await;
    let pool = db.pool().await;
    let sent = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL";
    let pool_ref = &pool;
    eventually("every row marked sent", || async move {
        count_on(pool_ref, sent).await == 20
    })
    .await;
    let received = sink.received();
    assert_eq!(received.len(), 20, "no message twice: {received:?}");
    for email in &emails {
        let to_it = got.iter().filter(|m| m.is_to(email)).count();
        assert_eq!(to_it, 1, "{email}");
    }
    let once = count_on(&pool, "SELECT COUNT(*) FROM outbox WHERE attempts = 1").await;
    assert_eq!(once, 20, "one attempt each");
    let output = format!("{}\n{}", a.output_text(), b.output_text());
    for m in &got {
        let token = m.link_token(APP_URL, "/verify-email");
        assert!(!output.contains(&token), "a token was logged");
    }
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn refresh_token_reuse_is_detected_across_instances() {
    let Some(db) = postgres().await else { return };
    let (a, b) = pair(&db, &[]).await;
    let (_, original) = sdk_user(&a).await;
    let rotated = sdk_refresh(&b, &original.refresh_token).await;
    // B checks (and caches) the new access token.
    me_ok(&b, &rotated.access_token).await;
    // Replaying the first refresh token on A: reuse, and the whole session is revoked.
    refresh_refused(&a, &original.refresh_token, ErrorCode::Auth004).await;
    me_refused(&b, &rotated.access_token, ErrorCode::Auth004).await;
    refresh_refused(&b, &rotated.refresh_token, ErrorCode::Auth004).await;
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn the_auth_rate_limit_counts_requests_on_every_instance() {
    let Some(db) = postgres().await else { return };
    // Both instances sit behind a "load balancer" at 127.0.0.1 that names the client.
    let vars = [
        ("AUTH_RATE_LIMIT_PER_MINUTE", "4"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let (a, b) = pair(&db, &vars).await;
    let email = &unique_email();
    let attempt = |server, client: &'static str| async move {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", client.parse().expect("a header value"));
        let wrong = login_body(email, "Wrong#Horse9");
        with_headers(server, headers)
            .login()
            .body(wrong)
            .send()
            .await
    };
    // Four attempts, alternating between the instances, use up the client's bucket ...
    for server in [&a, &b, &a, &b] {
        let resp = attempt(server, "203.0.113.5").await;
        expect_error(resp, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    }
    // ... so the fifth is refused by whichever instance gets it ...
    for server in [&a, &b] {
        let resp = attempt(server, "203.0.113.5").await;
        let refused =
            expect_error_response(resp, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        let retry_after: u64 = header(&refused, "retry-after")
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    }
    // ... while another client behind the same proxy has a bucket of its own.
    let other = attempt(&b, "198.51.100.7, 203.0.113.6").await;
    expect_error(other, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    let pool = db.pool().await;
    let keys: Vec<String> = on_pool!(&pool, |p| sqlx::query_scalar(
        // The per-account limits (`login:…`, `pw:…`) share the table.
        "SELECT key FROM rate_limits WHERE key NOT LIKE '%:%' ORDER BY key"
    )
    .fetch_all(p)
    .await)
    .expect("read the buckets");
    assert_eq!(
        keys,
        ["203.0.113.5", "203.0.113.6"],
        "one shared bucket per client"
    );
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
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
    let (_, tokens) = sdk_user(&a).await;
    me_ok(&b, &tokens.access_token).await;
}
