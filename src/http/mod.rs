//! HTTP plumbing shared by all operations: bodies, error responses, middleware.

pub mod body;
pub mod client_ip;
pub mod compress;
pub mod conn;
pub mod cors;
pub mod docs;
pub mod headers;
pub mod middleware;
pub mod rate_limit;
pub mod responses;
pub mod routes;
pub mod span;
pub mod tls;
pub mod utf8;
