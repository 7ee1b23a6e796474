//! Authentication: passwords, tokens, sessions and the auth operations.

pub mod account;
pub mod account_api;
pub mod api;
pub mod attempts;
pub mod email;
pub mod external;
pub mod federated;
pub mod model;
pub mod onetime;
pub mod password;
pub mod recovery;
pub mod security;
pub mod service;
pub mod session_cache;
pub mod store;
pub mod tokens;
