//! Deleting one's account (`DELETE /api/v1/auth/me`). The test servers have no mail
//! transport, so the registration's verification mail (and its token) are still there to
//! be deleted with the account.

use client_sdk::types::{self, ErrorCode};
use client_sdk::Client;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::*;
use crate::sdk_helpers::*;

fn delete_body(password: &str) -> types::builder::DeleteAccountRequest {
    types::DeleteAccountRequest::builder().password(password)
}

/// Rows of `user` in each table that holds the user's data.
async fn rows_of(app: &TestApp, user: Uuid) -> Vec<(&'static str, i64)> {
    let mut counts = vec![];
    for (table, sql) in [
        ("users", "SELECT COUNT(*) FROM users WHERE id = $1"),
        ("todos", "SELECT COUNT(*) FROM todos WHERE user_id = $1"),
        ("tags", "SELECT COUNT(*) FROM tags WHERE user_id = $1"),
        (
            "todo_tags",
            "SELECT COUNT(*) FROM todo_tags tt JOIN tags t ON t.id = tt.tag_id WHERE t.user_id = $1",
        ),
        ("sessions", "SELECT COUNT(*) FROM sessions WHERE user_id = $1"),
        ("revoked_tokens", "SELECT COUNT(*) FROM revoked_tokens WHERE user_id = $1"),
        ("one_time_tokens", "SELECT COUNT(*) FROM one_time_tokens WHERE user_id = $1"),
        ("outbox", "SELECT COUNT(*) FROM outbox WHERE user_id = $1"),
    ] {
        let n = on_pool!(&app.db, |p| sqlx::query_scalar::<_, i64>(sql)
            .bind(user)
            .fetch_one(p)
            .await)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        counts.push((table, n));
    }
    counts
}

/// A todo with a tag, and a tag of its own.
async fn some_data(client: &Client) {
    let todo = types::TodoInput::builder()
        .title("Milk")
        .tags(vec![tag_item("shopping")]);
    create_todo(client, todo).await;
    let tag = types::NewTag::builder().name("spare");
    expect_ok(
        client.create_tag().body(tag).send().await,
        StatusCode::CREATED,
    );
}

both_backends! {
    /// A wrong password changes nothing; the right one removes the user and all its
    /// rows at once, and every token of the user is AUTH_007 from then on.
    async fn deleting_the_account_removes_everything_of_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, first) = sdk_user(&app).await;
        let second = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let ended = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let logout = types::LogoutRequest::builder().refresh_token(None);
        expect_ok(bearer(&app, &ended.access_token).logout().body(logout).send().await, StatusCode::OK);
        let user = me_ok(&app, &first.access_token).await.id;
        some_data(&bearer(&app, &first.access_token)).await;
        let (_, bystander) = sdk_user(&app).await;
        some_data(&bearer(&app, &bystander.access_token)).await;
        let bystander_id = me_ok(&app, &bystander.access_token).await.id;
        let before = rows_of(&app, user).await;
        assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");

        let wrong = bearer(&app, &first.access_token).delete_me().body(delete_body("Wrong#Horse9")).send().await;
        expect_field_error(wrong, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Validation007, "password");
        assert_eq!(rows_of(&app, user).await, before, "nothing deleted");
        me_ok(&app, &second.access_token).await;

        let resp = bearer(&app, &first.access_token).delete_me().body(delete_body(STRONG_PASSWORD)).send().await;
        expect_ok(resp, StatusCode::NO_CONTENT);
        let after = rows_of(&app, user).await;
        assert!(after.iter().all(|(_, n)| *n == 0), "{after:?}");
        assert_eq!(rows_of(&app, bystander_id).await[..3], before[..3], "other users keep theirs");

        for t in [&first, &second] {
            me_refused(&app, &t.access_token, ErrorCode::Auth007).await;
            refresh_refused(&app, &t.refresh_token, ErrorCode::Auth007).await;
        }
        let again = bearer(&app, &second.access_token).delete_me().body(delete_body(STRONG_PASSWORD)).send().await;
        expect_error(again, StatusCode::UNAUTHORIZED, ErrorCode::Auth007);
        let login = anonymous(&app).login().body(login_body(&email, STRONG_PASSWORD)).send().await;
        expect_error(login, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        // The address is free again.
        let r = anonymous(&app).register().body(register_body(&email, STRONG_PASSWORD)).send().await;
        assert_ne!(expect_ok(r, StatusCode::CREATED).into_inner().id, user);
        me_ok(&app, &bystander.access_token).await;
    }

    /// Wrong passwords count against the current-password limit: after five, even the
    /// right one is refused (429) and the account stays.
    async fn account_deletion_guesses_are_limited(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, tokens) = sdk_user(&app).await;
        let stolen = bearer(&app, &tokens.access_token);
        for i in 0..5 {
            let r = stolen.delete_me().body(delete_body(&format!("Guess#{i}Wrong"))).send().await;
            expect_field_error(r, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Validation007, "password");
        }
        let r = stolen.delete_me().body(delete_body(STRONG_PASSWORD)).send().await;
        let limited = expect_error_response(r, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        let retry: u64 = header(&limited, "retry-after").parse().expect("whole seconds");
        assert!(retry >= 1, "Retry-After {retry}");
        me_ok(&app, &tokens.access_token).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }
}
