//! todo-api: an OpenAPI-first Todo service with JWT authentication on PostgreSQL or SQLite.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod healthcheck;
pub mod http;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod paging;
pub mod state;
pub mod tags;
pub mod telemetry;
pub mod text;
pub mod todos;
pub mod wire;
