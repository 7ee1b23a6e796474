//! The server with local accounts switched off and an external issuer (legacy shared
//! secret): every operation local accounts or passwords need answers 403 AUTHZ_003, for
//! anonymous callers and for the issuer's users.

use reqwest::Method;
use serde_json::json;

use super::super::call::Call;
use super::super::input::Body;
use super::World;
use crate::external::issuer::claims;
use crate::helpers::*;

/// The shared secret of the identity phase's issuer.
pub const SHARED_SECRET: &str = "contract-external-secret-0123456789-abcdef";

impl World<'_> {
    /// Each local-account operation, then each password operation of an external
    /// user: 403 AUTHZ_003. The external user's token itself works (`get_me` 200).
    pub async fn not_available(&self) {
        let auth = |op, path: &str| Call::new(op, Method::POST, format!("/api/v1/auth{path}"));
        let email = "nobody@example.com";
        let mut grant = auth("issue_token", "/token");
        grant.body = Body::Form(vec![
            ("grant_type".into(), "password".into()),
            ("username".into(), email.into()),
            ("password".into(), STRONG_PASSWORD.into()),
        ]);
        let token = sign(
            &claims("contract-subject", 600),
            jsonwebtoken::Algorithm::HS256,
            SHARED_SECRET.as_bytes(),
        );
        let me = Call::new("get_me", Method::GET, "/api/v1/auth/me".into()).bearer(&token);
        let out = self.send_call(&me).await;
        assert_eq!(out.status, 200, "the external user's token: {}", out.body);
        let calls = [
            auth("register", "/register")
                .json(json!({"email": email, "password": STRONG_PASSWORD})),
            auth("login", "/login").json(json!({"email": email, "password": STRONG_PASSWORD})),
            grant,
            auth("refresh_token", "/refresh").json(json!({"refresh_token": "a.b.c"})),
            auth("request_password_reset", "/password-reset").json(json!({"email": email})),
            auth("confirm_password_reset", "/password-reset/confirm")
                .json(json!({"token": "t", "new_password": STRONG_PASSWORD})),
            auth("change_password", "/change-password")
                .bearer(&token)
                .json(json!({"current_password": STRONG_PASSWORD, "new_password": "Other#Horse9"})),
            auth("logout", "/logout")
                .bearer(&token)
                .json(json!({"scope": "all"})),
            Call::new("delete_me", Method::DELETE, "/api/v1/auth/me".into())
                .bearer(&token)
                .json(json!({"password": STRONG_PASSWORD})),
        ];
        for call in calls {
            let out = self.send_call(&call).await;
            if (out.status, out.code.as_deref()) != (403, Some("AUTHZ_003")) {
                let what = format!(
                    "local accounts off / external user: expected 403 AUTHZ_003, got {} {:?}",
                    out.status, out.code
                );
                self.violation(call.op, what, &call, &out.body.to_string());
            }
        }
    }
}
