//! Quickstart for the generated Todo API client.
//!
//! Start a server, then:
//!
//! ```text
//! TODO_API_URL=http://127.0.0.1:8000 cargo run -p client-sdk --example quickstart
//! ```
//!
//! Registers a fresh user, logs in, creates a todo with tags, lists todos, patches the
//! todo with `If-Match` taken from its `ETag`, shows the typed error a stale ETag gets,
//! rotates the refresh token and logs out.

use std::time::{SystemTime, UNIX_EPOCH};

use client_sdk::{authenticated_client, types, Client, Error, ResponseValue};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let base_url =
        std::env::var("TODO_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".to_owned());
    let anonymous = Client::new(&base_url);

    // 1. Register a unique user.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let email = format!("sdk-quickstart-{nanos}@example.com");
    let password = "Quickstart#2026";
    let user = anonymous
        .register()
        .body(
            types::RegisterRequest::builder()
                .email(email.as_str())
                .password(password)
                .name(Some("SDK Quickstart".parse()?)),
        )
        .send()
        .await?
        .into_inner();
    println!("registered  {} ({})", *user.email, user.id);

    // 2. Log in and build a client that sends the bearer token.
    let tokens = anonymous
        .login()
        .body(
            types::LoginRequest::builder()
                .email(email.as_str())
                .password(password),
        )
        .send()
        .await?
        .into_inner();
    println!(
        "logged in   token_type={} expires_in={}s",
        tokens.token_type, tokens.expires_in
    );
    let client = authenticated_client(&base_url, &tokens.access_token)?;

    // 3. Create a todo with tags. `Location` and `ETag` are read from the raw headers.
    let created = client
        .create_todo()
        .body(
            types::TodoInput::builder()
                .title("Buy milk")
                .description(Some("Two litres, semi-skimmed".parse()?))
                .priority(Some(types::Priority::High))
                .tags(vec!["errands".parse()?, "home".parse()?]),
        )
        .send()
        .await?;
    let location = header(&created, "location");
    let etag = header(&created, "etag");
    let status = created.status().as_u16();
    let todo = created.into_inner();
    println!(
        "created     {} {:?} priority={} tags={:?} version={}",
        todo.id,
        todo.title,
        todo.priority,
        todo.tags
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        todo.version
    );
    println!("            HTTP {status} Location={location} ETag={etag}");

    // 4. List todos (first page, open ones, newest first).
    let page = client
        .list_todos()
        .is_completed(false)
        .limit(10)
        .sort_by(types::SortBy::CreatedAt)
        .sort_order(types::SortOrder::Desc)
        .send()
        .await?
        .into_inner();
    println!(
        "listed      total={} has_more={} titles={:?}",
        page.total,
        page.has_more,
        page.items
            .iter()
            .map(|t| t.title.as_str())
            .collect::<Vec<_>>()
    );

    // 5. Patch it, guarded by the ETag we got at creation.
    let patched = client
        .update_todo()
        .id(todo.id)
        .if_match(etag.clone())
        .body(
            types::TodoPatch::builder()
                .title(Some("Buy oat milk".parse()?))
                .is_completed(Some(true)),
        )
        .send()
        .await?;
    let new_etag = header(&patched, "etag");
    let patched = patched.into_inner();
    println!(
        "patched     {:?} is_completed={} completed_at={:?} version={} ETag={new_etag}",
        patched.title,
        patched.is_completed,
        patched.completed_at.map(|t| t.to_rfc3339()),
        patched.version
    );

    // 6. The same (now stale) ETag is refused: a typed error with a stable code.
    match client
        .update_todo()
        .id(todo.id)
        .if_match(etag)
        .body(types::TodoPatch::builder().priority(Some(types::Priority::Low)))
        .send()
        .await
    {
        Err(Error::ErrorResponse(resp)) => println!(
            "stale ETag  HTTP {} {} {:?} (request_id {})",
            resp.status().as_u16(),
            resp.error_code,
            resp.message,
            resp.request_id
        ),
        Ok(resp) => println!("stale ETag  unexpectedly accepted: {}", resp.status()),
        Err(e) => return Err(e.into()),
    }

    // 7. Rotate the refresh token, then log out with the new pair.
    let rotated = anonymous
        .refresh_token()
        .body(types::RefreshRequest::builder().refresh_token(tokens.refresh_token.as_str()))
        .send()
        .await?
        .into_inner();
    println!("refreshed   got a new access and refresh token");
    let client = authenticated_client(&base_url, &rotated.access_token)?;
    let bye = client
        .logout()
        .body(types::LogoutRequest::builder().refresh_token(Some(rotated.refresh_token.parse()?)))
        .send()
        .await?
        .into_inner();
    println!("logged out  {:?}", bye.message);

    // 8. The revoked token is refused with AUTH_004.
    match client.get_me().send().await {
        Err(Error::ErrorResponse(resp)) => println!(
            "after logout HTTP {} {}",
            resp.status().as_u16(),
            resp.error_code
        ),
        other => println!("after logout unexpected: {other:?}"),
    }
    Ok(())
}

/// A response header as text (`"-"` when absent): progenitor exposes headers only raw.
fn header<T>(resp: &ResponseValue<T>, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}
