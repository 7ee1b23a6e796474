//! What every resource's API shares on the wire and in the spec: the operation groups,
//! timestamps and the schema-carrying request strings. A leaf: it imports nothing
//! else of the crate.

pub mod account;
pub mod params;
pub mod strings;
pub mod timestamp;

use poem_openapi::Tags;

pub use account::{OneTimeTokenString, UserAgent, MAX_ONE_TIME_TOKEN, MAX_USER_AGENT};
pub use params::{Limit, Skip, TagNames, MAX_LIMIT};
pub use strings::*;
pub use timestamp::Timestamp;

/// Operation groups in the spec.
#[derive(Tags)]
pub enum ApiTags {
    /// Registration, login and tokens
    #[oai(rename = "auth")]
    Auth,
    /// Todos of the authenticated user
    #[oai(rename = "todos")]
    Todos,
    /// Tags of the authenticated user
    #[oai(rename = "tags")]
    Tags,
    /// Health checks
    #[oai(rename = "operations")]
    Operations,
}
