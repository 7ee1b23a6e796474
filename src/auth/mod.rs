//! Authentication: passwords, tokens, sessions and the auth operations.

pub mod api;
pub mod attempts;
pub mod email;
pub mod model;
pub mod password;
pub mod security;
pub mod service;
pub mod session_cache;
pub mod store;
pub mod tokens;
