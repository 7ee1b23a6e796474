//! The world a run works in: a live server, its users and resources, and the one
//! sender through which every request goes.
//!
//! Every request, set-up included, goes raw through [`World::send_call`]: the contract
//! sends what no typed client would (forged tokens, malformed bodies, undeclared
//! methods), and set-up answers are checked against the spec and recorded in the
//! ledger like any other.

mod execute;
mod identity;
mod resolve;
mod tokens;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

use super::call::{Call, Outcome};
use super::checks::{check, Answer};
use super::input::Body;
use super::ledger::{Ledger, Phase, Violation};
use super::spec::Spec;
pub use execute::Expected;
pub use identity::SHARED_SECRET;
use resolve::{forged_principal, user_id};

#[derive(Clone, Debug)]
pub struct Principal {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

pub struct World<'a> {
    app: &'a TestApp,
    spec: &'a Spec,
    ledger: &'a RefCell<Ledger>,
    violations: &'a RefCell<Vec<Violation>>,
    /// A client that keeps no idle connections.
    oneshot: reqwest::Client,
    pub phase: Cell<Phase>,
    /// The rate-limited server: no setup, forged principals, no refresh chain upkeep.
    pub limited: bool,
    counter: Cell<u64>,
    pub requests: Cell<u64>,
    /// "op: class" (one non-valid dimension) → answers seen; `CONTRACT_VERBOSE=1` prints it.
    pub answers: RefCell<BTreeMap<String, BTreeSet<String>>>,
    pub a: Principal,
    /// A session of `a` used by the refresh operation (rotated as it goes).
    chain: RefCell<Principal>,
    /// A logged-out session of `a`.
    revoked: Principal,
    /// A user whose row was deleted.
    deleted: Principal,
    pub a_todo: String,
    a_tag: (String, String),
    b_todo: String,
    b_tag: String,
    /// A session of user `b`.
    b_session: String,
    /// The user whose sessions `delete_session` ends (logins of `a` are also fuzzed
    /// with wrong passwords, which the per-account login limit counts).
    sessions_user: Principal,
}

impl<'a> World<'a> {
    pub fn bare(
        app: &'a TestApp,
        spec: &'a Spec,
        ledger: &'a RefCell<Ledger>,
        violations: &'a RefCell<Vec<Violation>>,
        limited: bool,
    ) -> World<'a> {
        let p = forged_principal();
        World {
            app,
            spec,
            ledger,
            violations,
            oneshot: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .expect("an HTTP client"),
            phase: Cell::new(Phase::Setup),
            limited,
            counter: Cell::new(0),
            requests: Cell::new(0),
            answers: RefCell::default(),
            a: p.clone(),
            chain: RefCell::new(p.clone()),
            revoked: p.clone(),
            deleted: p.clone(),
            a_todo: Uuid::new_v4().to_string(),
            a_tag: (Uuid::new_v4().to_string(), "none".into()),
            b_todo: Uuid::new_v4().to_string(),
            b_tag: Uuid::new_v4().to_string(),
            b_session: Uuid::new_v4().to_string(),
            sessions_user: p.clone(),
        }
    }

    /// Users `a` and `b` with a todo and a tag each, a refresh chain and a logged-out
    /// session of `a`, a user whose row is deleted.
    pub async fn setup(
        app: &'a TestApp,
        spec: &'a Spec,
        ledger: &'a RefCell<Ledger>,
        violations: &'a RefCell<Vec<Violation>>,
    ) -> World<'a> {
        let mut w = World::bare(app, spec, ledger, violations, false);
        w.a = w.fresh_user().await;
        let b = w.fresh_user().await;
        w.chain = RefCell::new(w.session(&w.a).await);
        let revoked = w.session(&w.a).await;
        let logout = Call::new("logout", Method::POST, "/api/v1/auth/logout".into());
        let out = w.send(logout.bearer(&revoked.access)).await;
        assert_eq!(out.status, 200, "setup: logout");
        w.revoked = revoked;
        let deleted = w.fresh_user().await;
        let deleted_id = Uuid::parse_str(&deleted.id).expect("a user id");
        assert_eq!(app.delete_user(deleted_id).await, 1, "setup: delete a user");
        w.deleted = deleted;
        w.a_todo = w.create_todo(&w.a.access).await;
        w.a_tag = w.create_tag(&w.a.access).await;
        w.b_todo = w.create_todo(&b.access).await;
        w.b_tag = w.create_tag(&b.access).await.0;
        w.b_session = session_id(&b.access).to_string();
        w.sessions_user = w.fresh_user().await;
        w
    }

    fn unique(&self) -> String {
        self.counter.set(self.counter.get() + 1);
        format!("u{}", self.counter.get())
    }

    /// Registers and logs in a new user (both requests checked and recorded).
    async fn fresh_user(&self) -> Principal {
        let email = format!("contract-{}@example.com", self.unique());
        let out = self
            .send(
                Call::new("register", Method::POST, "/api/v1/auth/register".into())
                    .json(json!({"email": email, "password": STRONG_PASSWORD, "name": "Contract"})),
            )
            .await;
        assert_eq!(out.status, 201, "register a fresh user: {}", out.body);
        let mut p = Principal {
            id: out.body["id"].as_str().unwrap_or_default().to_owned(),
            email,
            password: STRONG_PASSWORD.to_owned(),
            access: String::new(),
            refresh: String::new(),
        };
        let s = self.session(&p).await;
        p.access = s.access;
        p.refresh = s.refresh;
        p
    }

    /// A new session (login) of `p`.
    async fn session(&self, p: &Principal) -> Principal {
        let out = self
            .send(
                Call::new("login", Method::POST, "/api/v1/auth/login".into())
                    .json(json!({"email": p.email, "password": p.password})),
            )
            .await;
        assert_eq!(out.status, 200, "log in {}: {}", p.email, out.body);
        let access = out.body["access_token"].as_str().unwrap().to_owned();
        Principal {
            id: user_id(&access),
            email: p.email.clone(),
            password: p.password.clone(),
            refresh: out.body["refresh_token"].as_str().unwrap().to_owned(),
            access,
        }
    }

    async fn create_todo(&self, access: &str) -> String {
        let out = self
            .send(
                Call::new("create_todo", Method::POST, "/api/v1/todos".into())
                    .bearer(access)
                    .json(json!({"title": format!("todo {}", self.unique())})),
            )
            .await;
        assert_eq!(out.status, 201, "create a todo: {}", out.body);
        out.body["id"].as_str().unwrap().to_owned()
    }

    async fn create_tag(&self, access: &str) -> (String, String) {
        let name = format!("Shared Tag {}", self.unique());
        let out = self
            .send(
                Call::new("create_tag", Method::POST, "/api/v1/tags".into())
                    .bearer(access)
                    .json(json!({ "name": name })),
            )
            .await;
        assert_eq!(out.status, 201, "create a tag: {}", out.body);
        (out.body["id"].as_str().unwrap().to_owned(), name)
    }

    /// The current version of one of `a`'s todos.
    async fn version_of(&self, id: &str) -> i64 {
        let out = self
            .send(
                Call::new("get_todo", Method::GET, format!("/api/v1/todos/{id}"))
                    .bearer(&self.a.access),
            )
            .await;
        out.body["version"].as_i64().unwrap_or(1)
    }

    /// Whose tokens an operation uses: fresh sessions or users where success revokes.
    async fn principal(&self, op: &str) -> Principal {
        if self.limited {
            // The rate-limited server: forged principals only (no logins to spare).
            return self.a.clone();
        }
        match op {
            // `others` and `all` would end every session of `a`; failed logins count
            // against the account (10, then one a minute), and `a` logs in often.
            "logout"
            | "change_password"
            | "login"
            | "issue_token"
            | "delete_me"
            | "resend_verification" => self.fresh_user().await,
            "refresh_token" => self.chain.borrow().clone(),
            "delete_session" => self.sessions_user.clone(),
            _ => self.a.clone(),
        }
    }

    /// A refresh token that was already rotated (its family is revoked by presenting it).
    async fn reused_refresh(&self) -> String {
        let s = self.session(&self.a).await;
        let out = self
            .send(
                Call::new("refresh_token", Method::POST, "/api/v1/auth/refresh".into())
                    .json(json!({"refresh_token": s.refresh})),
            )
            .await;
        assert_eq!(out.status, 200, "rotate a refresh token: {}", out.body);
        s.refresh
    }

    pub fn violation(&self, op: &str, what: String, call: &Call, answer: &str) {
        let mut v = self.violations.borrow_mut();
        if v.iter().any(|x| x.op == op && x.what == what) {
            return;
        }
        v.push(Violation {
            op: op.to_owned(),
            what,
            repro: call.repro(),
            answer: answer.chars().take(400).collect(),
        });
    }

    async fn send(&self, call: Call) -> Outcome {
        self.send_call(&call).await
    }

    /// Sends `call` and checks (a)–(d) and the header rules; records the ledger.
    pub async fn send_call(&self, call: &Call) -> Outcome {
        self.requests.set(self.requests.get() + 1);
        // An oversized body is answered before it is read and the connection is closed:
        // send it on a connection of its own so no later request reuses a dead one.
        let client = match call.body {
            Body::TooLarge(..) => &self.oneshot,
            _ => &self.app.client,
        };
        let resp = call
            .request(client, &self.app.base_url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer ({e:?}): {}", call.repro()));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let answer = Answer {
            status,
            headers: &headers,
            bytes: &bytes,
            body: &body,
            text: &text,
        };
        let (code, problems) = check(self.spec.op(call.op), call, &answer);
        self.ledger
            .borrow_mut()
            .record(call.op, status, code.as_deref(), self.phase.get());
        for p in problems {
            self.violation(call.op, p, call, &text);
        }
        Outcome {
            status,
            code,
            field: body["details"]["field"].as_str().map(str::to_owned),
            body,
            headers,
        }
    }
}
