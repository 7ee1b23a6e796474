//! Bodies of the credential operations: sign-up, login, the OAuth2 password grant.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::super::input::*;
use super::super::strategies::*;
use super::{framing_classes, json_body, MAX_BODY};

/// A valid `RegisterRequest` for a fresh address, with or without a name.
fn sign_up() -> BoxedStrategy<Value> {
    (
        email(),
        strong_password(),
        proptest::option::of(text(0, 100)),
    )
        .prop_map(|(e, p, n)| {
            let mut b = json!({"email": e, "password": p});
            if let Some(n) = n {
                b = with(b, "name", json!(n));
            }
            b
        })
        .boxed()
}

pub fn register_classes() -> Vec<Class<Body>> {
    let valid = sign_up();
    let v = || valid.clone();
    let mut classes = vec![
        class("valid sign-up", Expect::Valid, json_body(v())),
        class(
            "email taken (other case)",
            err(409, "VALIDATION_003"),
            v().prop_map(|b| Body::Json(with(b, "email", json!("@@EMAIL@@")))),
        ),
        class(
            "malformed email",
            field_err(422, "VALIDATION_001", "email"),
            (v(), malformed_email()).prop_map(|(b, e)| Body::Json(with(b, "email", json!(e)))),
        ),
        class(
            "weak password",
            field_err(422, "VALIDATION_002", "password"),
            (v(), weak_password()).prop_map(|(b, p)| Body::Json(with(b, "password", json!(p)))),
        ),
    ];
    classes.extend(register_shape_classes(&valid));
    classes.extend(register_limit_classes(&valid));
    classes.extend(framing_classes(v()));
    classes
}

/// Required fields missing or of the wrong JSON type.
fn register_shape_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    let mut classes = credentials_missing(valid);
    classes.extend([
        class(
            "email not a string",
            field_err(422, "VALIDATION_004", "email"),
            (
                v(),
                prop_oneof![Just(json!(42)), Just(json!(null)), Just(json!(["a@b.co"]))],
            )
                .prop_map(|(b, e)| Body::Json(with(b, "email", e))),
        ),
        class(
            "password not a string",
            field_err(422, "VALIDATION_004", "password"),
            (v(), prop_oneof![Just(json!(12345678)), Just(json!(true))])
                .prop_map(|(b, p)| Body::Json(with(b, "password", p))),
        ),
    ]);
    classes
}

/// Values over a length limit or holding a NUL.
fn register_limit_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "name too long",
            field_err(422, "VALIDATION_005", "name"),
            (v(), chars(101..=130)).prop_map(|(b, n)| Body::Json(with(b, "name", json!(n)))),
        ),
        class(
            "NUL in name",
            field_err(422, "VALIDATION_*", "name"),
            (v(), text(0, 5))
                .prop_map(|(b, n)| Body::Json(with(b, "name", json!(format!("a{n}\u{0}"))))),
        ),
        class(
            "email over 254 characters",
            field_err(422, "VALIDATION_*", "email"),
            (
                v(),
                "[a-z]{64}",
                "[a-z]{60}\\.[a-z]{60}\\.[a-z]{60}\\.[a-z]{10,40}\\.com",
            )
                .prop_map(|(b, local, domain)| {
                    Body::Json(with(b, "email", json!(format!("{local}@{domain}"))))
                }),
        ),
    ]
}

pub fn login_classes() -> Vec<Class<Body>> {
    let valid = prop::sample::select(vec!["@@email@@", "@@EMAIL@@"])
        .prop_map(|e| json!({"email": e, "password": "@@password@@"}))
        .boxed();
    let v = || valid.clone();
    let mut classes = vec![
        class("valid credentials", Expect::Valid, json_body(v())),
        class(
            "wrong password",
            err(401, "AUTH_001"),
            (v(), strong_password())
                .prop_map(|(b, p)| Body::Json(with(b, "password", json!(format!("{p}x"))))),
        ),
        class(
            "unknown email",
            err(401, "AUTH_001"),
            (email(), strong_password())
                .prop_map(|(e, p)| Body::Json(json!({"email": e, "password": p}))),
        ),
        class(
            "malformed email",
            field_err(422, "VALIDATION_001", "email"),
            (
                v(),
                malformed_email().prop_filter("non-empty", |e| !e.is_empty()),
            )
                .prop_map(|(b, e)| Body::Json(with(b, "email", json!(e)))),
        ),
    ];
    classes.extend(login_shape_classes(&valid));
    classes.extend(framing_classes(v()));
    classes
}

/// Fields missing, of the wrong JSON type, or passwords the contract does not pin.
fn login_shape_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    let mut classes = credentials_missing(valid);
    classes.extend([
        class(
            "email not a string",
            field_err(422, "VALIDATION_004", "email"),
            (v(), prop_oneof![Just(json!(42)), Just(json!(["a@b.co"]))])
                .prop_map(|(b, e)| Body::Json(with(b, "email", e))),
        ),
        class(
            "empty password",
            Expect::Unknown,
            v().prop_map(|b| Body::Json(with(b, "password", json!("")))),
        ),
        class(
            "password over 1024 characters",
            Expect::Unknown,
            (v(), chars(1025..=1100)).prop_map(|(b, p)| Body::Json(with(b, "password", json!(p)))),
        ),
    ]);
    classes
}

/// `email` or `password` left out of a register or login body.
fn credentials_missing(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "email missing",
            field_err(422, "VALIDATION_004", "email"),
            v().prop_map(|b| Body::Json(without(b, "email"))),
        ),
        class(
            "password missing",
            field_err(422, "VALIDATION_004", "password"),
            v().prop_map(|b| Body::Json(without(b, "password"))),
        ),
    ]
}

fn form(pairs: &[(&str, &str)]) -> Query {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A valid password grant for the principal, at times with a scope and a `client_id`.
fn password_grant_form() -> BoxedStrategy<Query> {
    (
        prop::sample::select(vec!["@@email@@", "@@EMAIL@@"]),
        proptest::option::of(prop::sample::select(vec!["", "todos", "todos extra"])),
        any::<bool>(),
    )
        .prop_map(|(user, scope, client)| {
            let mut f = form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", "@@password@@"),
            ]);
            if let Some(s) = scope {
                f.push(("scope".into(), s.into()));
            }
            if client {
                f.push(("client_id".into(), "swagger".into()));
            }
            f
        })
        .boxed()
}

/// `f` with `key` set to `value`.
fn set(mut f: Query, key: &str, value: String) -> Query {
    f.retain(|(k, _)| k != key);
    f.push((key.to_owned(), value));
    f
}

pub fn token_form_classes() -> Vec<Class<Body>> {
    let mut classes = vec![class(
        "valid grant",
        Expect::Valid,
        password_grant_form().prop_map(Body::Form),
    )];
    classes.extend(grant_classes());
    classes.extend(grant_framing_classes());
    classes
}

/// Wrong credentials, another grant type, a field missing.
fn grant_classes() -> Vec<Class<Body>> {
    let v = password_grant_form;
    vec![
        class(
            "wrong password",
            err(401, "AUTH_001"),
            (v(), strong_password())
                .prop_map(|(f, p)| Body::Form(set(f, "password", format!("{p}x")))),
        ),
        class(
            "unknown user",
            err(401, "AUTH_001"),
            (v(), email()).prop_map(|(f, e)| Body::Form(set(f, "username", e))),
        ),
        class(
            "unsupported grant_type",
            field_err(422, "VALIDATION_006", "grant_type"),
            (
                v(),
                not_in(&["password"]).prop_filter("non-empty", |g| !g.is_empty()),
            )
                .prop_map(|(f, g)| Body::Form(set(f, "grant_type", g))),
        ),
        class(
            "field missing",
            err(422, "VALIDATION_004"),
            (
                v(),
                prop::sample::select(vec!["grant_type", "username", "password"]),
            )
                .prop_map(|(mut f, k)| {
                    f.retain(|(key, _)| key != k);
                    Body::Form(f)
                }),
        ),
    ]
}

/// JSON instead of a form, a form over 1 MiB, arbitrary forms.
fn grant_framing_classes() -> Vec<Class<Body>> {
    vec![
        class(
            "JSON instead of a form",
            err(415, "REQUEST_002"),
            Just(Body::Json(json!({
                "grant_type": "password", "username": "@@email@@", "password": "@@password@@"
            }))),
        ),
        class(
            "over 1 MiB",
            err(413, "REQUEST_001"),
            prop_oneof![Just(MAX_BODY + 1), MAX_BODY + 1..MAX_BODY + 4096]
                .prop_map(|n| Body::TooLarge(n, true)),
        ),
        class(
            "arbitrary form",
            Expect::Unknown,
            proptest::collection::vec(
                (
                    prop::sample::select(vec!["grant_type", "username", "password", "scope", "x"]),
                    text(0, 20),
                ),
                0..5,
            )
            .prop_map(|pairs| {
                Body::Form(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ),
    ]
}
