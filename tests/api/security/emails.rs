//! Canonical emails: spellings of one address (fullwidth letters, decomposed accents,
//! an IDN domain in Unicode or in punycode, any case) are one account; addresses with
//! control or format characters (zero-width, bidi controls, soft hyphen, BOM) are refused.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::sdk_helpers::*;

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// The stored email of the only user.
async fn stored_email(app: &TestApp) -> String {
    let sql = "SELECT email FROM users";
    on_pool!(&app.db, |p| sqlx::query_scalar::<_, String>(sql)
        .fetch_one(p)
        .await)
    .expect("one user row")
}

both_backends! {
    async fn spellings_of_one_address_are_one_account(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let canonical = "josé@xn--exmple-cua.com";
        let resp = app.register("José@Exämple.com", STRONG_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let user: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(user["email"], canonical, "{user}");
        assert_eq!(stored_email(&app).await, canonical);

        let spellings = [
            canonical,
            "JOSÉ@XN--EXMPLE-CUA.COM",
            "jose\u{301}@exa\u{308}mple.com",
            "ｊｏｓé@ｅｘäｍｐｌｅ.ｃｏｍ",
            "JOSÉ@EXÄMPLE.COM",
            " josé@exämple.com ",
        ];
        for email in spellings {
            let resp = app.register(email, "Another#Pass1").await;
            assert_field_error(resp, StatusCode::CONFLICT, "VALIDATION_003", "email").await;
            let resp = app.login_raw(email, STRONG_PASSWORD).await;
            let tokens = raw_tokens(resp).await;
            assert_eq!(app.me(&tokens.access_token).await.status(), StatusCode::OK, "{email}");
            let resp = app
                .token(&[("grant_type", "password"), ("username", email), ("password", STRONG_PASSWORD)])
                .await;
            raw_tokens(resp).await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
        assert_eq!(stored_email(&app).await, canonical);
    }

    async fn invisible_and_control_characters_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let refused = [
            "ad\u{200B}a@example.com",  // zero-width space
            "ada\u{200D}@example.com",  // zero-width joiner
            "ad\u{00AD}a@example.com",  // soft hyphen
            "\u{202E}ada@example.com",  // right-to-left override
            "ada@exam\u{2066}ple.com",  // left-to-right isolate
            "ada@example.com\u{200E}",  // left-to-right mark
            "\u{FEFF}ada@example.com",  // byte order mark
            "ad\u{0007}a@example.com",  // a control character
            "ad\u{FE0F}a@example.com",  // a variation selector
        ];
        for email in refused {
            let resp = app.register(email, STRONG_PASSWORD).await;
            assert_field_error(resp, UNPROCESSABLE, "VALIDATION_001", "email").await;
            let resp = app.login_raw(email, STRONG_PASSWORD).await;
            assert_field_error(resp, UNPROCESSABLE, "VALIDATION_001", "email").await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
        // The plain address is still free, and its invisible look-alikes do not log in to it.
        assert_eq!(app.register("ada@example.com", STRONG_PASSWORD).await.status(), StatusCode::CREATED);
        let resp = app
            .token(&[("grant_type", "password"), ("username", refused[0]), ("password", STRONG_PASSWORD)])
            .await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_001").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    }
}
