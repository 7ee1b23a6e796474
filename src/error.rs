//! The one error type of the service, its catalog codes, and the shared `ErrorBody`.

use chrono::{DateTime, SubsecRound, Utc};
use poem::http::{header, HeaderValue, StatusCode};
use poem::Response;
use poem_openapi::types::ToJSON;
use poem_openapi::{Enum, Object};

use crate::db::StoreError;
use crate::wire::Timestamp;

/// Every error code of the contract (`shared/API.md`), each with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[allow(non_camel_case_types)]
pub enum ErrorCode {
    AUTH_001,
    AUTH_002,
    AUTH_003,
    AUTH_004,
    AUTH_005,
    AUTH_006,
    AUTH_007,
    AUTH_008,
    AUTHZ_001,
    AUTHZ_002,
    AUTHZ_003,
    VALIDATION_001,
    VALIDATION_002,
    VALIDATION_003,
    VALIDATION_004,
    VALIDATION_005,
    VALIDATION_006,
    VALIDATION_007,
    VALIDATION_008,
    VALIDATION_009,
    RESOURCE_001,
    RESOURCE_002,
    RESOURCE_003,
    RESOURCE_004,
    CONFLICT_001,
    PRECONDITION_001,
    RATE_LIMIT_001,
    REQUEST_001,
    REQUEST_002,
    REQUEST_003,
    SERVER_001,
    SERVER_002,
}

impl ErrorCode {
    /// The HTTP status the catalog assigns to this code.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            AUTH_001 | AUTH_002 | AUTH_003 | AUTH_004 | AUTH_005 | AUTH_006 | AUTH_007
            | AUTH_008 => StatusCode::UNAUTHORIZED,
            AUTHZ_001 | AUTHZ_002 | AUTHZ_003 => StatusCode::FORBIDDEN,
            VALIDATION_003 | CONFLICT_001 => StatusCode::CONFLICT,
            VALIDATION_001 | VALIDATION_002 | VALIDATION_004 | VALIDATION_005 | VALIDATION_006
            | VALIDATION_007 | VALIDATION_008 | VALIDATION_009 => StatusCode::UNPROCESSABLE_ENTITY,
            RESOURCE_001 | RESOURCE_002 | RESOURCE_003 | RESOURCE_004 => StatusCode::NOT_FOUND,
            PRECONDITION_001 => StatusCode::PRECONDITION_FAILED,
            RATE_LIMIT_001 => StatusCode::TOO_MANY_REQUESTS,
            REQUEST_001 => StatusCode::PAYLOAD_TOO_LARGE,
            REQUEST_002 => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            REQUEST_003 => StatusCode::METHOD_NOT_ALLOWED,
            SERVER_001 => StatusCode::SERVICE_UNAVAILABLE,
            SERVER_002 => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Machine-readable context of an error; empty for most codes.
#[derive(Debug, Clone, Default, Object)]
pub struct ErrorDetails {
    /// The offending body field, query or path parameter (every `VALIDATION_*` code).
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

/// The body of every 4xx and 5xx response.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ErrorBody {
    /// Stable code from the error catalog.
    pub error_code: ErrorCode,
    /// Human-readable explanation; never contains secrets, SQL or stack traces.
    pub message: String,
    /// Extra context, e.g. the offending field.
    pub details: ErrorDetails,
    /// When the error happened (RFC 3339, UTC).
    pub timestamp: Timestamp,
    /// The request's `X-Request-ID`.
    pub request_id: String,
}

impl poem_openapi::types::Example for ErrorBody {
    fn example() -> Self {
        ErrorBody {
            error_code: ErrorCode::AUTH_001,
            message: "Invalid credentials".into(),
            details: ErrorDetails::default(),
            timestamp: DateTime::parse_from_rfc3339("2026-01-12T20:30:00Z")
                .map(|t| Timestamp(t.with_timezone(&Utc)))
                .unwrap_or(Timestamp(DateTime::UNIX_EPOCH)),
            request_id: "4f1c2a9e-0b7d-4c1e-9d0a-5b6c7d8e9f00".into(),
        }
    }
}

/// Everything that can go wrong in a request, one variant per kind of failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Invalid credentials")]
    InvalidCredentials,
    #[error("Access token expired")]
    AccessTokenExpired,
    #[error("Refresh token expired")]
    RefreshTokenExpired,
    #[error("Token has been revoked")]
    TokenRevoked,
    #[error("Missing or malformed token")]
    InvalidToken,
    #[error("Token signature is invalid")]
    InvalidSignature,
    #[error("The token's user no longer exists")]
    UserGone,
    #[error("The link is invalid, expired or already used")]
    OneTimeTokenInvalid,
    #[error("The resource belongs to another user")]
    Forbidden,
    #[error("Verify your email address before logging in")]
    EmailNotVerified,
    /// The operation is switched off here, or makes no sense for this caller.
    #[error("{0}")]
    NotAvailable(Unavailability),
    #[error("{message}")]
    Validation {
        code: ErrorCode,
        field: String,
        message: String,
    },
    #[error("Email already registered")]
    EmailTaken,
    #[error("Todo not found")]
    TodoNotFound,
    #[error("Tag not found")]
    TagNotFound,
    #[error("Session not found")]
    SessionNotFound,
    #[error("No such route")]
    RouteNotFound,
    #[error("A tag with this name already exists")]
    TagNameConflict,
    #[error("If-Match does not match the current ETag")]
    PreconditionFailed,
    #[error("Too many requests; retry later")]
    RateLimited { retry_after_secs: u64 },
    #[error("Request body too large (limit 1 MiB)")]
    PayloadTooLarge,
    /// The body broke off or broke its framing (e.g. a bad chunk); the connection is closed.
    #[error("The body could not be read")]
    UnreadableBody,
    #[error("Unsupported content type")]
    UnsupportedMediaType,
    #[error("Method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("Service temporarily unavailable")]
    Unavailable { retry_after_secs: u64 },
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

/// Why an operation is not available (403 `AUTHZ_003`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailability {
    /// `LOCAL_AUTH=disabled`: the frontend's auth server signs users up and in.
    #[error("Local accounts are switched off: sign in with the configured identity provider")]
    LocalAuthDisabled,
    /// A password (or local-session) operation called with an external issuer's token.
    #[error("Not available for accounts of the external identity provider: manage them there")]
    ExternalAccount,
}

impl ApiError {
    /// A `VALIDATION_*` error about one field.
    pub fn invalid(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// An unexpected failure; the cause is logged, never sent.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    /// The catalog code of this error.
    pub fn code(&self) -> ErrorCode {
        use ErrorCode::*;
        match self {
            ApiError::InvalidCredentials => AUTH_001,
            ApiError::AccessTokenExpired => AUTH_002,
            ApiError::RefreshTokenExpired => AUTH_003,
            ApiError::TokenRevoked => AUTH_004,
            ApiError::InvalidToken => AUTH_005,
            ApiError::InvalidSignature => AUTH_006,
            ApiError::UserGone => AUTH_007,
            ApiError::OneTimeTokenInvalid => AUTH_008,
            ApiError::Forbidden => AUTHZ_001,
            ApiError::EmailNotVerified => AUTHZ_002,
            ApiError::NotAvailable(_) => AUTHZ_003,
            ApiError::Validation { code, .. } => *code,
            ApiError::EmailTaken => VALIDATION_003,
            ApiError::TodoNotFound => RESOURCE_001,
            ApiError::TagNotFound => RESOURCE_002,
            ApiError::SessionNotFound => RESOURCE_004,
            ApiError::RouteNotFound => RESOURCE_003,
            ApiError::TagNameConflict => CONFLICT_001,
            ApiError::PreconditionFailed => PRECONDITION_001,
            ApiError::RateLimited { .. } => RATE_LIMIT_001,
            ApiError::PayloadTooLarge => REQUEST_001,
            ApiError::UnreadableBody => VALIDATION_004,
            ApiError::UnsupportedMediaType => REQUEST_002,
            ApiError::MethodNotAllowed { .. } => REQUEST_003,
            ApiError::Unavailable { .. } => SERVER_001,
            ApiError::Internal(_) => SERVER_002,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// The JSON body of this error for the request `request_id`.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        let field = match self {
            ApiError::Validation { field, .. } => Some(field.clone()),
            ApiError::EmailTaken => Some("email".to_owned()),
            ApiError::UnreadableBody => Some("body".to_owned()),
            ApiError::TagNameConflict => Some("name".to_owned()),
            _ => None,
        };
        ErrorBody {
            error_code: self.code(),
            message: self.to_string(),
            details: ErrorDetails { field },
            timestamp: Timestamp(Utc::now().trunc_subsecs(0)),
            request_id: request_id.to_owned(),
        }
    }

    /// Renders the error in the documented format, with `Retry-After` / `Allow` where due.
    pub fn to_response(&self, request_id: &str) -> Response {
        if let ApiError::Internal(err) = self {
            tracing::error!(request_id, error = %format!("{err:#}"), "internal error");
        }
        let body = self.body(request_id).to_json().unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status())
            .content_type("application/json; charset=utf-8")
            .body(body.to_string());
        let headers = resp.headers_mut();
        match self {
            ApiError::RateLimited { retry_after_secs }
            | ApiError::Unavailable { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            // The rest of the body is not read (or its framing is lost): the
            // connection cannot be reused.
            ApiError::PayloadTooLarge | ApiError::UnreadableBody => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            _ => {}
        }
        resp
    }
}

/// A database failure the service did not handle itself: 503 `SERVER_001` while the
/// database is unreachable, else 500 `SERVER_002` (the cause is logged, never sent).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable {
                retry_after_secs: 1,
            },
            other => ApiError::internal(other),
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }
}

/// Result alias for service and handler code.
pub type ApiResult<T> = Result<T, ApiError>;
