//! Strings of the account operations (sessions, one-time tokens), with their limits.

use poem_openapi::registry::MetaSchema;

use super::strings::{SchemaString, StringSchema};

/// Longest `User-Agent` a session keeps, in characters (longer ones are cut).
pub const MAX_USER_AGENT: usize = 255;
/// Longest one-time token accepted (issued ones are 43 characters).
pub const MAX_ONE_TIME_TOKEN: usize = 128;

/// A session's `User-Agent` as the API returns it.
pub struct UserAgentSchema;
impl StringSchema for UserAgentSchema {
    const NAME: &'static str = "string_user_agent";
    fn schema() -> MetaSchema {
        MetaSchema {
            max_length: Some(MAX_USER_AGENT),
            ..MetaSchema::new("string")
        }
    }
}

/// A password-reset or email-verification token from a link: URL-safe base64
/// characters, as the service issues them (anything else can only be AUTH_008).
pub struct OneTimeTokenSchema;
impl StringSchema for OneTimeTokenSchema {
    const NAME: &'static str = "string_one_time_token";
    fn schema() -> MetaSchema {
        MetaSchema {
            min_length: Some(1),
            max_length: Some(MAX_ONE_TIME_TOKEN),
            pattern: Some("^[A-Za-z0-9_-]+$".to_owned()),
            ..MetaSchema::new("string")
        }
    }
}

/// A session's `User-Agent` in a response.
pub type UserAgent = SchemaString<UserAgentSchema>;
/// A one-time token in a request body.
pub type OneTimeTokenString = SchemaString<OneTimeTokenSchema>;
