//! Bodies of the mail operations: reset request and confirmation, email verification.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::super::input::*;
use super::super::strategies::*;
use super::{framing_classes, json_body};

pub fn reset_request_classes() -> Vec<Class<Body>> {
    let valid = Just(json!({"email": "@@email@@"})).boxed();
    let mut classes = vec![
        class(
            "an account's address",
            Expect::Valid,
            json_body(valid.clone()),
        ),
        class(
            "an unknown address (same answer)",
            Expect::Valid,
            email().prop_map(|e| Body::Json(json!({ "email": e }))),
        ),
        class(
            "malformed email",
            field_err(422, "VALIDATION_001", "email"),
            malformed_email()
                .prop_filter("non-empty", |e| !e.is_empty())
                .prop_map(|e| Body::Json(json!({ "email": e }))),
        ),
        class(
            "email missing",
            field_err(422, "VALIDATION_004", "email"),
            Just(Body::Json(json!({}))),
        ),
        class(
            "email not a string",
            field_err(422, "VALIDATION_004", "email"),
            prop_oneof![Just(json!(42)), Just(json!(null)), Just(json!(["a@b.co"]))]
                .prop_map(|e| Body::Json(json!({ "email": e }))),
        ),
    ];
    classes.extend(framing_classes(valid));
    classes
}

/// `token` classes shared by both token operations; `valid` holds `@@…@@` tokens.
fn token_classes(valid: &BoxedStrategy<Value>, used: &'static str) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "unknown token",
            err(401, "AUTH_008"),
            (v(), "[A-Za-z0-9_-]{10,60}").prop_map(|(b, t)| Body::Json(with(b, "token", json!(t)))),
        ),
        class(
            "used token",
            err(401, "AUTH_008"),
            v().prop_map(move |b| Body::Json(with(b, "token", json!(used)))),
        ),
        class(
            "token missing",
            field_err(422, "VALIDATION_004", "token"),
            v().prop_map(|b| Body::Json(without(b, "token"))),
        ),
        class(
            "empty token",
            field_err(422, "VALIDATION_004", "token"),
            v().prop_map(|b| Body::Json(with(b, "token", json!("")))),
        ),
        class(
            "token over 128 characters",
            field_err(422, "VALIDATION_005", "token"),
            (v(), "[A-Za-z0-9]{129,200}").prop_map(|(b, t)| Body::Json(with(b, "token", json!(t)))),
        ),
        class(
            "token not a string",
            field_err(422, "VALIDATION_004", "token"),
            (
                v(),
                prop_oneof![Just(json!(7)), Just(json!(null)), Just(json!(["t"]))],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "token", t))),
        ),
    ]
}

pub fn reset_confirm_classes() -> Vec<Class<Body>> {
    let valid = strong_password()
        .prop_map(|p| json!({"token": "@@reset_token@@", "new_password": p}))
        .boxed();
    let v = || valid.clone();
    let mut classes = vec![class("a fresh reset token", Expect::Valid, json_body(v()))];
    classes.extend(token_classes(&valid, "@@used_reset_token@@"));
    classes.extend([
        class(
            "new password weak",
            field_err(422, "VALIDATION_002", "new_password"),
            (v(), weak_password()).prop_map(|(b, p)| Body::Json(with(b, "new_password", json!(p)))),
        ),
        class(
            "new_password missing",
            field_err(422, "VALIDATION_004", "new_password"),
            v().prop_map(|b| Body::Json(without(b, "new_password"))),
        ),
    ]);
    classes.extend(framing_classes(v()));
    classes
}

pub fn verify_classes() -> Vec<Class<Body>> {
    let valid = Just(json!({"token": "@@verify_token@@"})).boxed();
    let mut classes = vec![class(
        "a fresh verification token",
        Expect::Valid,
        json_body(valid.clone()),
    )];
    classes.extend(token_classes(&valid, "@@used_verify_token@@"));
    classes.extend(framing_classes(valid));
    classes
}
