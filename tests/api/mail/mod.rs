//! Mail: password reset and email verification followed through real SMTP (a sink in
//! this binary, [`sink`]), delivery while the server is down, `.eml` files, and two
//! instances draining one outbox.

mod delivery;
mod flows;
pub mod message;
pub mod sink;

use std::future::Future;
use std::time::Duration;

use crate::helpers::*;
use sink::{SmtpSink, MAIL_WAIT};

/// The frontend the test servers' links point at.
pub const APP_URL: &str = "https://app.test";

/// The settings of a server delivering to `sink` (retries after 1 s, then 2 s, …).
pub fn mail_env(sink: &SmtpSink) -> Vec<(&'static str, String)> {
    vec![
        ("SMTP_URL", sink.url()),
        ("APP_URL", APP_URL.to_owned()),
        ("MAIL_RETRY_BASE_SECONDS", "1".to_owned()),
        ("MAIL_FROM", "Todo Tests <tests@todo.test>".to_owned()),
    ]
}

/// A server on `backend` delivering to `sink`, with `extra` settings.
pub async fn mail_app(backend: Backend, sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let env = mail_env(sink);
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    TestApp::spawn_with(backend, &vars).await
}

/// Polls `check` until it holds (bounded by [`MAIL_WAIT`]): for what happens in the
/// background with no event a test can wait on (a worker's attempt, a spawned lookup).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + MAIL_WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {MAIL_WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The value of the sample `series` (name and labels as `/metrics` prints them).
pub async fn metric(app: &impl Served, series: &str) -> f64 {
    let text = http_client()
        .get(format!("{}/metrics", app.base_url()))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("a body");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

/// A count over the test database.
pub async fn rows(app: &TestApp, sql: &str) -> i64 {
    app.count(sql).await
}
