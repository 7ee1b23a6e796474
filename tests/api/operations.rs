//! Operations and reliability: database faults (timeouts, the store's circuit breaker,
//! recovery without a restart, no acknowledged write lost), readiness and liveness,
//! Prometheus metrics, log hygiene and OTLP trace export.
//!
//! Log and trace tests run the built binary as a child process: only `main` installs
//! the global subscriber, the OTLP exporter and the signal handlers.

mod method_label;
mod otlp;
pub mod process;
mod proxy;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prom_text_format_parser::{Metric, Sample as PromSample, Scrape, Type as PromType, ValueType};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use otlp::OtlpReceiver;
use process::ServerProcess;
use proxy::FaultProxy;

/// Hard upper bound of any single request in these tests: reaching it means a hang.
const HANG: Duration = Duration::from_secs(5);

/// Sends `req`, failing the test if no response arrives within [`HANG`]; returns the
/// response and how long it took.
async fn timed(req: reqwest::RequestBuilder) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let resp = tokio::time::timeout(HANG, req.send())
        .await
        .unwrap_or_else(|_| panic!("no response within {HANG:?}: the request hung"))
        .expect("request sent");
    (resp, started.elapsed())
}

/// Asserts a 503 SERVER_001 in the error format with a positive `Retry-After`.
async fn assert_unavailable(resp: reqwest::Response, what: &str) {
    let status = resp.status();
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what}: never a 500 for a database fault"
    );
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "SERVER_001").await;
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "{what}: Retry-After in whole seconds, got {retry_after:?}"
    );
}

/// A logged-in user of a [`TestApp`].
struct User {
    id: String,
    email: String,
    access: String,
}

async fn new_user(app: &TestApp) -> User {
    let email = unique_email();
    let resp = app.register(&email, STRONG_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens = app.login(&email, STRONG_PASSWORD).await;
    User {
        id,
        email,
        access: tokens.access,
    }
}

fn create_todo(app: &TestApp, access: &str, title: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/api/v1/todos"))
        .bearer_auth(access)
        .json(&json!({"title": title}))
}

/// The todo id of a 201 create response.
async fn created_id(resp: reqwest::Response) -> Uuid {
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------
// Health, statement timeouts

both_backends! {
    /// Liveness does no I/O; readiness reports each check and the version.
    async fn health_live_and_ready(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (live, _) = timed(app.client.get(app.url("/health/live"))).await;
        assert_eq!(live.status(), StatusCode::OK);
        assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "alive"}));

        let (ready, _) = timed(app.client.get(app.url("/health"))).await;
        assert_eq!(ready.status(), StatusCode::OK);
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body["status"], "healthy", "{body}");
        assert_eq!(body["checks"], json!({"database": true, "token_revocation": true}), "{body}");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"), "{body}");
        let ts = body["timestamp"].as_str().expect("timestamp");
        assert!(ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{body}");
    }

    /// A statement stuck behind a lock gives up after `DB_STATEMENT_TIMEOUT_MS` (Postgres
    /// `statement_timeout`, SQLite busy timeout) with 503 SERVER_001, not a hang and not
    /// a 500; slow statements do not open the circuit breaker (the database is there),
    /// so the next write after the lock is released succeeds at once.
    async fn a_statement_stuck_on_a_lock_times_out_with_503(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("DB_STATEMENT_TIMEOUT_MS", "300")]).await;
        let user = new_user(&app).await;
        created_id(timed(create_todo(&app, &user.access, "before")).await.0).await;

        // Another client takes the write lock on todos and keeps it.
        let locker = lock_todos(&app).await;
        // More attempts than the breaker's threshold (5): none may open it.
        for i in 0..6 {
            let (resp, took) = timed(create_todo(&app, &user.access, &format!("blocked {i}"))).await;
            assert_unavailable(resp, "create while locked").await;
            assert!(took >= Duration::from_millis(250), "waited for the lock ({took:?})");
            assert!(took < Duration::from_secs(3), "gave up after the statement timeout ({took:?})");
        }
        // The database is reachable meanwhile.
        let (ready, _) = timed(app.client.get(app.url("/health"))).await;
        assert_eq!(ready.status(), StatusCode::OK);
        locker.release().await;

        let (resp, took) = timed(create_todo(&app, &user.access, "after")).await;
        let id = created_id(resp).await;
        assert!(took < Duration::from_secs(1), "no breaker delay after the lock ({took:?})");
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

// ---------------------------------------------------------------------------------
// Database outage through a TCP proxy (Postgres)

/// Creates todos in a loop for `user` until told to stop; every answer must be 201 or
/// 503 SERVER_001. Returns the ids whose create was acknowledged with 201.
fn spawn_writer(
    app: &TestApp,
    access: String,
    stop: Arc<AtomicBool>,
    acked_count: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<(Vec<Uuid>, usize)> {
    let client = app.client.clone();
    let url = app.url("/api/v1/todos");
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut refused = 0;
        let started = Instant::now();
        for i in 0..5_000 {
            if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            let req = client
                .post(&url)
                .bearer_auth(&access)
                .json(&json!({"title": format!("w{i}")}));
            let (resp, _) = timed(req).await;
            if resp.status() == StatusCode::CREATED {
                acked.push(created_id(resp).await);
                acked_count.fetch_add(1, Ordering::Relaxed);
            } else {
                assert_unavailable(resp, "writer").await;
                refused += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        (acked, refused)
    })
}

/// One request of the mixed traffic sent while the database is away.
fn outage_request(app: &TestApp, user: &User, i: usize) -> (&'static str, reqwest::RequestBuilder) {
    let c = &app.client;
    match i % 5 {
        0 => (
            "create todo",
            create_todo(app, &user.access, "during outage"),
        ),
        1 => (
            "list todos",
            c.get(app.url("/api/v1/todos")).bearer_auth(&user.access),
        ),
        2 => ("me", c.get(app.auth_url("/me")).bearer_auth(&user.access)),
        3 => (
            "login",
            c.post(app.auth_url("/login"))
                .json(&json!({"email": user.email, "password": STRONG_PASSWORD})),
        ),
        _ => (
            "get todo",
            c.get(app.url(&format!("/api/v1/todos/{}", Uuid::new_v4())))
                .bearer_auth(&user.access),
        ),
    }
}

#[tokio::test]
async fn database_outage_fails_fast_with_503_and_recovers_without_restart() {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping");
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await;
    let mut url = Url::parse(&database.url).unwrap();
    let upstream = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .expect("the Postgres address resolves");
    let proxy = FaultProxy::start(upstream).await;
    url.set_port(Some(proxy.port())).unwrap();
    // Production defaults: 1 s acquire timeout, breaker opens after 5 failures for 2 s.
    let app = TestApp::spawn_on(database, &[("DATABASE_URL", url.as_str())]).await;

    // Normal traffic.
    let user = new_user(&app).await;
    let mut acked: Vec<Uuid> = Vec::new();
    for i in 0..5 {
        acked.push(
            created_id(
                timed(create_todo(&app, &user.access, &format!("before {i}")))
                    .await
                    .0,
            )
            .await,
        );
    }
    let (ready, _) = timed(app.client.get(app.url("/health"))).await;
    assert_eq!(ready.status(), StatusCode::OK);

    // A writer is busy when the cut comes, so some writes are in flight at that moment.
    let writer_user = new_user(&app).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer_acks = Arc::new(AtomicUsize::new(0));
    let writer = spawn_writer(
        &app,
        writer_user.access.clone(),
        stop.clone(),
        writer_acks.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while writer_acks.load(Ordering::Relaxed) < 3 {
        assert!(Instant::now() < deadline, "the writer made no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    proxy.cut().await;
    let cut_at = Instant::now();

    // Phase 1: until the breaker is open (a refusal comes back fast), every request is
    // a 503 SERVER_001 well within the bound.
    let mut first_503_after: Option<Duration> = None;
    let mut slowest = Duration::ZERO;
    let mut opened = false;
    let mut phase1: Vec<String> = vec![];
    for i in 0..20 {
        let (what, req) = outage_request(&app, &user, i);
        let (resp, took) = timed(req).await;
        assert_unavailable(resp, what).await;
        first_503_after.get_or_insert(cut_at.elapsed());
        phase1.push(format!("{what} {}ms", took.as_millis()));
        slowest = slowest.max(took);
        // At most one connection attempt (1 s acquire timeout) per request.
        assert!(
            took < Duration::from_millis(1_800),
            "{what} took {took:?} during the outage"
        );
        if i >= 1 && took < Duration::from_millis(100) {
            opened = true;
            break;
        }
    }
    assert!(opened, "the circuit breaker never started failing fast");
    let open_after = cut_at.elapsed();

    // Phase 2: with the breaker open, refusals are immediate; only the occasional
    // half-open probe waits for the connection attempt.
    let phase2 = Instant::now();
    let (mut fast, mut total, mut fast_max) = (0, 0, Duration::ZERO);
    while phase2.elapsed() < Duration::from_millis(2_500) && total < 400 {
        let (what, req) = outage_request(&app, &user, total);
        let (resp, took) = timed(req).await;
        assert_unavailable(resp, what).await;
        assert!(
            took < Duration::from_secs(3),
            "{what} took {took:?} during the outage"
        );
        slowest = slowest.max(took);
        total += 1;
        if took < Duration::from_millis(100) {
            fast += 1;
            fast_max = fast_max.max(took);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(total >= 20, "only {total} requests in 2.5 s");
    assert!(
        fast * 10 >= total * 8,
        "{fast} of {total} refusals were fast (< 100 ms)"
    );

    // Readiness says so, promptly, with the failing checks named.
    let (health, took) = timed(app.client.get(app.url("/health"))).await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy", "{body}");
    assert_eq!(body["checks"]["database"], false, "{body}");
    assert_eq!(body["checks"]["token_revocation"], false, "{body}");
    assert!(
        took <= Duration::from_millis(2_500),
        "/health took {took:?}"
    );
    let (live, _) = timed(app.client.get(app.url("/health/live"))).await;
    assert_eq!(
        live.status(),
        StatusCode::OK,
        "liveness does not depend on the database"
    );

    stop.store(true, Ordering::Relaxed);
    let (writer_acked, writer_refused) = writer.await.expect("the writer did not panic");
    assert!(writer_refused >= 1, "the writer saw the outage");
    acked.extend(writer_acked.iter().copied());

    // Restore: the same server recovers by itself.
    proxy.restore().await;
    let restored_at = Instant::now();
    let deadline = restored_at + Duration::from_secs(20);
    let mut polls = 0;
    loop {
        polls += 1;
        let (resp, _) = timed(app.client.get(app.url("/health"))).await;
        if resp.status() == StatusCode::OK {
            break;
        }
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            Instant::now() < deadline,
            "not ready 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready_after = restored_at.elapsed();
    let (resp, _) = timed(create_todo(&app, &user.access, "after")).await;
    acked.push(created_id(resp).await);
    let first_write_after = restored_at.elapsed();
    let relogin = app.login(&user.email, STRONG_PASSWORD).await;
    let (me, _) = timed(
        app.client
            .get(app.auth_url("/me"))
            .bearer_auth(&relogin.access),
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["id"], user.id.as_str());

    // No acknowledged write is lost: check the database directly (not through the proxy).
    let stored: Vec<Uuid> = match &app.db {
        todo_api::db::Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT id FROM todos WHERE id = ANY($1)")
                .bind(&acked)
                .fetch_all(p)
                .await
                .unwrap()
        }
        todo_api::db::Pool::Sqlite(_) => unreachable!("a Postgres test"),
    };
    let stored: HashSet<Uuid> = stored.into_iter().collect();
    let missing: Vec<&Uuid> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged todos missing from the database: {missing:?}"
    );

    eprintln!(
        "outage figures: phase 1 {phase1:?}; first 503 {first_503_after:?} after the cut; fail-fast from {open_after:?}; \
         slowest refusal {slowest:?}; fast refusals {fast}/{total} (max {fast_max:?}); \
         ready {ready_after:?} after restore ({polls} polls), first write {first_write_after:?}; \
         {} writes acknowledged ({} by the writer, which saw {writer_refused} refusals); proxy accepted {} connections",
        acked.len(),
        writer_acked.len(),
        proxy.accepted()
    );
}

// ---------------------------------------------------------------------------------
// Prometheus metrics

fn parse_metrics(text: &str) -> Scrape {
    Scrape::parse(text)
        .unwrap_or_else(|e| panic!("not valid Prometheus text format ({e:?}):\n{text}"))
}

fn metric<'a>(scrape: &'a Scrape, name: &str) -> &'a Metric {
    scrape
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn label<'a>(sample: &'a PromSample, key: &str) -> Option<&'a str> {
    sample
        .labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.as_str())
}

/// The value of the one sample of `name` (of the given kind) carrying `labels`.
fn sample_value(
    scrape: &Scrape,
    name: &str,
    kind: ValueType,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let found: Vec<f64> = metric(scrape, name)
        .samples
        .iter()
        .filter(|s| {
            s.value.value_type == kind && labels.iter().all(|(k, v)| label(s, k) == Some(*v))
        })
        .map(|s| s.value.value.as_f64())
        .collect();
    assert!(
        found.len() <= 1,
        "{name}{labels:?} matches {} samples",
        found.len()
    );
    found.first().copied()
}

/// A counter's or gauge's value.
fn scalar(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample_value(scrape, name, ValueType::Sample, labels)
}

/// A histogram's observation count (`_count`), checked against its `+Inf` bucket.
fn histogram_count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    assert_eq!(
        metric(scrape, name).kind,
        PromType::Histogram,
        "{name} is a histogram"
    );
    let count = sample_value(scrape, name, ValueType::Count, labels);
    let mut inf = labels.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        sample_value(scrape, name, ValueType::Sample, &inf),
        count,
        "{name}{labels:?}: +Inf bucket = count"
    );
    count
}

both_backends! {
    /// Known traffic gives exact counts per method, route template and status.
    async fn metrics_count_known_traffic_exactly(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let c = &app.client;
        let user = new_user(&app).await; // register 201, login 200
        assert_eq!(app.login_raw(&user.email, STRONG_PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(app.login_raw(&user.email, "Wrong#Passw0rd").await.status(), StatusCode::UNAUTHORIZED);
        let mut ids = vec![];
        for i in 0..3 {
            ids.push(created_id(create_todo(&app, &user.access, &format!("m{i}")).send().await.unwrap()).await);
        }
        for id in &ids[..2] {
            let r = c.get(app.url(&format!("/api/v1/todos/{id}"))).bearer_auth(&user.access).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        let r = c.get(app.url(&format!("/api/v1/todos/{}", Uuid::new_v4()))).bearer_auth(&user.access).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = c.get(app.url("/api/v1/todos")).bearer_auth(&user.access).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // A well-signed token of a user that does not exist: checked once, refused.
        let ghost = Uuid::new_v4().to_string();
        let forged = sign_valid(&make_claims(&ghost, "ghost@example.com", &Uuid::new_v4().to_string(), "access", 600));
        let r = c.get(app.url("/api/v1/todos")).bearer_auth(&forged).send().await.unwrap();
        assert_error(r, StatusCode::UNAUTHORIZED, "AUTH_007").await;
        for path in ["/no/such/route", &format!("/api/v1/todos/{}/nope", ids[0])] {
            assert_eq!(c.get(app.url(path)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
        }
        assert_eq!(c.get(app.url("/health/live")).send().await.unwrap().status(), StatusCode::OK);

        let resp = c.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain") && ct.contains("version=0.0.4"), "{ct}");
        let text = resp.text().await.unwrap();
        let scrape = parse_metrics(&text);

        let expected: &[(&str, &str, &str, f64)] = &[
            ("POST", "/api/v1/auth/register", "201", 1.0),
            ("POST", "/api/v1/auth/login", "200", 2.0),
            ("POST", "/api/v1/auth/login", "401", 1.0),
            ("POST", "/api/v1/todos", "201", 3.0),
            ("GET", "/api/v1/todos/{id}", "200", 2.0),
            ("GET", "/api/v1/todos/{id}", "404", 1.0),
            ("GET", "/api/v1/todos", "200", 1.0),
            ("GET", "/api/v1/todos", "401", 1.0),
            ("GET", "unmatched", "404", 2.0),
            ("GET", "/health/live", "200", 1.0),
        ];
        for (method, route, status, n) in expected {
            let got = scalar(&scrape, "http_requests_total", &[("method", method), ("route", route), ("status", status)]);
            assert_eq!(got, Some(*n), "http_requests_total{{method={method},route={route},status={status}}}");
        }
        // Nothing else was counted (this scrape counts itself only after rendering).
        let requests = metric(&scrape, "http_requests_total");
        assert_eq!(requests.kind, PromType::Counter);
        let sum: f64 = requests.samples.iter().map(|s| s.value.value.as_f64()).sum();
        assert_eq!(sum, 15.0, "{text}");
        // Route labels are templates or `unmatched`, never raw paths with ids.
        let routes: HashSet<&str> = requests.samples.iter().filter_map(|s| label(s, "route")).collect();
        let templates: HashSet<&str> = expected.iter().map(|e| e.1).collect();
        assert_eq!(routes, templates, "{text}");
        assert!(!text.contains(&ids[0].to_string()), "no id leaks into a label");

        // Auth events.
        assert_eq!(scalar(&scrape, "auth_events_total", &[("event", "login"), ("outcome", "success")]), Some(2.0));
        assert_eq!(scalar(&scrape, "auth_events_total", &[("event", "login"), ("outcome", "failure")]), Some(1.0));
        let auth = metric(&scrape, "auth_events_total");
        assert_eq!(auth.kind, PromType::Counter);
        let events: f64 = auth.samples.iter().map(|s| s.value.value.as_f64()).sum();
        assert_eq!(events, 3.0, "{text}");

        // Latency histograms.
        assert_eq!(histogram_count(&scrape, "http_request_duration_seconds", &[("method", "POST"), ("route", "/api/v1/todos")]), Some(3.0));
        assert_eq!(histogram_count(&scrape, "http_request_duration_seconds", &[("method", "GET"), ("route", "/api/v1/todos/{id}")]), Some(3.0));
        assert_eq!(histogram_count(&scrape, "db_query_duration_seconds", &[("operation", "insert_todo")]), Some(3.0));
        assert_eq!(histogram_count(&scrape, "db_query_duration_seconds", &[("operation", "create_user")]), Some(1.0));
        assert_eq!(histogram_count(&scrape, "db_query_duration_seconds", &[("operation", "user_by_email")]), Some(3.0));
        let sum = sample_value(&scrape, "db_query_duration_seconds", ValueType::Sum, &[("operation", "insert_todo")]);
        assert!(sum.is_some_and(|s| s > 0.0), "{sum:?}");
        // One token check per bearer request (3 creates, 3 reads, 2 lists), also when
        // the token is refused: the two declared schemes do not check it twice. On
        // Postgres the session cache answers for the user's token after its first check;
        // the refused token is checked (and not cached).
        let checks = match backend { Backend::Sqlite => 8.0, Backend::Postgres => 2.0 };
        assert_eq!(histogram_count(&scrape, "db_query_duration_seconds", &[("operation", "token_status")]), Some(checks));

        // Pool gauges, fresh at scrape time.
        assert_eq!(metric(&scrape, "db_pool_connections").kind, PromType::Gauge);
        let size = scalar(&scrape, "db_pool_connections", &[("state", "size")]).expect("pool size gauge");
        let idle = scalar(&scrape, "db_pool_connections", &[("state", "idle")]).expect("pool idle gauge");
        let in_use = scalar(&scrape, "db_pool_connections", &[("state", "in_use")]).expect("pool in_use gauge");
        assert!((1.0..=5.0).contains(&size) && size == idle + in_use, "size {size}, idle {idle}, in use {in_use}");

        // Process metrics.
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"] {
            let v = scalar(&scrape, name, &[]).unwrap_or_else(|| panic!("{name} missing:\n{text}"));
            assert!(v > 0.0 || name == "process_cpu_seconds_total", "{name} = {v}");
        }
        for name in ["http_requests_total", "http_request_duration_seconds", "auth_events_total", "db_query_duration_seconds", "db_pool_connections"] {
            assert!(metric(&scrape, name).help_desc.as_deref().is_some_and(|h| !h.is_empty()), "# HELP of {name}");
        }
    }
}

// ---------------------------------------------------------------------------------
// Log hygiene (the binary, JSON logs)

/// A field of a JSON log line (`fields.x` as tracing-subscriber writes it, or top level).
fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get("fields")
        .and_then(|f| f.get(name))
        .or_else(|| line.get(name))
}

#[tokio::test]
async fn logs_carry_request_fields_and_no_secrets() {
    let mut server = ServerProcess::start(&[]).await;
    let c = http_client();
    let new_password = "Brand-New#Secret42";
    let wrong_password = "Not-The#Password77";
    let email = unique_email();
    let mut secrets: Vec<String> = vec![
        STRONG_PASSWORD.into(),
        new_password.into(),
        wrong_password.into(),
    ];

    // (request id, method, route, expected status, authenticated)
    let mut steps: Vec<(String, &str, &str, u16, bool)> = vec![];
    let send =
        |method: Method, path: &'static str, bearer: Option<String>, body: Value, id: &str| {
            let mut req = c
                .request(method, server.url(path))
                .header("X-Request-ID", id)
                .json(&body);
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            req.send()
        };

    let r = send(
        Method::POST,
        "/api/v1/auth/register",
        None,
        json!({"email": email, "password": STRONG_PASSWORD, "name": "Log Test"}),
        "log-register",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let user_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    steps.push((
        "log-register".into(),
        "POST",
        "/api/v1/auth/register",
        201,
        false,
    ));

    let tokens = Tokens::from_response(
        send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": STRONG_PASSWORD}),
            "log-login",
        )
        .await
        .unwrap(),
    )
    .await;
    steps.push(("log-login".into(), "POST", "/api/v1/auth/login", 200, false));
    let (access, refresh) = (tokens.access.clone(), tokens.refresh.clone());
    secrets.extend([tokens.access.clone(), tokens.refresh.clone()]);

    let r = send(
        Method::GET,
        "/api/v1/auth/me",
        Some(access.clone()),
        json!({}),
        "log-me",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    steps.push(("log-me".into(), "GET", "/api/v1/auth/me", 200, true));

    let rotated = Tokens::from_response(
        send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
            "log-refresh",
        )
        .await
        .unwrap(),
    )
    .await;
    steps.push((
        "log-refresh".into(),
        "POST",
        "/api/v1/auth/refresh",
        200,
        false,
    ));
    secrets.extend([rotated.access.clone(), rotated.refresh.clone()]);

    let r = send(
        Method::POST,
        "/api/v1/auth/change-password",
        Some(rotated.access.clone()),
        json!({"current_password": STRONG_PASSWORD, "new_password": new_password}),
        "log-change-password",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    steps.push((
        "log-change-password".into(),
        "POST",
        "/api/v1/auth/change-password",
        200,
        true,
    ));

    let again = Tokens::from_response(
        send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": new_password}),
            "log-login-2",
        )
        .await
        .unwrap(),
    )
    .await;
    steps.push((
        "log-login-2".into(),
        "POST",
        "/api/v1/auth/login",
        200,
        false,
    ));
    secrets.extend([again.access.clone(), again.refresh.clone()]);

    let r = send(
        Method::POST,
        "/api/v1/auth/logout",
        Some(again.access.clone()),
        json!({"refresh_token": again.refresh}),
        "log-logout",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    steps.push((
        "log-logout".into(),
        "POST",
        "/api/v1/auth/logout",
        200,
        true,
    ));

    let r = send(
        Method::POST,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": wrong_password}),
        "log-login-failed",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    steps.push((
        "log-login-failed".into(),
        "POST",
        "/api/v1/auth/login",
        401,
        false,
    ));

    // A revoked token presented again: refused, and still not logged.
    let r = send(
        Method::GET,
        "/api/v1/auth/me",
        Some(access.clone()),
        json!({}),
        "log-me-revoked",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    steps.push((
        "log-me-revoked".into(),
        "GET",
        "/api/v1/auth/me",
        401,
        false,
    ));

    // The stored hash, to look for it verbatim.
    let hash: String = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&server.database_url)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert!(hash.starts_with("$argon2"));
    secrets.push(hash);

    let status = server.terminate().await;
    assert!(status.success(), "graceful exit on SIGTERM, got {status}");
    let lines = server.lines();
    let text = lines.join("\n");

    // Every line is a JSON object.
    let parsed: Vec<Value> = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    assert!(parsed.iter().all(Value::is_object));

    // No secret, in any form.
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret appears in the logs: {}…",
            &s[..12.min(s.len())]
        );
    }
    let lower = text.to_ascii_lowercase();
    for needle in ["$argon2", "eyj", "authorization", "bearer "] {
        assert!(
            !lower.contains(needle),
            "{needle:?} appears in the logs:\n{text}"
        );
    }

    // One request line per request, with its fields.
    for (id, method, route, status, authenticated) in &steps {
        let line = parsed
            .iter()
            .find(|l| {
                field(l, "message") == Some(&json!("request"))
                    && field(l, "request_id") == Some(&json!(id))
            })
            .unwrap_or_else(|| panic!("no request line for {id}:\n{text}"));
        assert_eq!(field(line, "method"), Some(&json!(method)), "{line}");
        assert_eq!(field(line, "route"), Some(&json!(route)), "{line}");
        assert_eq!(
            field(line, "status").and_then(Value::as_u64),
            Some(u64::from(*status)),
            "{line}"
        );
        assert!(
            field(line, "latency_ms")
                .and_then(Value::as_f64)
                .is_some_and(|ms| ms >= 0.0),
            "{line}"
        );
        assert!(
            field(line, "trace_id")
                .and_then(Value::as_str)
                .is_some_and(|t| t.len() == 32),
            "{line}"
        );
        if *authenticated {
            assert_eq!(field(line, "user_id"), Some(&json!(user_id)), "{line}");
        }
    }

    // Auth events.
    let events: HashSet<(String, String)> = parsed
        .iter()
        .filter(|l| field(l, "message") == Some(&json!("auth event")))
        .map(|l| {
            let s = |k| {
                field(l, k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (s("event"), s("outcome"))
        })
        .collect();
    for (event, outcome) in [
        ("login", "success"),
        ("login", "failure"),
        ("refresh", "success"),
        ("logout", "success"),
        ("password_change", "success"),
    ] {
        assert!(
            events.contains(&(event.to_owned(), outcome.to_owned())),
            "auth event {event}/{outcome} missing: {events:?}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("shut down")),
        "a clean shutdown is logged:\n{text}"
    );
}

// ---------------------------------------------------------------------------------
// OTLP trace export (the binary, an in-test receiver)

#[tokio::test]
async fn otlp_export_continues_the_callers_trace_with_db_and_hash_spans() {
    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_ID: &str = "00f067aa0ba902b7";
    let receiver = OtlpReceiver::start().await;
    let mut server = ServerProcess::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "todo-api-otlp-test"),
    ])
    .await;
    let c = http_client();
    let email = unique_email();
    let r = c
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c
        .post(server.url("/api/v1/auth/login"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("X-Request-ID", "otlp-login")
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Graceful stop: the batch exporter flushes on shutdown.
    let status = server.terminate().await;
    assert!(status.success(), "graceful exit on SIGTERM, got {status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans: Vec<_> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == TRACE_ID)
            .collect();
        if spans.iter().any(|s| s.name == "password_hash") || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let summary: Vec<String> = spans
        .iter()
        .map(|s| format!("{} ({}) <- {}", s.name, s.span_id, s.parent_span_id))
        .collect();
    assert!(
        receiver.rejected().is_empty(),
        "malformed exports: {:?}",
        receiver.rejected()
    );

    // The server span joins the caller's trace under the caller's span.
    let server_span = spans.iter().find(|s| s.kind == 2).unwrap_or_else(|| {
        panic!(
            "no server span in trace {TRACE_ID}: {summary:?} (all: {:?})",
            receiver.spans().len()
        )
    });
    assert_eq!(server_span.parent_span_id, PARENT_ID);
    assert_eq!(
        server_span.attr("http.route").as_deref(),
        Some("/api/v1/auth/login")
    );
    assert_eq!(
        server_span.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        server_span.attr("http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        server_span.service_name.as_deref(),
        Some("todo-api-otlp-test")
    );

    // DB spans (named after the store operation) and the hashing span descend from it.
    let by_id: BTreeMap<&str, &otlp::ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let descends = |s: &otlp::ReceivedSpan| {
        let mut cur = s;
        for _ in 0..16 {
            if cur.parent_span_id == server_span.span_id {
                return true;
            }
            match by_id.get(cur.parent_span_id.as_str()) {
                Some(p) => cur = p,
                None => return false,
            }
        }
        false
    };
    for name in [
        "user_by_email",
        "create_session",
        "touch_last_login",
        "password_hash",
    ] {
        let span = spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span: {summary:?}"));
        assert!(
            descends(span),
            "{name} is not under the server span: {summary:?}"
        );
    }
    let db = spans.iter().find(|s| s.name == "user_by_email").unwrap();
    assert_eq!(
        db.attr("db.operation.name").as_deref(),
        Some("user_by_email")
    );

    // The request's log line names the same trace.
    let line = server
        .lines()
        .into_iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .find(|l| {
            field(l, "request_id") == Some(&json!("otlp-login"))
                && field(l, "message") == Some(&json!("request"))
        })
        .expect("the login's request line");
    assert_eq!(field(&line, "trace_id"), Some(&json!(TRACE_ID)), "{line}");
}
