//! Integration tests of the whole service: a real server on port 0 over a fresh
//! database per test, each test run on SQLite and on PostgreSQL (`both_backends!`).
//!
//! Postgres: `TEST_DATABASE_URL` names the maintenance database (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `SKIP_POSTGRES=1` skips those tests.

#[macro_use]
mod helpers;

mod auth;
mod contract;
mod cors;
mod errors;
mod migrations;
mod operations;
mod properties;
mod scaleout;
mod sdk;
mod sdk_helpers;
mod security;
mod tags;
mod todos;
