//! HTTP plumbing shared by all operations: bodies, error responses, middleware.

pub mod body;
pub mod client_ip;
pub mod conn;
pub mod cors;
pub mod middleware;
pub mod rate_limit;
pub mod responses;
