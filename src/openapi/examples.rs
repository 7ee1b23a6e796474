//! Examples for the document: one per schema, and one per error response with a code
//! that the status really carries there (rendered from the [`ApiError`] the server
//! would answer, so the message and `details` are the server's own).

use poem_openapi::types::ToJSON;
use serde_json::{json, Value};

use super::refine::operations_mut;
use crate::error::{ApiError, ErrorCode};

/// The request id and time shown in every error example.
const REQUEST_ID: &str = "4f1c2a9e-0b7d-4c1e-9d0a-5b6c7d8e9f00";
const AT: &str = "2026-01-12T20:30:00Z";

/// The error a schema-valid call of `op` (at `path`) typically meets with `status`.
fn typical_error(op: &str, path: &str, status: &str) -> Option<ApiError> {
    let invalid = |code, field: &str, msg: &str| ApiError::invalid(code, field, msg);
    Some(match status {
        "401" => match op {
            "login" | "issue_token" => ApiError::InvalidCredentials,
            "refresh_token" => ApiError::RefreshTokenExpired,
            "confirm_password_reset" | "verify_email" => ApiError::OneTimeTokenInvalid,
            _ => ApiError::AccessTokenExpired,
        },
        "403" if matches!(op, "login" | "issue_token") => ApiError::EmailNotVerified,
        "403" => ApiError::Forbidden,
        "404" if path.contains("/tags") => ApiError::TagNotFound,
        "404" if path.contains("/sessions") => ApiError::SessionNotFound,
        "404" => ApiError::TodoNotFound,
        "409" if op == "register" => ApiError::EmailTaken,
        "409" => ApiError::TagNameConflict,
        "412" => ApiError::PreconditionFailed,
        "413" => ApiError::PayloadTooLarge,
        "415" => ApiError::UnsupportedMediaType,
        "422" => typical_invalid(op).map_or_else(
            || {
                invalid(
                    ErrorCode::VALIDATION_004,
                    "body",
                    "`body` has the wrong type: expected an object",
                )
            },
            |(code, field, msg)| invalid(code, field, msg),
        ),
        "429" => ApiError::RateLimited {
            retry_after_secs: 30,
        },
        "500" => ApiError::Internal(anyhow::anyhow!("example")),
        "503" => ApiError::Unavailable {
            retry_after_secs: 1,
        },
        _ => return None,
    })
}

/// The most typical 422 of `op`: code, field and message.
fn typical_invalid(op: &str) -> Option<(ErrorCode, &'static str, &'static str)> {
    use ErrorCode::*;
    Some(match op {
        "register" => (VALIDATION_002, "password", "Password too weak: add a digit"),
        "confirm_password_reset" => (
            VALIDATION_002,
            "new_password",
            "Password too weak: add a digit",
        ),
        "change_password" => (
            VALIDATION_007,
            "current_password",
            "Current password is incorrect",
        ),
        "delete_me" => (VALIDATION_007, "password", "Current password is incorrect"),
        "login" | "request_password_reset" => (
            VALIDATION_001,
            "email",
            "`email` is not a valid email address",
        ),
        "list_todos" | "list_tags" | "list_sessions" => {
            (VALIDATION_009, "limit", "`limit` must be between 1 and 100")
        }
        "create_todo" | "replace_todo" | "update_todo" => (
            VALIDATION_005,
            "title",
            "`title` is longer than 255 characters",
        ),
        "create_tag" | "update_tag" => (VALIDATION_009, "color", "`color` must be #RRGGBB"),
        "logout" => (
            VALIDATION_006,
            "scope",
            "`scope` must be one of `current`, `others`, `all`",
        ),
        "issue_token" => (
            VALIDATION_006,
            "grant_type",
            "`grant_type` must be `password`",
        ),
        "get_todo" | "delete_todo" | "toggle_todo" | "get_tag" | "delete_tag"
        | "delete_session" => (VALIDATION_009, "id", "`id` is not a valid UUID"),
        _ => return None,
    })
}

/// The example body of `err`.
fn error_example(err: &ApiError) -> Value {
    let mut body = err.body(REQUEST_ID).to_json().unwrap_or_default();
    body["timestamp"] = json!(AT);
    body
}

/// Examples of the header parameters (an entity tag of a todo's first version).
pub fn parameter_examples(doc: &mut Value) {
    for (_, op) in operations_mut(doc) {
        let params = op.get_mut("parameters").and_then(Value::as_array_mut);
        for p in params.into_iter().flatten() {
            if matches!(p["name"].as_str(), Some("If-Match" | "If-None-Match")) {
                p["example"] = json!("\"1\"");
            }
        }
    }
}

/// Puts an example on every error response of every operation.
pub fn error_examples(doc: &mut Value) {
    for (path, op) in operations_mut(doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        let Some(responses) = op["responses"].as_object_mut() else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            let media = response
                .get_mut("content")
                .and_then(|c| c.get_mut("application/json"))
                .and_then(Value::as_object_mut)
                .filter(|m| m["schema"]["$ref"] == "#/components/schemas/ErrorBody");
            let Some(media) = media else {
                continue;
            };
            if let Some(err) = typical_error(&id, path, status) {
                media.insert("example".to_owned(), error_example(&err));
            }
        }
    }
}

/// Examples of the schemas that do not declare one through poem-openapi's `Example`.
fn schema_example(name: &str) -> Option<Value> {
    let tag = json!({"id": "0b8f3c52-8a4e-4f7e-9a63-3d2f1c0e5a71", "name": "errands",
        "color": "#FF8800", "created_at": "2026-01-10T09:00:00Z", "updated_at": "2026-01-10T09:00:00Z"});
    let todo = json!({"id": "5d3a2b1c-4e6f-4a8b-9c0d-1e2f3a4b5c6d",
        "user_id": "8c7b6a59-4d3e-4f2a-8b1c-0d9e8f7a6b5c", "title": "Buy milk",
        "description": "Two litres, semi-skimmed", "is_completed": false, "priority": "high",
        "due_date": "2026-01-15T18:00:00Z", "tags": [tag], "created_at": "2026-01-12T08:15:00Z",
        "updated_at": "2026-01-12T08:15:00Z", "completed_at": null, "version": 1});
    let session = json!({"id": "2a4c6e80-1b3d-4f5a-8c7e-9d0f1a2b3c4d", "created_at": "2026-01-12T08:00:00Z",
        "last_used_at": "2026-01-12T09:30:00Z", "expires_at": "2026-01-19T09:30:00Z",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "ip": "203.0.113.7", "current": true});
    let page = |item: Value| json!({"items": [item], "total": 1, "skip": 0, "limit": 20, "has_more": false});
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4YzdiIn0.c2lnbmF0dXJl";
    Some(match name {
        "Tag" => tag,
        "Todo" => todo,
        "Session" => session,
        "TodoPage" => page(todo),
        "TagPage" => page(tag),
        "SessionPage" => page(session),
        "User" => json!({"id": "8c7b6a59-4d3e-4f2a-8b1c-0d9e8f7a6b5c", "email": "ada@example.com",
            "name": "Ada", "created_at": "2026-01-10T09:00:00Z", "updated_at": "2026-01-10T09:00:00Z",
            "last_login_at": "2026-01-12T08:00:00Z", "email_verified": true}),
        "TokenPair" => json!({"access_token": token, "refresh_token": token,
            "token_type": "bearer", "expires_in": 3600}),
        _ => request_example(name)?,
    })
}

/// Examples of the request (and small) schemas.
fn request_example(name: &str) -> Option<Value> {
    let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4YzdiIn0.c2lnbmF0dXJl";
    let link = "kQ2x7Vd9Jm4sTq1wYb8NcE3uRf6HgA0z";
    Some(match name {
        "LoginRequest" => json!({"email": "ada@example.com", "password": "Correct#Horse9"}),
        "TokenRequest" => json!({"grant_type": "password", "username": "ada@example.com",
            "password": "Correct#Horse9"}),
        "RefreshRequest" => json!({"refresh_token": token}),
        "LogoutRequest" => json!({"scope": "current"}),
        "ChangePasswordRequest" => json!({"current_password": "Correct#Horse9",
            "new_password": "Battery#Staple7"}),
        "DeleteAccountRequest" => json!({"password": "Correct#Horse9"}),
        "PasswordResetRequest" => json!({"email": "ada@example.com"}),
        "PasswordResetConfirm" => json!({"token": link, "new_password": "Battery#Staple7"}),
        "VerifyEmailRequest" => json!({"token": link}),
        "TodoPatch" => json!({"is_completed": true, "due_date": null}),
        "NewTag" => json!({"name": "errands", "color": "#FF8800"}),
        "TagPatch" => json!({"color": null}),
        "Message" => json!({"message": "Logged out"}),
        "ErrorDetails" => json!({"field": "title"}),
        "Health" => json!({"status": "healthy", "checks": {"database": true,
            "token_revocation": true, "mail": true}, "version": env!("CARGO_PKG_VERSION"),
            "timestamp": "2026-01-12T20:30:00Z"}),
        "HealthChecks" => json!({"database": true, "token_revocation": true, "mail": true}),
        "Live" => json!({"status": "alive"}),
        _ => return None,
    })
}

/// Puts an example on every object schema that lacks one. Enum schemas get none: their
/// values are the documentation, and Swagger UI would pre-fill every enum query
/// parameter of "Try it out" with an example (filtering lists by it).
pub fn schema_examples(doc: &mut Value) {
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if schema.get("example").is_some() {
            continue;
        }
        if let Some(example) = schema_example(name) {
            schema["example"] = example;
        }
    }
}
