//! The session cache's listener on a connection that dies silently (PostgreSQL only):
//! two instances on one database, instance B's `LISTEN` connection through a
//! [`FaultProxy`] that stops forwarding without closing anything (a half-open
//! connection). A logout on instance A must be honoured by B within the bound the
//! README states, because B's cache answers only while its listener proves it is live.

use std::time::Duration;

use client_sdk::types::{self, ErrorCode};
use reqwest::{StatusCode, Url};

use super::proxy::FaultProxy;
use crate::helpers::*;
use crate::operations::process::ServerProcess;
use crate::sdk_helpers::*;

/// Overall wait for B to refuse the token, far above the stated bound (2 s), well
/// below what a listener without a liveness proof takes to notice (~27 s).
const GENEROUS: Duration = Duration::from_secs(10);

/// `session_cache_live` of `server` (1: the cache may answer).
async fn cache_live(server: &ServerProcess) -> Option<f64> {
    // Raw: `/metrics` is not an operation of the spec.
    let text = http_client()
        .get(server.url("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("session_cache_live "))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls `check` until it holds, failing the test after [`GENEROUS`].
async fn eventually<F, Fut>(what: &str, server: &ServerProcess, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let polled = tokio::time::timeout(GENEROUS, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        polled.is_ok(),
        "{what}: not within {GENEROUS:?}\n{}",
        server.output_text()
    );
}

#[tokio::test]
async fn a_logout_is_honoured_by_an_instance_whose_listener_went_silent() {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping");
        return;
    }
    let db = TestDatabase::create(Backend::Postgres).await;
    let mut url = Url::parse(&db.url).unwrap();
    let upstream = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .expect("the Postgres address resolves");
    let proxy = FaultProxy::start(upstream).await;
    url.set_port(Some(proxy.port())).unwrap();
    let a = ServerProcess::start(&[("DATABASE_URL", db.url.as_str())]).await;
    let b = ServerProcess::start(&[
        ("DATABASE_URL", db.url.as_str()),
        ("DATABASE_LISTEN_URL", url.as_str()),
    ])
    .await;
    assert!(proxy.accepted() >= 1, "B listens through the proxy");
    eventually("B's cache is live", &b, || async {
        cache_live(&b).await == Some(1.0)
    })
    .await;
    let (_, tokens) = sdk_user(&a).await;
    // B checks the token in the database and caches its session.
    me_ok(&b, &tokens.access_token).await;
    me_ok(&b, &tokens.access_token).await;

    proxy.freeze();
    let logout = types::LogoutRequest::builder().refresh_token(None);
    let bye = bearer(&a, &tokens.access_token)
        .logout()
        .body(logout)
        .send()
        .await;
    expect_ok(bye, StatusCode::OK);
    let access = tokens.access_token.clone();
    eventually("B refuses the logged-out token", &b, || {
        let access = access.clone();
        let b = &b;
        async move {
            match bearer(b, &access).get_me().send().await {
                Ok(_) => false,
                Err(client_sdk::Error::ErrorResponse(r))
                    if r.status() == StatusCode::UNAUTHORIZED =>
                {
                    assert_eq!(r.error_code, ErrorCode::Auth004, "{r:?}");
                    true
                }
                Err(e) => panic!("B: {e:?}"),
            }
        }
    })
    .await;
    // The listener cannot prove itself through the frozen proxy: B says so.
    assert_eq!(cache_live(&b).await, Some(0.0), "{}", b.output_text());
    // Other tokens still work on B (checked in the database).
    let (_, other) = sdk_user(&a).await;
    me_ok(&b, &other.access_token).await;
}
