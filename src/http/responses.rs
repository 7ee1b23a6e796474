//! Declares, per operation, which error statuses it can return (all with `ErrorBody`).
//!
//! `Errors<{ UNAUTHORIZED | NOT_FOUND }>` is an error type for handlers whose spec lists
//! exactly those statuses plus 500 and 503 (every operation can meet a failing database).
//! The error itself is rendered by the error middleware, so framework errors and
//! handler errors share one format.

use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::ApiResponse;

use crate::error::{ApiError, ErrorBody};

pub const UNAUTHORIZED: u32 = 1 << 0;
pub const FORBIDDEN: u32 = 1 << 1;
pub const NOT_FOUND: u32 = 1 << 2;
pub const CONFLICT: u32 = 1 << 3;
pub const PRECONDITION_FAILED: u32 = 1 << 4;
pub const PAYLOAD_TOO_LARGE: u32 = 1 << 5;
pub const UNSUPPORTED_MEDIA_TYPE: u32 = 1 << 6;
pub const UNPROCESSABLE: u32 = 1 << 7;
pub const TOO_MANY_REQUESTS: u32 = 1 << 8;
/// Login refused until the email address is verified (never with [`FORBIDDEN`]).
pub const NOT_VERIFIED: u32 = 1 << 9;
/// Not available here (403 AUTHZ_003): local accounts switched off, or a password
/// operation called by an externally authenticated user (never with [`FORBIDDEN`]).
pub const NOT_AVAILABLE: u32 = 1 << 10;
/// What every operation that reads a JSON or form body can return.
pub const BODY: u32 = PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE | UNPROCESSABLE;
/// What every bearer-authenticated operation can return.
pub const AUTHED: u32 = UNAUTHORIZED;

const TABLE: &[(u32, u16, &str)] = &[
    (
        UNAUTHORIZED,
        401,
        "Missing, invalid, expired or revoked credentials (AUTH_*)",
    ),
    (
        FORBIDDEN,
        403,
        "The resource belongs to another user (AUTHZ_001)",
    ),
    (
        NOT_VERIFIED,
        403,
        "Email address not verified while verification is required (AUTHZ_002)",
    ),
    (
        NOT_AVAILABLE,
        403,
        "Not available: local accounts are switched off (LOCAL_AUTH=disabled), or the \
         caller signed in with the external identity provider (AUTHZ_003)",
    ),
    (
        NOT_VERIFIED | NOT_AVAILABLE,
        403,
        "Email address not verified while verification is required (AUTHZ_002); local \
         accounts switched off (LOCAL_AUTH=disabled, AUTHZ_003)",
    ),
    (NOT_FOUND, 404, "No such resource (RESOURCE_*)"),
    (
        CONFLICT,
        409,
        "Conflicts with existing data (VALIDATION_003, CONFLICT_001)",
    ),
    (
        PRECONDITION_FAILED,
        412,
        "If-Match does not match the current ETag (PRECONDITION_001)",
    ),
    (
        PAYLOAD_TOO_LARGE,
        413,
        "Body larger than 1 MiB (REQUEST_001)",
    ),
    (
        UNSUPPORTED_MEDIA_TYPE,
        415,
        "Unsupported Content-Type (REQUEST_002)",
    ),
    (
        UNPROCESSABLE,
        422,
        "Invalid input (VALIDATION_*); details.field names it",
    ),
    (
        TOO_MANY_REQUESTS,
        429,
        "Rate limited (RATE_LIMIT_001); see Retry-After",
    ),
    (0, 500, "Unexpected internal error (SERVER_002)"),
    (
        0,
        503,
        "Temporarily unavailable (SERVER_001); see Retry-After",
    ),
];

/// A handler error whose spec entry lists the statuses in the bit set `S`.
#[derive(Debug)]
pub struct Errors<const S: u32>(pub ApiError);

impl<const S: u32> From<ApiError> for Errors<S> {
    fn from(e: ApiError) -> Self {
        Errors(e)
    }
}

impl<const S: u32> From<Errors<S>> for poem::Error {
    fn from(e: Errors<S>) -> Self {
        poem::Error::from(e.0)
    }
}

/// Whether a row of [`TABLE`] is in the spec of an operation with the statuses `s`:
/// all its bits are set, and no other applicable row of its status has more of them
/// (so an operation with two kinds of 403 lists the one combined row).
fn applies(s: u32, &(mask, status, _): &(u32, u16, &str)) -> bool {
    let fits = |m: u32| m == 0 || s & m == m;
    fits(mask)
        && !TABLE
            .iter()
            .any(|&(m, st, _)| st == status && fits(m) && m.count_ones() > mask.count_ones())
}

fn retry_after() -> MetaHeader {
    MetaHeader {
        name: "Retry-After".into(),
        description: Some("Seconds to wait before retrying".into()),
        required: true,
        deprecated: false,
        schema: u64::schema_ref(),
    }
}

impl<const S: u32> ApiResponse for Errors<S> {
    fn meta() -> MetaResponses {
        let responses = TABLE
            .iter()
            .filter(|row| applies(S, row))
            .map(|&(_, status, description)| MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json",
                    schema: ErrorBody::schema_ref(),
                }],
                headers: if status == 429 || status == 503 {
                    vec![retry_after()]
                } else {
                    vec![]
                },
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}

/// Nothing to return (a `DELETE` that succeeded).
#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}
