//! A saturated pool is congestion, not an outage (Postgres): while every connection is
//! busy, requests that cannot get one in time are 503 SERVER_001, but the circuit
//! breaker stays closed, so the service answers again as soon as a connection is free
//! instead of refusing everything for the breaker's cool-down.

use reqwest::StatusCode;
use todo_api::db::Pool;

use super::{assert_unavailable, create, new_user, within};
use crate::helpers::*;
use crate::sdk_helpers::*;

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn a_saturated_pool_does_not_open_the_circuit_breaker() {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping");
        return;
    }
    // One connection, a short wait for it, and a breaker that would stay open for
    // 30 s once opened (5 failures).
    let vars = [
        ("DATABASE_POOL_SIZE", "1"),
        ("DB_ACQUIRE_TIMEOUT_MS", "300"),
        ("DB_STATEMENT_TIMEOUT_MS", "20000"),
        ("DB_BREAKER_FAILURES", "5"),
        ("DB_BREAKER_COOLDOWN_MS", "30000"),
    ];
    let app = TestApp::spawn_with(Backend::Postgres, &vars).await;
    let user = new_user(&app).await;
    let Pool::Postgres(pg) = &app.db else {
        unreachable!("a Postgres test")
    };
    // The test holds a lock on todos: the next create takes the pool's only connection
    // and waits on it.
    let mut lock = pg.begin().await.unwrap();
    sqlx::query("LOCK TABLE todos IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = {
        let client = user.client.clone();
        tokio::spawn(async move { create(&client, "waits for the lock").await })
    };
    // Until that create holds the connection, a list may still get it: wait for refusals.
    let mut refused = 0;
    for _ in 0..50 {
        let waiting = (0..8).map(|_| within(user.client.list_todos().send()));
        for result in futures::future::join_all(waiting).await {
            if result.is_err() {
                assert_unavailable(result, "list while the pool is busy");
                refused += 1;
            }
        }
        if refused >= 8 {
            break;
        }
    }
    assert!(
        refused >= 8,
        "only {refused} requests waited in vain for a connection"
    );
    lock.rollback().await.unwrap();
    expect_todo(blocked.await.unwrap(), StatusCode::CREATED);
    // The connection is free again: the next requests are served, not refused by an
    // open breaker.
    let page = expect_page(within(user.client.list_todos().send()).await);
    assert_eq!(page.total, 1, "{page:?}");
    let health = within(anonymous(&app).get_health().send()).await;
    assert!(health.is_ok(), "readiness after the congestion: {health:?}");
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("db_circuit_breaker_state{state=\"closed\"} 1"),
        "the breaker is not closed"
    );
}
