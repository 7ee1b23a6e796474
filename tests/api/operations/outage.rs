//! A database outage through a TCP proxy (Postgres): every request fails with 503
//! SERVER_001 (never a 500), the circuit breaker opens and then refuses without
//! reaching for the database, readiness says so, and the same server recovers once the
//! database is back, without losing an acknowledged write.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use client_sdk::types::HealthStatus;
use reqwest::{StatusCode, Url};
use tokio::sync::watch;
use uuid::Uuid;

use super::metrics::{db_calls, scalar, scrape};
use super::proxy::FaultProxy;
use super::{assert_unavailable, create, created_id, new_user, within, User, HANG};
use crate::helpers::*;
use crate::sdk_helpers::*;

/// Creates todos for `client` until told to stop (and it has seen the outage); every
/// answer must be 201 or 503 SERVER_001. Publishes the number of acknowledged creates;
/// returns their ids and the number of refusals.
fn spawn_writer(
    client: client_sdk::Client,
    stop: Arc<AtomicBool>,
    acks: watch::Sender<usize>,
) -> tokio::task::JoinHandle<(Vec<Uuid>, usize)> {
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut refused = 0;
        for i in 0..5_000 {
            if stop.load(Ordering::Relaxed) && refused > 0 {
                break;
            }
            match create(&client, &format!("w{i}")).await {
                Ok(resp) => {
                    acked.push(created_id(Ok(resp)));
                    acks.send_replace(acked.len());
                }
                refusal => {
                    assert_unavailable(refusal, "writer");
                    refused += 1;
                    // Pacing only: a refused writer need not hammer the server.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        (acked, refused)
    })
}

/// A writer of a new user that has had three writes acknowledged.
async fn busy_writer(
    app: &TestApp,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<Uuid>, usize)> {
    let user = new_user(app).await;
    let (acks, mut acked) = watch::channel(0);
    let writer = spawn_writer(user.client, stop, acks);
    let progress = within(acked.wait_for(|n| *n >= 3)).await;
    progress.expect("the writer acknowledged three writes");
    writer
}

/// One request of the mixed traffic sent while the database is away: a 503 SERVER_001.
async fn outage_request(app: &TestApp, user: &User, i: usize) {
    let c = &user.client;
    match i % 5 {
        0 => assert_unavailable(create(c, "during outage").await, "create todo"),
        1 => assert_unavailable(within(c.list_todos().send()).await, "list todos"),
        2 => assert_unavailable(within(c.get_me().send()).await, "me"),
        3 => {
            let login = login_body(&user.email, STRONG_PASSWORD);
            let resp = within(anonymous(app).login().body(login).send()).await;
            assert_unavailable(resp, "login");
        }
        _ => {
            let resp = within(c.get_todo().id(Uuid::new_v4()).send()).await;
            assert_unavailable(resp, "get todo");
        }
    }
}

/// Sends outage traffic until a refusal reached no database (the breaker is open);
/// returns how many requests that took.
async fn until_breaker_opens(app: &TestApp, user: &User) -> usize {
    for i in 0..20 {
        let calls = db_calls(app).await;
        outage_request(app, user, i).await;
        if db_calls(app).await == calls {
            return i + 1;
        }
    }
    panic!("the circuit breaker never opened: 20 refusals all reached for the database");
}

/// With the breaker open, refusals do not reach for the database; only a half-open
/// probe (one per 2 s cool-down) does. Returns (requests sent, store calls made).
async fn while_breaker_open(app: &TestApp, user: &User) -> (usize, f64) {
    let calls = db_calls(app).await;
    let sent = 40;
    for i in 0..sent {
        outage_request(app, user, i).await;
    }
    let reached = db_calls(app).await - calls;
    assert!(
        reached * 4.0 <= sent as f64,
        "{reached} store calls for {sent} refusals: the open breaker let them through"
    );
    (sent, reached)
}

/// `db_circuit_breaker_state` as (closed, half_open, open).
async fn breaker_gauge(app: &TestApp) -> (f64, f64, f64) {
    let (text, scrape) = scrape(app).await;
    let state = |s| {
        scalar(&scrape, "db_circuit_breaker_state", &[("state", s)])
            .unwrap_or_else(|| panic!("no db_circuit_breaker_state{{state={s:?}}}:\n{text}"))
    };
    (state("closed"), state("half_open"), state("open"))
}

/// Readiness names the failing checks; liveness does not depend on the database.
async fn check_unready(app: &TestApp) {
    let health = within(anonymous(app).get_health().send()).await;
    let Err(client_sdk::Error::ErrorResponse(health)) = health else {
        panic!("readiness during the outage: {health:?}");
    };
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = health.into_inner();
    assert_eq!(health.status, HealthStatus::Unhealthy, "{health:?}");
    assert!(!health.checks.database, "{health:?}");
    assert!(!health.checks.token_revocation, "{health:?}");
    let live = within(anonymous(app).get_liveness().send()).await;
    assert_eq!(live.expect("alive").status(), StatusCode::OK);
}

/// Polls readiness until it is 200 again (bounded). The breaker's cool-down is a timer,
/// so there is no event to wait for; the poll checks the answer each time.
async fn until_ready(app: &TestApp) -> usize {
    let deadline = tokio::time::Instant::now() + 4 * HANG;
    for polls in 1.. {
        match within(anonymous(app).get_health().send()).await {
            Ok(ready) => {
                assert_eq!(ready.into_inner().status, HealthStatus::Healthy);
                return polls;
            }
            Err(client_sdk::Error::ErrorResponse(r)) => {
                assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            }
            Err(e) => panic!("readiness after the restore: {e:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready {:?} after the database came back",
            4 * HANG
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!("the poll returns or fails")
}

/// The ids of `acked` that are not in the database (read directly, not through the proxy).
async fn lost(app: &TestApp, acked: &[Uuid]) -> Vec<Uuid> {
    let stored: Vec<Uuid> = match &app.db {
        todo_api::db::Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT id FROM todos WHERE id = ANY($1)")
                .bind(acked)
                .fetch_all(p)
                .await
                .unwrap()
        }
        todo_api::db::Pool::Sqlite(_) => unreachable!("a Postgres test"),
    };
    let stored: HashSet<Uuid> = stored.into_iter().collect();
    acked
        .iter()
        .filter(|id| !stored.contains(id))
        .copied()
        .collect()
}

/// A server whose database connections go through a [`FaultProxy`] (production
/// defaults: 1 s acquire timeout, breaker opens after 5 failures for 2 s).
async fn behind_proxy() -> (TestApp, FaultProxy) {
    let database = TestDatabase::create(Backend::Postgres).await;
    let mut url = Url::parse(&database.url).unwrap();
    let upstream = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .expect("the Postgres address resolves");
    let proxy = FaultProxy::start(upstream).await;
    url.set_port(Some(proxy.port())).unwrap();
    let app = TestApp::spawn_on(database, &[("DATABASE_URL", url.as_str())]).await;
    (app, proxy)
}

#[tokio::test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
async fn database_outage_fails_fast_with_503_and_recovers_without_restart() {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping");
        return;
    }
    let (app, proxy) = behind_proxy().await;
    let user = new_user(&app).await;
    let mut acked: Vec<Uuid> = Vec::new();
    for i in 0..5 {
        acked.push(created_id(
            create(&user.client, &format!("before {i}")).await,
        ));
    }

    // A writer is busy when the cut comes, so some writes are in flight at that moment.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = busy_writer(&app, stop.clone()).await;
    proxy.cut().await;
    let opened_after = until_breaker_opens(&app, &user).await;
    let (sent, reached) = while_breaker_open(&app, &user).await;
    // Open, or half-open while its probe is out: never closed while the database is away.
    let (closed, half_open, open) = breaker_gauge(&app).await;
    assert_eq!(
        (closed, half_open + open),
        (0.0, 1.0),
        "breaker gauge in the outage"
    );
    check_unready(&app).await;
    stop.store(true, Ordering::Relaxed);
    let (writer_acked, writer_refused) = writer.await.expect("the writer did not panic");
    assert!(writer_refused >= 1, "the writer saw the outage");
    acked.extend(writer_acked.iter().copied());

    // Restore: the same server recovers by itself.
    proxy.restore().await;
    let polls = until_ready(&app).await;
    acked.push(created_id(create(&user.client, "after").await));
    assert_eq!(breaker_gauge(&app).await, (1.0, 0.0, 0.0), "closed again");
    let relogin = sdk_login(&app, &user.email, STRONG_PASSWORD).await;
    assert_eq!(me_ok(&app, &relogin.access_token).await.id, user.id);

    let missing = lost(&app, &acked).await;
    assert!(
        missing.is_empty(),
        "acknowledged todos missing from the database: {missing:?}"
    );
    eprintln!(
        "outage: breaker open after {opened_after} refusals; then {reached} store calls for \
         {sent} refusals; ready after {polls} polls; {} writes acknowledged ({} by the writer, \
         which saw {writer_refused} refusals); proxy accepted {} connections",
        acked.len(),
        writer_acked.len(),
        proxy.accepted()
    );
}
