//! Operations and reliability: database faults (timeouts, the store's circuit breaker,
//! recovery without a restart, no acknowledged write lost), readiness and liveness,
//! Prometheus metrics, log hygiene and OTLP trace export.
//!
//! The checks are of behaviour (statuses, bodies, database effects, what the metrics
//! and logs record); how fast anything answers belongs to the benchmark. A deadline
//! ([`HANG`]) only keeps a hung request from hanging the test.
//!
//! Log and trace tests run the built binary as a child process: only `main` installs
//! the global subscriber, the OTLP exporter and the signal handlers.

mod dashboard;
mod health;
mod listener;
mod logs;
mod method_label;
mod metrics;
mod otlp;
mod outage;
pub mod process;
mod proxy;
mod saturation;
mod traces;

use std::future::Future;
use std::time::Duration;

use client_sdk::types::{self, ErrorCode};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::*;
use crate::sdk_helpers::*;

/// Hard upper bound of any single request in these tests: reaching it means a hang.
const HANG: Duration = Duration::from_secs(5);

/// `fut`'s output, failing the test if it takes longer than [`HANG`].
async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(HANG, fut)
        .await
        .unwrap_or_else(|_| panic!("no response within {HANG:?}: the request hung"))
}

/// Asserts a 503 SERVER_001 in the error format with a positive `Retry-After`.
#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(result: SdkResult<T>, what: &str) {
    if let Err(client_sdk::Error::ErrorResponse(resp)) = &result {
        let status = resp.status();
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{what}: never a 500 for a database fault"
        );
    }
    let code = ErrorCode::Server001;
    let resp = expect_error_response(result, StatusCode::SERVICE_UNAVAILABLE, code);
    let retry_after = header(&resp, "retry-after").parse::<u64>().ok();
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "{what}: Retry-After in whole seconds, got {retry_after:?}"
    );
}

/// A logged-in user of a [`TestApp`], with an SDK client carrying its token.
struct User {
    id: Uuid,
    email: String,
    client: client_sdk::Client,
}

/// Registers and logs in (two requests, which the metrics test counts).
async fn new_user(app: &TestApp) -> User {
    let (email, tokens) = sdk_user(app).await;
    let sub = claims(&tokens.access_token)["sub"]
        .as_str()
        .map(str::to_owned);
    User {
        id: sub
            .and_then(|s| s.parse().ok())
            .expect("the token names its user"),
        email,
        client: bearer(app, &tokens.access_token),
    }
}

/// `create_todo` with `title`, unchecked, failing on a hang.
async fn create(client: &client_sdk::Client, title: &str) -> SdkResult<types::Todo> {
    let input = types::TodoInput::builder().title(title);
    within(client.create_todo().body(input).send()).await
}

/// The id of a created todo (asserting 201).
#[track_caller]
fn created_id(result: SdkResult<types::Todo>) -> Uuid {
    expect_todo(result, StatusCode::CREATED).id
}
