//! Against a real Better Auth server (npm `better-auth` with its JWT and bearer plugins,
//! on its own PostgreSQL database; `tests/better-auth/server.mjs`), started by the
//! harness on a free loopback port: users sign up and in through Better Auth's own HTTP
//! API, get a JWT from `/api/auth/token`, and use this API with it.
//!
//! The first of these tests installs the server's pinned packages
//! (`npm ci --prefix tests/better-auth`, from its `package-lock.json`) when they are not
//! there yet; without Node.js 20+ and npm they fail and say so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use client_sdk::types::{self, ErrorCode};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use todo_api::db::Pool;

use super::until_status;
use crate::helpers::*;
use crate::sdk_helpers::*;

/// A running Better Auth server over its own database.
struct BetterAuth {
    base_url: String,
    child: Child,
    client: reqwest::Client,
    db: Pool,
    _database: TestDatabase,
}

/// The Better Auth fixture folder.
fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/better-auth")
}

impl BetterAuth {
    /// Starts `server.mjs` on a fresh PostgreSQL database; its JWTs live `expiration`.
    async fn start(expiration: &str) -> BetterAuth {
        let dir = fixture();
        installed(&dir).await;
        let database = TestDatabase::create(Backend::Postgres).await;
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("BETTER_AUTH_DATABASE_URL", &database.url)
            .env(
                "BETTER_AUTH_SECRET",
                "better-auth-test-secret-0123456789abcdef",
            )
            .env("BETTER_AUTH_JWT_EXPIRATION", expiration)
            .env("BETTER_AUTH_TELEMETRY", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node (is Node.js 20+ installed?)");
        let base_url = ready_line(&mut child).await;
        let db = database.pool().await;
        BetterAuth {
            base_url,
            child,
            client: http_client(),
            db,
            _database: database,
        }
    }

    /// Signs a user up through Better Auth (`POST /api/auth/sign-up/email`) and returns
    /// its session token.
    async fn sign_up(&self, email: &str, name: &str) -> String {
        let body = json!({"email": email, "password": STRONG_PASSWORD, "name": name});
        let resp = self.post("/api/auth/sign-up/email", &body).await;
        resp["token"].as_str().expect("a session token").to_owned()
    }

    /// Signs in (`POST /api/auth/sign-in/email`); the session token.
    async fn sign_in(&self, email: &str) -> String {
        let body = json!({"email": email, "password": STRONG_PASSWORD});
        let resp = self.post("/api/auth/sign-in/email", &body).await;
        resp["token"].as_str().expect("a session token").to_owned()
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let resp = self
            .client
            .post(format!("{}{path}", self.base_url))
            // Better Auth's CSRF check wants the Origin of a trusted site.
            .header("Origin", &self.base_url)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        resp.json().await.unwrap()
    }

    /// A JWT for the session (`GET /api/auth/token` with the bearer plugin).
    async fn jwt(&self, session: &str) -> String {
        let resp = self
            .client
            .get(format!("{}/api/auth/token", self.base_url))
            .bearer_auth(session)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["token"].as_str().expect("a JWT").to_owned()
    }

    /// The settings of a todo-api trusting this server.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EXTERNAL_ISSUER", self.base_url.clone()),
            (
                "EXTERNAL_JWKS_URL",
                format!("{}/api/auth/jwks", self.base_url),
            ),
            ("EXTERNAL_AUDIENCE", self.base_url.clone()),
            ("EXTERNAL_JWKS_REFETCH_SECONDS", "1".to_owned()),
        ]
    }

    /// Expires Better Auth's current signing key: its next JWT is signed by a new key
    /// (a new `kid`), the old one stays published for its grace period.
    async fn rotate(&self) {
        let sql = r#"UPDATE jwks SET "expiresAt" = now() - interval '1 minute'"#;
        let Pool::Postgres(p) = &self.db else {
            unreachable!("Better Auth runs on PostgreSQL")
        };
        let n = sqlx::query(sql).execute(p).await.unwrap().rows_affected();
        assert_eq!(n, 1, "one key to rotate");
    }
}

/// Installs the server's packages once per test run, unless a finished `npm ci`
/// (its `node_modules/.package-lock.json`) is already there.
async fn installed(dir: &Path) {
    static INSTALL: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALL
        .get_or_init(|| async {
            let done = dir.join("node_modules/.package-lock.json").is_file()
                && dir.join("node_modules/better-auth").is_dir();
            if done {
                return;
            }
            eprintln!("installing the Better Auth test server: npm ci --prefix tests/better-auth");
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(dir)
                .stdout(Stdio::null())
                .status()
                .await
                .expect("run npm (the Better Auth tests need Node.js 20+ and npm)");
            assert!(
                status.success(),
                "`npm ci --prefix tests/better-auth` failed ({status}); its output is above"
            );
        })
        .await;
}

/// Reads the child's output until its `READY <url>` line (at most 60 s).
async fn ready_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let wait = async {
        while let Some(line) = lines.next_line().await.ok().flatten() {
            if let Some(url) = line.strip_prefix("READY ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    };
    match tokio::time::timeout(Duration::from_secs(60), wait).await {
        Ok(Some(url)) => url,
        Ok(None) => {
            panic!("the Better Auth server exited before it was ready (its stderr is above)")
        }
        Err(_) => panic!("the Better Auth server was not ready within 60 s"),
    }
}

async fn spawn_api(backend: Backend, ba: &BetterAuth) -> TestApp {
    let vars = ba.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(backend, &vars).await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .expect("Better Auth sets kid")
}

both_backends! {
    /// Better Auth users use the whole todo API: their user is created from the JWT
    /// (id = Better Auth's `sub`), two users are isolated, a rotated key (new `kid`)
    /// is picked up, and once Better Auth stops, cached keys keep working while an
    /// unknown `kid` is 503 SERVER_001.
    async fn better_auth_users_use_the_api(backend: Backend) {
        if skip_postgres() {
            eprintln!("SKIP_POSTGRES=1: the Better Auth server needs PostgreSQL; skipped");
            return;
        }
        let mut ba = BetterAuth::start("15m").await;
        let app = spawn_api(backend, &ba).await;
        let alice_session = ba.sign_up("alice@ba.example", "Alice").await;
        ba.sign_up("bob@ba.example", "Bob").await;
        let alice_jwt = ba.jwt(&alice_session).await;
        let bob_jwt = ba.jwt(&ba.sign_in("bob@ba.example").await).await;
        let me = until_status(&app, &alice_jwt, 200).await.0;
        assert_eq!((me["email"].as_str(), me["name"].as_str()), (Some("alice@ba.example"), Some("Alice")));
        assert_eq!(me["email_verified"], false);
        let alice = bearer(&app, &alice_jwt);
        let bob = bearer(&app, &bob_jwt);
        let todo = create_todo(&alice, types::TodoInput::builder().title("from Better Auth")).await;
        let page = expect_page(alice.list_todos().send().await);
        assert_eq!(page.total, 1);
        assert!(expect_page(bob.list_todos().send().await).items.is_empty(), "isolated");
        expect_error(bob.get_todo().id(todo.id).send().await, StatusCode::FORBIDDEN, ErrorCode::Authz001);
        let subjects = app.count("SELECT COUNT(*) FROM users WHERE external_issuer IS NOT NULL").await;
        assert_eq!(subjects, 2);

        ba.rotate().await;
        let rotated = ba.jwt(&alice_session).await;
        assert_ne!(kid(&rotated), kid(&alice_jwt), "Better Auth signed with a new key");
        let me2 = until_status(&app, &rotated, 200).await.0;
        assert_eq!(me2["id"], me["id"], "same subject, same user");
        me_ok(&app, &alice_jwt).await;

        ba.child.kill().await.unwrap();
        me_ok(&app, &rotated).await;
        expect_ok(alice.get_todo().id(todo.id).send().await, StatusCode::OK);
        // A token naming a kid nobody has: header swapped, the rest Better Auth's.
        let parts: Vec<&str> = rotated.split('.').collect();
        let header = b64url(br#"{"alg":"EdDSA","kid":"not-a-better-auth-key"}"#);
        let unknown = format!("{header}.{}.{}", parts[1], parts[2]);
        let body = until_status(&app, &unknown, 503).await.0;
        assert_eq!(body["error_code"], "SERVER_001", "{body}");
    }

    /// Better Auth's expired JWTs are AUTH_002; logout revokes one here.
    async fn better_auth_expiry_and_logout(backend: Backend) {
        if skip_postgres() {
            eprintln!("SKIP_POSTGRES=1: the Better Auth server needs PostgreSQL; skipped");
            return;
        }
        // Tokens that expired five minutes ago (beyond the 30 s skew) when issued.
        let ba = BetterAuth::start("-5 minutes").await;
        let app = spawn_api(backend, &ba).await;
        let session = ba.sign_up("carol@ba.example", "Carol").await;
        let expired = ba.jwt(&session).await;
        let body = until_status(&app, &expired, 401).await.0;
        assert_eq!(body["error_code"], "AUTH_002", "{body}");
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0, "no user from an expired token");

        let fresh = BetterAuth::start("15m").await;
        let app = spawn_api(backend, &fresh).await;
        let jwt = fresh.jwt(&fresh.sign_up("dan@ba.example", "Dan").await).await;
        until_status(&app, &jwt, 200).await;
        let out = bearer(&app, &jwt).logout().body(types::LogoutRequest::builder()).send().await;
        expect_ok(out, StatusCode::OK);
        me_refused(&app, &jwt, ErrorCode::Auth004).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM revoked_tokens").await, 1);
    }
}
