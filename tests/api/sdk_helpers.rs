//! Helpers for calling the service through the generated Rust SDK (`client_sdk`), shared
//! by every suite: clients, typed success and error assertions, users and todos.
//!
//! The SDK is generated from the committed `openapi.yaml` at build time, so a breaking
//! change of the spec breaks the build of every test that goes through these helpers.

use client_sdk::types::{self, ErrorCode};
use client_sdk::{authenticated_client, Client, Error, ResponseValue};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

pub type SdkResult<T> = Result<ResponseValue<T>, Error<types::ErrorBody>>;

/// A client without credentials (and without a proxy).
pub fn anonymous(app: &impl Served) -> Client {
    Client::new_with_client(app.base_url(), http_client())
}

/// A client that sends `Authorization: Bearer <access>`.
pub fn bearer(app: &impl Served, access: &str) -> Client {
    authenticated_client(app.base_url(), access).expect("an authenticated client")
}

/// A client that adds `headers` to every request (e.g. `X-Request-ID`, or an
/// `Authorization` header `authenticated_client` would not build).
pub fn with_headers(app: &impl Served, headers: HeaderMap) -> Client {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("build the HTTP client");
    Client::new_with_client(app.base_url(), http)
}

/// A raw response read as the SDK would read a success (status and headers kept), for
/// the typed assertions after a request the SDK cannot send.
pub async fn raw_typed<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> SdkResult<T> {
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.expect("a readable body");
    let inner = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: not the expected body ({e}): {text}"));
    Ok(ResponseValue::new(inner, status, headers))
}

/// A raw token response asserted like [`expect_tokens`]; returns the pair.
pub async fn raw_tokens(resp: reqwest::Response) -> types::TokenPair {
    expect_tokens(raw_typed(resp).await)
}

/// Asserts a typed success with `status` and returns it (headers still available).
#[track_caller]
pub fn expect_ok<T: std::fmt::Debug>(result: SdkResult<T>, status: StatusCode) -> ResponseValue<T> {
    match result {
        Ok(resp) => {
            assert_eq!(resp.status(), status, "{resp:?}");
            resp
        }
        Err(e) => panic!("expected {status}, got {e:?}"),
    }
}

/// Asserts a declared error response (`Error::ErrorResponse`) with `status` and `code`,
/// a JSON content type and a `request_id` equal to the `X-Request-ID` header; returns
/// the typed response (headers still available).
#[track_caller]
pub fn expect_error_response<T: std::fmt::Debug>(
    result: SdkResult<T>,
    status: StatusCode,
    code: ErrorCode,
) -> ResponseValue<types::ErrorBody> {
    match result {
        Err(Error::ErrorResponse(resp)) => {
            assert_eq!(resp.status(), status, "{resp:?}");
            assert_eq!(resp.error_code, code, "{resp:?}");
            assert!(!resp.message.is_empty(), "{resp:?}");
            assert!(
                header(&resp, "content-type").starts_with("application/json"),
                "{resp:?}"
            );
            assert_eq!(
                header(&resp, "x-request-id"),
                resp.request_id,
                "request_id is X-Request-ID"
            );
            resp
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

/// Like [`expect_error_response`]; returns the typed body.
#[track_caller]
pub fn expect_error<T: std::fmt::Debug>(
    result: SdkResult<T>,
    status: StatusCode,
    code: ErrorCode,
) -> types::ErrorBody {
    expect_error_response(result, status, code).into_inner()
}

/// Like [`expect_error`], also checking `details.field`.
#[track_caller]
pub fn expect_field_error<T: std::fmt::Debug>(
    result: SdkResult<T>,
    status: StatusCode,
    code: ErrorCode,
    field: &str,
) -> types::ErrorBody {
    let body = expect_error(result, status, code);
    assert_eq!(body.details.field.as_deref(), Some(field), "{body:?}");
    body
}

/// A response header as text (panics when absent).
#[track_caller]
pub fn header<T>(resp: &ResponseValue<T>, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("an ASCII header")
        .to_owned()
}

/// A typed value as JSON, to compare types that do not implement `PartialEq` or to
/// search the whole of a typed body.
pub fn as_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("a typed value serializes")
}

pub fn tag_item(name: &str) -> types::TodoInputTagsItem {
    name.parse().expect("a valid tag name")
}

/// An RFC 3339 instant.
pub fn utc(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().expect("an RFC 3339 instant")
}

/// A `TodoPatch` that only changes the title.
pub fn patch_title(title: &str) -> types::builder::TodoPatch {
    types::TodoPatch::builder().title(Some(title.parse().expect("a valid title")))
}

/// `RegisterRequest` without a name.
pub fn register_body(email: &str, password: &str) -> types::builder::RegisterRequest {
    types::RegisterRequest::builder()
        .email(email)
        .password(password)
}

/// `LoginRequest`.
pub fn login_body(email: &str, password: &str) -> types::builder::LoginRequest {
    types::LoginRequest::builder()
        .email(email)
        .password(password)
}

/// `RefreshRequest`.
pub fn refresh_body(refresh_token: &str) -> types::builder::RefreshRequest {
    types::RefreshRequest::builder().refresh_token(refresh_token)
}

/// `ChangePasswordRequest`.
pub fn change_password_body(current: &str, new: &str) -> types::builder::ChangePasswordRequest {
    types::ChangePasswordRequest::builder()
        .current_password(current)
        .new_password(new)
}

/// The OAuth2 password grant for `username` (no scope).
pub fn password_grant(username: &str, password: &str) -> types::TokenRequest {
    types::TokenRequest {
        grant_type: types::TokenRequestGrantType::Password,
        username: username.parse().expect("a username the SDK accepts"),
        password: password.parse().expect("a password the SDK accepts"),
        scope: None,
    }
}

/// Asserts a 200 `TokenPair` holding two JWTs with a positive lifetime; returns it.
#[track_caller]
pub fn expect_tokens(result: SdkResult<types::TokenPair>) -> types::TokenPair {
    let tokens = expect_ok(result, StatusCode::OK).into_inner();
    assert_eq!(tokens.token_type, types::TokenType::Bearer);
    assert!(tokens.expires_in > 0, "{tokens:?}");
    assert_eq!(
        tokens.access_token.split('.').count(),
        3,
        "access token is a JWT"
    );
    assert_eq!(
        tokens.refresh_token.split('.').count(),
        3,
        "refresh token is a JWT"
    );
    tokens
}

/// Logs in through the SDK, asserting a `TokenPair`.
pub async fn sdk_login(app: &impl Served, email: &str, password: &str) -> types::TokenPair {
    expect_tokens(
        anonymous(app)
            .login()
            .body(login_body(email, password))
            .send()
            .await,
    )
}

/// Sends `refresh_token` to the `refresh_token` operation, unchecked.
async fn refresh(app: &impl Served, refresh_token: &str) -> SdkResult<types::TokenPair> {
    anonymous(app)
        .refresh_token()
        .body(refresh_body(refresh_token))
        .send()
        .await
}

/// Rotates `refresh_token` through the SDK, asserting a `TokenPair`.
pub async fn sdk_refresh(app: &impl Served, refresh_token: &str) -> types::TokenPair {
    expect_tokens(refresh(app, refresh_token).await)
}

/// Registers and logs in a fresh user (password [`STRONG_PASSWORD`]) through the SDK:
/// `(email, tokens)`.
pub async fn sdk_user(app: &impl Served) -> (String, types::TokenPair) {
    let email = unique_email();
    expect_ok(
        anonymous(app)
            .register()
            .body(register_body(&email, STRONG_PASSWORD))
            .send()
            .await,
        StatusCode::CREATED,
    );
    let tokens = sdk_login(app, &email, STRONG_PASSWORD).await;
    (email, tokens)
}

/// Asserts that `get_me` with `access` succeeds (200); returns the user.
pub async fn me_ok(app: &impl Served, access: &str) -> types::User {
    expect_ok(bearer(app, access).get_me().send().await, StatusCode::OK).into_inner()
}

/// Asserts that `get_me` with `access` fails with 401 and `code`.
pub async fn me_refused(app: &impl Served, access: &str, code: ErrorCode) -> types::ErrorBody {
    expect_error(
        bearer(app, access).get_me().send().await,
        StatusCode::UNAUTHORIZED,
        code,
    )
}

/// Asserts that rotating `refresh_token` fails with 401 and `code`.
pub async fn refresh_refused(
    app: &impl Served,
    refresh_token: &str,
    code: ErrorCode,
) -> types::ErrorBody {
    expect_error(
        refresh(app, refresh_token).await,
        StatusCode::UNAUTHORIZED,
        code,
    )
}

/// Asserts a todo response with `status` whose `ETag` is `"<version>"`; returns the todo.
#[track_caller]
pub fn expect_todo(result: SdkResult<types::Todo>, status: StatusCode) -> types::Todo {
    let resp = expect_ok(result, status);
    let etag = header(&resp, "etag");
    let todo = resp.into_inner();
    assert_eq!(etag, format!("\"{}\"", todo.version), "{todo:?}");
    todo
}

/// Creates a todo, asserting 201 with `Location` and `ETag`.
pub async fn create_todo(client: &Client, input: types::builder::TodoInput) -> types::Todo {
    let resp = expect_ok(
        client.create_todo().body(input).send().await,
        StatusCode::CREATED,
    );
    let location = header(&resp, "location");
    let todo = expect_todo(Ok(resp), StatusCode::CREATED);
    assert_eq!(location, format!("/api/v1/todos/{}", todo.id));
    todo
}

/// Asserts a 200 page of todos; returns it.
#[track_caller]
pub fn expect_page(result: SdkResult<types::TodoPage>) -> types::TodoPage {
    expect_ok(result, StatusCode::OK).into_inner()
}

/// The titles of a list request's page, in order (asserting 200).
pub async fn titles(request: client_sdk::builder::ListTodos<'_>) -> Vec<String> {
    let page = expect_page(request.send().await);
    page.items.into_iter().map(|t| t.title).collect()
}

/// A fresh user, registered through the SDK: its SDK client, and a raw client with the
/// same token for the requests the SDK cannot send.
pub async fn user(app: &TestApp) -> (Client, RawClient<'_>) {
    let (_, tokens) = sdk_user(app).await;
    let raw = RawClient {
        app,
        token: tokens.access_token.clone(),
    };
    (bearer(app, &tokens.access_token), raw)
}
