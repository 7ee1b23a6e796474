//! The users external tokens make: created on the first valid token, keyed by
//! (issuer, subject) and never linked to a local account by email, their profile kept
//! current; the whole todo API works for them (isolation, 403 across users); logout
//! revokes the presented token; password operations are AUTHZ_003.

use client_sdk::types::{self, ErrorCode};
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::json;

use super::issuer::{claims, JwksServer, TestKey};
use super::spawn_trusting;
use crate::helpers::*;
use crate::sdk_helpers::*;

fn titled(title: &str) -> types::builder::TodoInput {
    types::TodoInput::builder().title(title)
}

both_backends! {
    /// The first token creates the user (no password that could ever verify); later
    /// tokens of the subject reach the same user, whose email, name and verification
    /// follow the claims that are present.
    async fn first_token_creates_the_user_and_claims_keep_it_current(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let first = me_ok(&app, &ed.sign(&claims("u-1", 600))).await;
        assert_eq!(first.name.as_deref().map(|n| n.as_str()), Some("Person u-1"));
        assert!(first.last_login_at.is_some());
        let mut c = claims("u-1", 600);
        c["email"] = json!("new@people.example");
        c["name"] = json!("Renamed");
        c["email_verified"] = json!(false);
        let second = me_ok(&app, &ed.sign(&c)).await;
        assert_eq!(second.id, first.id);
        assert_eq!(second.email.as_str(), "new@people.example");
        assert_eq!(second.name.as_deref().map(|n| n.as_str()), Some("Renamed"));
        assert!(!second.email_verified);
        // Claims left out keep what is stored.
        let mut bare = claims("u-1", 600);
        for k in ["email", "name", "email_verified"] {
            bare.as_object_mut().unwrap().remove(k);
        }
        let third = me_ok(&app, &ed.sign(&bare)).await;
        assert_eq!(third.email.as_str(), "new@people.example");
        assert_eq!(third.name.as_deref().map(|n| n.as_str()), Some("Renamed"));
        let sql = "SELECT COUNT(*) FROM users WHERE external_subject = 'u-1' \
                   AND password_hash NOT LIKE '$argon2%'";
        assert_eq!(app.count(sql).await, 1, "one user, with no password hash");
        // A subject whose token carries no email at all.
        let nobody = me_ok(&app, &ed.sign(&bare_claims("u-2"))).await;
        assert_eq!(nobody.email.as_str(), "");
    }

    /// A local account and an external user with the same address are two users: the
    /// external token never reaches the local account, the password never logs into
    /// the external user.
    async fn never_linked_to_a_local_account_by_email(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let email = "shared@people.example";
        let local = expect_ok(
            anonymous(&app).register().body(register_body(email, STRONG_PASSWORD)).send().await,
            StatusCode::CREATED,
        )
        .into_inner();
        let mut c = claims("shared", 600);
        c["email"] = json!(email);
        let external = me_ok(&app, &ed.sign(&c)).await;
        assert_ne!(external.id, local.id);
        let tokens = sdk_login(&app, email, STRONG_PASSWORD).await;
        assert_eq!(me_ok(&app, &tokens.access_token).await.id, local.id);
        // A second external user with that address, and the address re-registered: fine / 409.
        let mut c2 = claims("shared-2", 600);
        c2["email"] = json!(email);
        me_ok(&app, &ed.sign(&c2)).await;
        let again = anonymous(&app).register().body(register_body(email, STRONG_PASSWORD)).send().await;
        expect_error(again, StatusCode::CONFLICT, ErrorCode::Validation003);
    }

    /// Todos and tags of external users: isolation, 403 AUTHZ_001 across users (an
    /// external one and a local one), ETags as usual.
    async fn external_users_use_the_todo_api(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let alice = bearer(&app, &ed.sign(&claims("alice", 600)));
        let bob = bearer(&app, &ed.sign(&claims("bob", 600)));
        let todo = create_todo(&alice, titled("alice's")).await;
        create_todo(&bob, titled("bob's")).await;
        let page = expect_page(alice.list_todos().send().await);
        assert_eq!(page.items.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["alice's"]);
        let denied = bob.get_todo().id(todo.id).send().await;
        expect_error(denied, StatusCode::FORBIDDEN, ErrorCode::Authz001);
        let (local, _) = user(&app).await;
        expect_error(local.get_todo().id(todo.id).send().await, StatusCode::FORBIDDEN, ErrorCode::Authz001);
        let done = expect_todo(alice.toggle_todo().id(todo.id).if_match("\"1\"").send().await, StatusCode::OK);
        assert!(done.is_completed && done.version == 2);
        let tag = alice.create_tag().body(types::NewTag::builder().name("work")).send().await;
        expect_ok(tag, StatusCode::CREATED);
    }

    /// Logout revokes the presented external token here (until its `exp`); another
    /// token of the same user still works; scopes beyond `current` are AUTHZ_003.
    async fn logout_revokes_the_external_token(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let mut c = claims("leaving", 600);
        c["jti"] = json!("jti-1");
        let token = ed.sign(&c);
        let all = bearer(&app, &token).logout().body(types::LogoutRequest::builder().scope(types::LogoutScope::All)).send().await;
        expect_error(all, StatusCode::FORBIDDEN, ErrorCode::Authz003);
        me_ok(&app, &token).await;
        let sessions = expect_ok(bearer(&app, &token).list_sessions().send().await, StatusCode::OK);
        assert_eq!(sessions.total, 0, "no sessions here");
        expect_ok(bearer(&app, &token).logout().body(types::LogoutRequest::builder()).send().await, StatusCode::OK);
        me_refused(&app, &token, ErrorCode::Auth004).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM revoked_tokens").await, 1);
        c["jti"] = json!("jti-2");
        me_ok(&app, &ed.sign(&c)).await;
        // Without a jti (Better Auth sends none), the token itself is what is revoked.
        let plain = ed.sign(&claims("leaving", 601));
        expect_ok(bearer(&app, &plain).logout().body(types::LogoutRequest::builder()).send().await, StatusCode::OK);
        me_refused(&app, &plain, ErrorCode::Auth004).await;
        me_ok(&app, &ed.sign(&claims("leaving", 602))).await;
    }

    /// Password operations make no sense for an external user: AUTHZ_003; a disabled
    /// external user is AUTH_007.
    async fn password_operations_are_authz_003(backend: Backend) {
        let ed = TestKey::generate(Algorithm::EdDSA);
        let jwks = JwksServer::start(&[&ed]).await;
        let app = spawn_trusting(backend, &jwks, &[]).await;
        let token = ed.sign(&claims("pw", 600));
        let client = bearer(&app, &token);
        let change = client.change_password().body(change_password_body(STRONG_PASSWORD, "Other#Horse9")).send().await;
        expect_error(change, StatusCode::FORBIDDEN, ErrorCode::Authz003);
        let delete = client.delete_me().body(types::DeleteAccountRequest::builder().password(STRONG_PASSWORD)).send().await;
        expect_error(delete, StatusCode::FORBIDDEN, ErrorCode::Authz003);
        expect_ok(client.resend_verification().send().await, StatusCode::ACCEPTED);
        assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0, "no mail to external users");
        let login = anonymous(&app).login().body(login_body("pw@people.example", STRONG_PASSWORD)).send().await;
        expect_error(login, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        let id = me_ok(&app, &token).await.id;
        assert_eq!(app.deactivate_user(id).await, 1);
        me_refused(&app, &token, ErrorCode::Auth007).await;
    }
}

/// Claims without any profile (an OIDC access token often has none).
fn bare_claims(sub: &str) -> serde_json::Value {
    let mut c = claims(sub, 600);
    for k in ["email", "name", "email_verified"] {
        c.as_object_mut().unwrap().remove(k);
    }
    c
}
