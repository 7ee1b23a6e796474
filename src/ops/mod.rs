//! Operations endpoints: health checks.

pub mod api;
