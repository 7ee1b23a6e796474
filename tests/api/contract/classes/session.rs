//! Bodies of the session operations: refresh, logout, password change, account deletion.

use proptest::prelude::*;
use serde_json::json;

use super::super::input::*;
use super::super::strategies::*;
use super::{framing_classes, json_body};

pub fn refresh_classes() -> Vec<Class<Body>> {
    let tok = |t: &'static str| Body::Json(json!({ "refresh_token": t }));
    let valid = Just(json!({"refresh_token": "@@refresh@@"})).boxed();
    let mut classes = refresh_token_classes();
    classes.extend([
        class(
            "refresh_token missing",
            field_err(422, "VALIDATION_004", "refresh_token"),
            Just(Body::Json(json!({}))),
        ),
        class(
            "refresh_token not a string",
            field_err(422, "VALIDATION_004", "refresh_token"),
            prop_oneof![Just(json!(7)), Just(json!(null)), Just(json!(["x"]))]
                .prop_map(|t| Body::Json(json!({ "refresh_token": t }))),
        ),
        class("empty refresh_token", Expect::Unknown, Just(tok(""))),
    ]);
    classes.extend(framing_classes(valid));
    classes
}

/// Every kind of refresh token: valid, expired, revoked, reused, forged, an access token.
// Over 50 lines: a table, one entry per kind of token.
fn refresh_token_classes() -> Vec<Class<Body>> {
    let tok = |t: &'static str| Body::Json(json!({ "refresh_token": t }));
    vec![
        class(
            "valid refresh token",
            Expect::Valid,
            Just(tok("@@refresh@@")),
        ),
        class(
            "expired refresh token",
            err(401, "AUTH_003"),
            Just(tok("@@expired_refresh@@")),
        ),
        class(
            "logged-out session's refresh token",
            err(401, "AUTH_004"),
            Just(tok("@@revoked_refresh@@")),
        ),
        class(
            "rotated (reused) refresh token",
            err(401, "AUTH_004"),
            Just(tok("@@reused_refresh@@")),
        ),
        class(
            "garbage refresh token",
            err(401, "AUTH_005"),
            prop_oneof![
                header_text(60),
                "[A-Za-z0-9_-]{4,40}\\.[A-Za-z0-9_-]{4,40}\\.[A-Za-z0-9_-]{0,40}",
            ]
            .prop_map(|t| Body::Json(json!({ "refresh_token": t }))),
        ),
        class(
            "access token as refresh",
            err(401, "AUTH_005"),
            Just(tok("@@access@@")),
        ),
        class(
            "refresh token with alg HS384",
            err(401, "AUTH_005"),
            Just(tok("@@alg_refresh@@")),
        ),
        class(
            "refresh token with a wrong signature",
            err(401, "AUTH_006"),
            Just(tok("@@badsig_refresh@@")),
        ),
        class(
            "deleted user's refresh token",
            Expect::Unknown,
            Just(tok("@@deleted_refresh@@")),
        ),
    ]
}

pub fn logout_classes() -> Vec<Class<Body>> {
    let mut classes = vec![
        class("no body", Expect::Valid, Just(Body::None)),
        class("empty object", Expect::Valid, Just(Body::Json(json!({})))),
        class(
            "own refresh token",
            Expect::Valid,
            Just(Body::Json(json!({"refresh_token": "@@refresh@@"}))),
        ),
        class(
            "garbage refresh token (ignored)",
            Expect::Valid,
            header_text(40).prop_map(|t| Body::Json(json!({ "refresh_token": t }))),
        ),
        class(
            "refresh_token not a string",
            Expect::Unknown,
            Just(Body::Json(json!({"refresh_token": 5}))),
        ),
        class(
            "scope current, others or all",
            Expect::Valid,
            prop::sample::select(vec!["current", "others", "all"])
                .prop_map(|s| Body::Json(json!({ "scope": s }))),
        ),
        class(
            "unknown scope",
            field_err(422, "VALIDATION_006", "scope"),
            not_in(&["current", "others", "all"]).prop_map(|s| Body::Json(json!({ "scope": s }))),
        ),
    ];
    classes.extend(framing_classes(Just(json!({})).boxed()));
    classes
}

pub fn change_password_classes() -> Vec<Class<Body>> {
    let valid = strong_password()
        .prop_map(|p| json!({"current_password": "@@password@@", "new_password": p}))
        .boxed();
    let v = || valid.clone();
    let mut classes = vec![
        class("valid change", Expect::Valid, json_body(v())),
        class(
            "current password wrong",
            field_err(422, "VALIDATION_007", "current_password"),
            (v(), strong_password())
                .prop_map(|(b, p)| Body::Json(with(b, "current_password", json!(format!("{p}x"))))),
        ),
        class(
            "new password equals current",
            field_err(422, "VALIDATION_008", "new_password"),
            v().prop_map(|b| Body::Json(with(b, "new_password", json!("@@password@@")))),
        ),
        class(
            "new password weak",
            field_err(422, "VALIDATION_002", "new_password"),
            (v(), weak_password()).prop_map(|(b, p)| Body::Json(with(b, "new_password", json!(p)))),
        ),
        class(
            "current_password missing",
            field_err(422, "VALIDATION_004", "current_password"),
            v().prop_map(|b| Body::Json(without(b, "current_password"))),
        ),
        class(
            "new_password missing",
            field_err(422, "VALIDATION_004", "new_password"),
            v().prop_map(|b| Body::Json(without(b, "new_password"))),
        ),
        class(
            "new_password not a string",
            field_err(422, "VALIDATION_004", "new_password"),
            (v(), prop_oneof![Just(json!(12345678)), Just(json!(false))])
                .prop_map(|(b, p)| Body::Json(with(b, "new_password", p))),
        ),
        class(
            "current_password over 1024 characters",
            field_err(422, "VALIDATION_*", "current_password"),
            (v(), chars(1025..=1100))
                .prop_map(|(b, p)| Body::Json(with(b, "current_password", json!(p)))),
        ),
    ];
    classes.extend(framing_classes(v()));
    classes
}

pub fn delete_me_classes() -> Vec<Class<Body>> {
    let valid = Just(json!({"password": "@@password@@"})).boxed();
    let mut classes = vec![
        class(
            "the account's password",
            Expect::Valid,
            json_body(valid.clone()),
        ),
        class(
            "wrong password",
            field_err(422, "VALIDATION_007", "password"),
            strong_password().prop_map(|p| Body::Json(json!({ "password": format!("{p}x") }))),
        ),
        class(
            "password missing",
            field_err(422, "VALIDATION_004", "password"),
            Just(Body::Json(json!({}))),
        ),
        class(
            "password not a string",
            field_err(422, "VALIDATION_004", "password"),
            prop_oneof![Just(json!(12345678)), Just(json!(null)), Just(json!(["x"]))]
                .prop_map(|p| Body::Json(json!({ "password": p }))),
        ),
        class(
            "password over 1024 characters",
            field_err(422, "VALIDATION_*", "password"),
            chars(1025..=1100).prop_map(|p| Body::Json(json!({ "password": p }))),
        ),
    ];
    classes.extend(framing_classes(valid));
    classes
}
