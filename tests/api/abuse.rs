//! Abuse of the credential checks: guessing a current password with a stolen access
//! token, credential stuffing spread over many addresses, and rate-limit keys that an
//! IPv6 client or an IPv4-mapped spelling could multiply.

use client_sdk::types::ErrorCode;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::sdk_helpers::*;

/// A client whose requests say they were forwarded for `ip` (the test server trusts
/// the loopback peer as its proxy).
fn forwarded_for(app: &TestApp, ip: &str) -> client_sdk::Client {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_str(ip).unwrap());
    with_headers(app, headers)
}

#[track_caller]
fn retry_after<T>(resp: &client_sdk::ResponseValue<T>) -> u64 {
    let secs: u64 = header(resp, "retry-after").parse().expect("whole seconds");
    assert!(secs >= 1, "Retry-After {secs}");
    secs
}

both_backends! {
    /// Five wrong current passwords, then even the right one is refused (429) and
    /// the password stays what it was.
    async fn current_password_guesses_are_limited_per_user(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let stolen = bearer(&app, &tokens.access_token);
        for i in 0..5 {
            let guess = change_password_body(&format!("Guess#{i}Wrong"), "Attacker#Pass1");
            let r = stolen.change_password().body(guess).send().await;
            expect_field_error(r, StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Validation007, "current_password");
        }
        let right = change_password_body(STRONG_PASSWORD, "Attacker#Pass1");
        let r = stolen.change_password().body(right).send().await;
        let limited = expect_error_response(r, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        assert!(retry_after(&limited) > 60, "a 15-minute window");
        // Nothing changed: the old password still logs in, the attacker's does not.
        sdk_login(&app, &email, STRONG_PASSWORD).await;
        let r = anonymous(&app).login().body(login_body(&email, "Attacker#Pass1")).send().await;
        expect_error(r, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    }

    /// A right current password does not count: a user who types it right keeps
    /// their whole allowance for mistakes.
    async fn right_current_passwords_do_not_count(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (email, tokens) = sdk_user(&app).await;
        let mut password = STRONG_PASSWORD.to_owned();
        let mut access = tokens.access_token;
        for i in 0..6 {
            let next = format!("Rotated#{i}Pass");
            let r = bearer(&app, &access).change_password().body(change_password_body(&password, &next)).send().await;
            expect_ok(r, StatusCode::OK);
            password = next;
            access = sdk_login(&app, &email, &password).await.access_token;
        }
    }

    /// Failed logins for one account from many addresses are slowed (429) while
    /// another account from the same addresses is not; the throttle holds for the
    /// right password too, so guessing gains nothing by waiting for a hit.
    async fn failed_logins_are_throttled_per_account(backend: Backend) {
        let app = TestApp::spawn_with(
            backend,
            &[("TRUSTED_PROXIES", "127.0.0.1"), ("LOGIN_FAILURES_PER_ACCOUNT", "10")],
        )
        .await;
        let (victim, _) = sdk_user(&app).await;
        let (other, _) = sdk_user(&app).await;
        for i in 0..10 {
            let client = forwarded_for(&app, &format!("198.51.100.{i}"));
            let r = client.login().body(login_body(&victim, "Stuffed#Pass1")).send().await;
            expect_error(r, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
        }
        let client = forwarded_for(&app, "203.0.113.7");
        let r = client.login().body(login_body(&victim, STRONG_PASSWORD)).send().await;
        let limited = expect_error_response(r, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
        assert!(retry_after(&limited) <= 60, "a victim waits at most a minute");
        let r = client.login().body(login_body(&other, STRONG_PASSWORD)).send().await;
        expect_tokens(r);
    }

    /// One IPv6 /64 is one client, and an IPv4-mapped IPv6 address is its IPv4 one.
    async fn rate_limit_keys_are_canonical(backend: Backend) {
        let app = TestApp::spawn_with(
            backend,
            &[("AUTH_RATE_LIMIT_PER_MINUTE", "2"), ("TRUSTED_PROXIES", "127.0.0.1")],
        )
        .await;
        for group in [
            ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2::abcd"],
            ["10.9.9.0", "::ffff:10.9.9.0", "0:0:0:0:0:ffff:a09:900"],
        ] {
            for (i, ip) in group.iter().enumerate() {
                let r = forwarded_for(&app, ip).login().body(login_body(&unique_email(), STRONG_PASSWORD)).send().await;
                if i < 2 {
                    expect_error(r, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
                } else {
                    expect_error(r, StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimit001);
                }
            }
        }
        // Another /64 has its own bucket.
        let r = forwarded_for(&app, "2001:db8:1:3::1").login().body(login_body(&unique_email(), STRONG_PASSWORD)).send().await;
        expect_error(r, StatusCode::UNAUTHORIZED, ErrorCode::Auth001);
    }
}
