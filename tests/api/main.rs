//! Integration tests of the whole service: a real server on port 0 over a fresh
//! database per test, each test run on SQLite and on PostgreSQL (`both_backends!`).
//!
//! Postgres: `TEST_DATABASE_URL` names the maintenance database (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `SKIP_POSTGRES=1` skips those tests.
//!
//! Logs: test servers are silent unless `TEST_LOG` is set. Then a tracing subscriber
//! (installed once, `helpers::init_test_log`) prints what the in-process servers log,
//! and the output lines of `todo-api` child processes, filtered by `TEST_LOG` as
//! `EnvFilter` directives: `TEST_LOG=debug cargo test --test api auth -- --nocapture`,
//! or `TEST_LOG=todo_api=debug,sqlx=warn`. Without `--nocapture`, libtest shows them for
//! failing tests only.
//!
//! Requests: normal calls go through the generated SDK (`sdk_helpers`); raw requests
//! (`helpers::RawClient`, `TestApp::client`, `helpers::raw_exchange`) are kept for what
//! the SDK cannot express, each with a comment saying why.

#[macro_use]
mod helpers;

mod abuse;
mod account;
mod auth;
mod contract;
mod cors;
mod docs_pages;
mod errors;
mod external;
mod mail;
mod migrations;
mod operations;
mod properties;
mod races;
mod root;
mod scaleout;
mod sdk;
mod sdk_helpers;
mod security;
mod sessions;
mod slow_clients;
mod startup;
mod tags;
mod todos;
