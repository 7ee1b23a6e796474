//! The caller's sessions (`GET/DELETE /api/v1/auth/sessions`) and logout scopes.

use client_sdk::types::{self, ErrorCode};
use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::sdk_helpers::*;

/// Logs `email` in with `User-Agent: agent`.
async fn login_as(app: &TestApp, email: &str, agent: &str) -> types::TokenPair {
    let mut headers = HeaderMap::new();
    headers.insert(
        USER_AGENT,
        HeaderValue::from_str(agent).expect("a header value"),
    );
    let resp = with_headers(app, headers)
        .login()
        .body(login_body(email, STRONG_PASSWORD))
        .send()
        .await;
    expect_tokens(resp)
}

/// The caller's sessions (asserting 200): the page as JSON.
async fn sessions(app: &TestApp, access: &str, skip: u64, limit: u64) -> Value {
    let limit = std::num::NonZeroU64::new(limit).expect("a positive limit");
    let resp = bearer(app, access)
        .list_sessions()
        .skip(skip)
        .limit(limit)
        .send()
        .await;
    as_json(&expect_ok(resp, StatusCode::OK).into_inner())
}

fn ids(page: &Value) -> Vec<String> {
    let items = page["items"].as_array().expect("items");
    items
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Ends session `id` with `access`, unchecked.
async fn end(app: &TestApp, access: &str, id: Uuid) -> SdkResult<()> {
    bearer(app, access).delete_session().id(id).send().await
}

async fn logout(app: &TestApp, access: &str, scope: types::LogoutScope) {
    let body = types::LogoutRequest::builder().scope(scope);
    let resp = bearer(app, access).logout().body(body).send().await;
    expect_ok(resp, StatusCode::OK);
}

/// Sessions of `email` not ended, in the database.
async fn live_rows(app: &TestApp, email: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE u.email = '{email}' AND s.revoked_at IS NULL"
    ))
    .await
}

both_backends! {
    /// One session per login, most recently used first, with the login's User-Agent
    /// (cut to 255 characters) and address; a refresh moves its session to the top and
    /// stays the same session.
    async fn sessions_are_listed_most_recently_used_first(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, first) = sdk_user(&app).await;
        let second = login_as(&app, &email, "Second/1.0").await;
        let long = "L".repeat(300);
        let third = login_as(&app, &email, &long).await;

        let page = sessions(&app, &third.access_token, 0, 20).await;
        let expected: Vec<String> = [&third, &second, &first]
            .iter()
            .map(|t| session_id(&t.access_token).to_string())
            .collect();
        assert_eq!(ids(&page), expected, "{page}");
        assert_eq!((page["total"].as_i64(), page["has_more"].as_bool()), (Some(3), Some(false)));
        let items = page["items"].as_array().unwrap();
        let current: Vec<bool> = items.iter().map(|s| s["current"].as_bool().unwrap()).collect();
        assert_eq!(current, [true, false, false], "{page}");
        assert_eq!(items[0]["user_agent"], "L".repeat(255));
        assert_eq!(items[1]["user_agent"], "Second/1.0");
        assert_eq!(items[2]["user_agent"], Value::Null, "the SDK sends no User-Agent");
        for s in items {
            assert_eq!(s["ip"], "127.0.0.1", "{s}");
            assert!(s["expires_at"].as_str() > s["last_used_at"].as_str(), "{s}");
        }
        let stored = app
            .count(&format!(
                "SELECT COUNT(*) FROM sessions WHERE user_agent = '{}'",
                "L".repeat(255)
            ))
            .await;
        assert_eq!(stored, 1, "the stored User-Agent is cut to 255 characters");

        // Refreshing the first session makes it the most recently used; still one session.
        let rotated = sdk_refresh(&app, &first.refresh_token).await;
        assert_eq!(session_id(&rotated.access_token), session_id(&first.access_token));
        let page = sessions(&app, &rotated.access_token, 0, 20).await;
        assert_eq!(ids(&page)[0], session_id(&first.access_token).to_string(), "{page}");
        assert_eq!(page["total"], 3);
        assert_eq!(page["items"][0]["current"], true);
        assert!(page["items"][0]["last_used_at"].as_str() > page["items"][0]["created_at"].as_str());

        // Paging like the other lists.
        let first_two = sessions(&app, &third.access_token, 0, 2).await;
        assert_eq!((first_two["items"].as_array().unwrap().len(), first_two["has_more"].as_bool()), (2, Some(true)));
        let rest = sessions(&app, &third.access_token, 2, 2).await;
        assert_eq!((ids(&rest).len(), rest["has_more"].as_bool(), rest["skip"].as_i64()), (1, Some(false), Some(2)));
        // Raw: the SDK's types cannot send a limit of 0.
        let raw = RawClient { app: &app, token: third.access_token.clone() };
        let bad = raw.send(reqwest::Method::GET, "/api/v1/auth/sessions?limit=0", None, None).await;
        assert_field_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_009", "limit").await;
    }

    /// Ending a session refuses its refresh token and its access tokens; the others
    /// stay; ended, unknown and other users' sessions are all RESOURCE_004.
    async fn ending_a_session_refuses_its_tokens(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, doomed) = sdk_user(&app).await;
        let kept = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let (_, stranger) = sdk_user(&app).await;
        me_ok(&app, &doomed.access_token).await;

        let doomed_sid = session_id(&doomed.access_token);
        expect_ok(end(&app, &kept.access_token, doomed_sid).await, StatusCode::NO_CONTENT);
        me_refused(&app, &doomed.access_token, ErrorCode::Auth004).await;
        refresh_refused(&app, &doomed.refresh_token, ErrorCode::Auth004).await;
        me_ok(&app, &kept.access_token).await;
        let page = sessions(&app, &kept.access_token, 0, 20).await;
        assert_eq!(ids(&page), [session_id(&kept.access_token).to_string()]);
        assert_eq!(live_rows(&app, &email).await, 1);

        for id in [doomed_sid, Uuid::new_v4(), session_id(&stranger.access_token)] {
            let resp = end(&app, &kept.access_token, id).await;
            expect_error(resp, StatusCode::NOT_FOUND, ErrorCode::Resource004);
        }
        me_ok(&app, &stranger.access_token).await;
        let raw = RawClient { app: &app, token: kept.access_token.clone() };
        let resp = raw.send(reqwest::Method::DELETE, "/api/v1/auth/sessions/not-a-uuid", None, None).await;
        assert_field_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_009", "id").await;

        // The caller may end its own session: its token stops working at once.
        expect_ok(end(&app, &kept.access_token, session_id(&kept.access_token)).await, StatusCode::NO_CONTENT);
        me_refused(&app, &kept.access_token, ErrorCode::Auth004).await;
        assert_eq!(live_rows(&app, &email).await, 0);
    }

    /// `others` ends every session but the caller's, `all` every session; an unknown
    /// scope is VALIDATION_006.
    async fn logout_scopes_end_other_or_all_sessions(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, a) = sdk_user(&app).await;
        let b = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let c = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let (_, other_user) = sdk_user(&app).await;

        logout(&app, &a.access_token, types::LogoutScope::Others).await;
        me_ok(&app, &a.access_token).await;
        for t in [&b, &c] {
            me_refused(&app, &t.access_token, ErrorCode::Auth004).await;
            refresh_refused(&app, &t.refresh_token, ErrorCode::Auth004).await;
        }
        assert_eq!(live_rows(&app, &email).await, 1);

        let d = sdk_login(&app, &email, STRONG_PASSWORD).await;
        logout(&app, &a.access_token, types::LogoutScope::All).await;
        for t in [&a, &d] {
            me_refused(&app, &t.access_token, ErrorCode::Auth004).await;
            refresh_refused(&app, &t.refresh_token, ErrorCode::Auth004).await;
        }
        assert_eq!(live_rows(&app, &email).await, 0);
        me_ok(&app, &other_user.access_token).await;

        // `current` is the default and keeps the others.
        let e = sdk_login(&app, &email, STRONG_PASSWORD).await;
        let f = sdk_login(&app, &email, STRONG_PASSWORD).await;
        logout(&app, &e.access_token, types::LogoutScope::Current).await;
        me_refused(&app, &e.access_token, ErrorCode::Auth004).await;
        me_ok(&app, &f.access_token).await;

        // Raw: the SDK's enum cannot send an unknown scope.
        let resp = app.logout(&f.access_token, Some(json!({"scope": "everyone"}))).await;
        assert_field_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_006", "scope").await;
        me_ok(&app, &f.access_token).await;
    }
}
