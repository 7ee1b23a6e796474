//! The test harness: a real server on port 0 over a fresh database per test, on
//! SQLite and on PostgreSQL, plus the helpers the tests share.

use std::collections::HashMap;

use reqwest::{Method, Response, StatusCode, Url};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

pub use todo_api::db::Backend;
use todo_api::db::Pool;

/// Runs the same sqlx expression on whichever pool `$pool` holds.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            todo_api::db::Pool::Postgres($p) => $body,
            todo_api::db::Pool::Sqlite($p) => $body,
        }
    };
}

/// The JWT secret every test server signs with; tests forge tokens with it.
pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef-0123456789abcdef";

/// A password that satisfies the strength policy.
pub const STRONG_PASSWORD: &str = "Correct#Horse9";

/// Maintenance database used to create and drop the per-test Postgres databases.
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether Postgres tests are explicitly switched off (`SKIP_POSTGRES=1`).
pub fn skip_postgres() -> bool {
    std::env::var("SKIP_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn maintenance_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Expands each `async fn name(backend: Backend) { … }` into the tests
/// `name_sqlite` and `name_postgres`. A missing Postgres fails the Postgres test
/// loudly unless `SKIP_POSTGRES=1` is set. Attributes (docs, `#[ignore = "…"]`) go
/// on both generated tests.
macro_rules! both_backends {
    ($(
        $(#[$attr:meta])*
        async fn $name:ident($backend:ident : Backend) $body:block
    )*) => {$(
        async fn $name($backend: $crate::helpers::Backend) $body

        paste::paste! {
            $(#[$attr])*
            #[tokio::test]
            async fn [<$name _sqlite>]() {
                $name($crate::helpers::Backend::Sqlite).await
            }

            $(#[$attr])*
            #[tokio::test]
            async fn [<$name _postgres>]() {
                if $crate::helpers::skip_postgres() {
                    eprintln!("SKIP_POSTGRES=1: skipping {}", stringify!([<$name _postgres>]));
                    return;
                }
                $name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// A fresh, empty database (no migrations applied) that is removed when the test
/// passes and kept (with its name printed) when it fails.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    kind: DbKind,
}

enum DbKind {
    Sqlite(Option<tempfile::TempDir>),
    Postgres {
        maintenance_url: String,
        name: String,
    },
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("todo-api-test-")
                    .tempdir()
                    .expect("create a temporary directory");
                let path = dir.path().join("test.db");
                let url = format!("sqlite://{}?mode=rwc", path.display());
                TestDatabase {
                    backend,
                    url,
                    kind: DbKind::Sqlite(Some(dir)),
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let maintenance = maintenance_url();
                let name = format!("test_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&maintenance)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot connect to Postgres at {maintenance} (set TEST_DATABASE_URL, \
                         or SKIP_POSTGRES=1 to skip the Postgres tests explicitly): {e}"
                        )
                    });
                sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
                let _ = conn.close().await;
                let mut url = Url::parse(&maintenance).expect("TEST_DATABASE_URL is a valid URL");
                url.set_path(&format!("/{name}"));
                TestDatabase {
                    backend,
                    url: url.to_string(),
                    kind: DbKind::Postgres {
                        maintenance_url: maintenance,
                        name,
                    },
                }
            }
        }
    }

    /// A small pool on this database, for direct assertions.
    pub async fn pool(&self) -> Pool {
        Pool::connect(&self.url, 2)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        match &mut self.kind {
            DbKind::Sqlite(dir) => {
                if let Some(dir) = dir.take() {
                    if failed {
                        eprintln!(
                            "test failed: keeping the SQLite database {}",
                            dir.keep().display()
                        );
                    }
                }
            }
            DbKind::Postgres {
                maintenance_url,
                name,
            } => {
                if failed {
                    eprintln!(
                        "test failed: keeping the Postgres database {name:?} ({maintenance_url})"
                    );
                    return;
                }
                let (maintenance_url, name) = (maintenance_url.clone(), name.clone());
                // Drop runs inside the test's runtime; do the async work on a thread of its own.
                let dropped = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    rt.block_on(async {
                        use sqlx::Connection;
                        let mut conn = sqlx::PgConnection::connect(&maintenance_url).await?;
                        sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                            .execute(&mut conn)
                            .await?;
                        conn.close().await?;
                        Ok::<_, anyhow_like::Error>(())
                    })
                })
                .join();
                match dropped {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("warning: could not drop the test database: {e}"),
                    Err(_) => eprintln!("warning: dropping the test database panicked"),
                }
            }
        }
    }
}

/// A tiny boxed error for the drop thread (no extra dependency).
mod anyhow_like {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
}

/// Installs, once per test binary, a tracing subscriber that prints what test servers
/// log, when `TEST_LOG` is set; tests are silent otherwise. `TEST_LOG` holds
/// `EnvFilter` directives (`debug`, `todo_api=debug,sqlx=warn`); `1` or `true` means
/// `debug`. Lines go through the test writer, so libtest shows them for failing tests
/// (all of them with `--nocapture`).
pub fn init_test_log() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let Ok(value) = std::env::var("TEST_LOG") else {
            return;
        };
        let directives = match value.trim() {
            "" | "1" | "true" => "debug",
            v => v,
        };
        let filter = tracing_subscriber::EnvFilter::try_new(directives)
            .unwrap_or_else(|e| panic!("TEST_LOG={value:?} is not an EnvFilter: {e}"));
        // Another subscriber may already be set (none is, today): keep it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Anything serving the API at a base URL: an in-process [`TestApp`] or a child process.
pub trait Served {
    fn base_url(&self) -> &str;
}

impl Served for TestApp {
    fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// A running server over its own fresh database.
pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    pub port: u16,
    /// A raw client: no proxy, no default headers.
    pub client: reqwest::Client,
    pub database_url: String,
    /// Direct database handle for assertions.
    pub db: Pool,
    shutdown: Option<oneshot::Sender<()>>,
    // Dropped last: the database outlives the server handle and the pool.
    _database: TestDatabase,
}

/// The environment every test server starts from (before per-test overrides).
fn base_env(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("APP_ENV", "development"),
        ("JWT_SECRET_KEY", TEST_JWT_SECRET),
        ("ARGON2_MEMORY_KIB", "8"),
        ("ARGON2_ITERATIONS", "1"),
        ("ARGON2_PARALLELISM", "1"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
        ("DATABASE_POOL_SIZE", "5"),
        ("LOG_LEVEL", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A reqwest client that never goes through a proxy.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build the HTTP client")
}

impl TestApp {
    /// A server with the default test configuration over a fresh database.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Like [`TestApp::spawn`], with some environment variables overridden.
    pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        let database = TestDatabase::create(backend).await;
        Self::spawn_on(database, vars).await
    }

    /// Starts a server over an existing test database (migrated on start).
    pub async fn spawn_on(database: TestDatabase, vars: &[(&str, &str)]) -> TestApp {
        init_test_log();
        let mut env = base_env(&database.url);
        for (k, v) in vars {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = todo_api::config::Config::from_lookup(|k| env.get(k).cloned())
            .expect("the test configuration is valid");
        let app = todo_api::app::App::build(config)
            .await
            .expect("build the app");
        let port = app.port();
        assert_ne!(port, 0, "App::build must report the bound port");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        let db = database.pool().await;
        TestApp {
            backend: database.backend,
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            client: http_client(),
            database_url: database.url.clone(),
            db,
            shutdown: Some(tx),
            _database: database,
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `/api/v1/auth` + `path`.
    pub fn auth_url(&self, path: &str) -> String {
        self.url(&format!("/api/v1/auth{path}"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/v1/auth/register` with a name.
    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": password, "name": "Test User"}),
        )
        .await
    }

    /// `POST /api/v1/auth/login`, unchecked.
    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// `GET /api/v1/auth/me` with `access` as the bearer token.
    pub async fn me(&self, access: &str) -> Response {
        self.client
            .get(self.auth_url("/me"))
            .bearer_auth(access)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/v1/auth/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// `POST /api/v1/auth/logout` with an optional JSON body.
    pub async fn logout(&self, access: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .post(self.auth_url("/logout"))
            .bearer_auth(access);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request sent")
    }

    /// `POST /api/v1/auth/change-password`.
    pub async fn change_password(&self, access: &str, current: &str, new: &str) -> Response {
        self.client
            .post(self.auth_url("/change-password"))
            .bearer_auth(access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /api/v1/auth/token` (OAuth2 password grant, form-encoded).
    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.auth_url("/token"))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    /// The stored password hash of `email`.
    pub async fn stored_password_hash(&self, email: &str) -> String {
        let sql = "SELECT password_hash FROM users WHERE email = $1";
        on_pool!(&self.db, |p| sqlx::query_scalar::<_, String>(sql)
            .bind(email)
            .fetch_one(p)
            .await)
        .expect("the user row exists")
    }

    /// The stored `last_login_at` of `email`.
    pub async fn stored_last_login_at(&self, email: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let sql = "SELECT last_login_at FROM users WHERE email = $1";
        on_pool!(&self.db, |p| sqlx::query_scalar::<
            _,
            Option<chrono::DateTime<chrono::Utc>>,
        >(sql)
        .bind(email)
        .fetch_one(p)
        .await)
        .expect("the user row exists")
    }

    /// Deletes a user row directly; returns the number of rows removed.
    pub async fn delete_user(&self, id: Uuid) -> u64 {
        let sql = "DELETE FROM users WHERE id = $1";
        on_pool!(&self.db, |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .expect("delete the user")
    }

    /// Disables a user directly; returns the number of rows changed.
    pub async fn deactivate_user(&self, id: Uuid) -> u64 {
        let sql = "UPDATE users SET is_active = $2 WHERE id = $1";
        on_pool!(&self.db, |p| sqlx::query(sql)
            .bind(id)
            .bind(false)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .expect("deactivate the user")
    }

    /// Runs a scalar `SELECT COUNT(*) …` (no parameters).
    pub async fn count(&self, sql: &str) -> i64 {
        count_on(&self.db, sql).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The single integer `sql` selects on `pool` (e.g. a `COUNT(*)`).
pub async fn count_on(pool: &Pool, sql: &str) -> i64 {
    on_pool!(pool, |p| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A unique, valid email address.
pub fn unique_email() -> String {
    format!("user-{}@example.com", Uuid::new_v4().simple())
}

/// A user's raw view of the API, for requests the SDK cannot express (explicit JSON
/// `null`, unknown fields, values its types refuse, malformed JSON) and for reading
/// wire formats its types hide. Normal calls go through the SDK ([`crate::sdk_helpers`]).
pub struct RawClient<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl RawClient<'_> {
    /// `method path` with the user's bearer token, an optional JSON body and `If-Match`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        req.send().await.expect("request sent")
    }

    /// Creates a todo, asserting 201 with `Location` and `ETag`.
    pub async fn create(&self, body: Value) -> Value {
        let resp = self
            .send(Method::POST, "/api/v1/todos", Some(body), None)
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        let todo: Value = resp.json().await.unwrap();
        assert_eq!(
            location,
            format!("/api/v1/todos/{}", todo["id"].as_str().unwrap())
        );
        assert_eq!(etag, format!("\"{}\"", todo["version"]));
        todo
    }

    /// Sends and expects 200 with an ETag equal to the version; returns the todo.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Value {
        let resp = self.send(method, path, body, if_match).await;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let todo: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{todo}");
        assert_eq!(etag, Some(format!("\"{}\"", todo["version"])), "{todo}");
        todo
    }
}

/// Checks an error response: status, `error_code`, the full `ErrorBody` shape, and that
/// `request_id` equals the `X-Request-ID` header. Returns the body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    let body = assert_error_shape(resp, status).await;
    assert_eq!(body["error_code"], code, "error_code: {body}");
    body
}

/// Checks an error response's status, `ErrorBody` shape and `X-Request-ID`, whatever its code.
pub async fn assert_error_shape(resp: Response, status: StatusCode) -> Value {
    let actual = resp.status();
    let header_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("a readable body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {actual} {text:?}"));
    assert_eq!(actual, status, "status: {body}");
    assert!(body["error_code"].is_string(), "error_code: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let obj = body.as_object().expect("the error body is an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "details",
            "error_code",
            "message",
            "request_id",
            "timestamp"
        ],
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {body}"
    );
    assert!(body["details"].is_object(), "details: {body}");
    let ts = body["timestamp"].as_str().expect("timestamp is a string");
    assert!(ts.ends_with('Z'), "timestamp {ts:?} ends with Z");
    chrono::DateTime::parse_from_rfc3339(ts).unwrap_or_else(|e| panic!("timestamp {ts:?}: {e}"));
    let header_id = header_id.expect("every response carries X-Request-ID");
    assert_eq!(
        body["request_id"],
        header_id.as_str(),
        "request_id equals X-Request-ID"
    );
    body
}

/// Like [`assert_error`], also checking `details.field`.
pub async fn assert_field_error(
    resp: Response,
    status: StatusCode,
    code: &str,
    field: &str,
) -> Value {
    let body = assert_error(resp, status, code).await;
    assert_eq!(body["details"]["field"], field, "details.field: {body}");
    body
}

// ---------------------------------------------------------------------------
// Tokens: decoding and forging with the test secret.

/// The claims of a token signed with the test secret (signature checked, expiry not).
pub fn claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a token signed with the test secret")
    .claims
}

/// Signs `claims` with `alg` and `secret`.
pub fn sign(claims: &Value, alg: jsonwebtoken::Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign the claims")
}

/// Signs `claims` as the server would (HS256, test secret).
pub fn sign_valid(claims: &Value) -> String {
    sign(
        claims,
        jsonwebtoken::Algorithm::HS256,
        TEST_JWT_SECRET.as_bytes(),
    )
}

/// Claims like the server issues: `sub`, `email`, `iat`, `exp`, `jti`, `type`, `sid`.
pub fn make_claims(sub: &str, email: &str, sid: &str, kind: &str, exp_offset_secs: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": sub,
        "email": email,
        "iat": now.min(now + exp_offset_secs) - 1,
        "exp": now + exp_offset_secs,
        "jti": Uuid::new_v4().to_string(),
        "type": kind,
        "sid": sid,
    })
}

/// Unpadded base64url (RFC 4648 §5), for hand-built tokens.
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for s in &sextets[..chunk.len() + 1] {
            out.push(ALPHABET[*s as usize] as char);
        }
    }
    out
}

/// A token built by hand: `base64url(header).base64url(payload).signature`.
pub fn hand_built_token(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes()),
        signature
    )
}

// ---------------------------------------------------------------------------
// Raw HTTP, for requests reqwest will not send (lying Content-Length, unterminated chunks).

/// A parsed raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

/// Writes `head` then `body` to the server and reads one response, without closing
/// the write side (so the server answers from what it has read, not from an EOF).
/// Fails if no response arrives within `limit`.
pub async fn raw_exchange(
    port: u16,
    head: &str,
    body: &[u8],
    limit: std::time::Duration,
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let head = head.to_owned();
    let body = body.to_vec();
    // Write concurrently with reading: the server may answer before it has read everything.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        let _ = wr.flush().await;
        // Keep the write half open until the response has been read.
        wr
    });
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(resp) = parse_raw_response(&buf) {
                return resp;
            }
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    return parse_raw_response(&buf).unwrap_or_else(|| {
                        panic!(
                            "connection ended without a full response: {:?}",
                            String::from_utf8_lossy(&buf)
                        )
                    })
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let resp = tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        panic!("no response within {limit:?}: the server waited for the whole body")
    });
    writer.abort();
    resp
}

fn parse_raw_response(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + len)?;
    Some(RawResponse {
        status,
        headers,
        body: serde_json::from_slice(body).ok()?,
    })
}

/// Checks a raw error response like [`assert_error`] does.
pub fn assert_raw_error(resp: &RawResponse, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{resp:?}");
    let body = &resp.body;
    assert_eq!(body["error_code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["details"].is_object(), "{body}");
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    let id = resp
        .headers
        .get("x-request-id")
        .expect("X-Request-ID header");
    assert_eq!(body["request_id"], id.as_str(), "{body}");
}
