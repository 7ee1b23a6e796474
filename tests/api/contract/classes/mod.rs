//! Each operation's input classes: the framing every body shares, tokens, path ids,
//! `If-Match`, and one definition per operation of the spec.

mod auth;
mod mail;
mod session;
mod tags;
mod todos;

use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use super::input::*;
use super::strategies::*;

/// Largest body the service reads (1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

pub fn json_body<S: Strategy<Value = Value> + 'static>(s: S) -> impl Strategy<Value = Body> {
    s.prop_map(Body::Json)
}

/// The classes every JSON-body operation shares: malformed JSON or a non-object
/// (VALIDATION_004), a wrong content type (`valid` sent as another media type), a body
/// over 1 MiB, arbitrary JSON.
fn framing_classes(valid: BoxedStrategy<Value>) -> Vec<Class<Body>> {
    vec![
        class(
            "not JSON",
            field_err(422, "VALIDATION_004", "body"),
            prop_oneof![
                Just("{".to_owned()),
                Just("{\"title\": ".to_owned()),
                Just("{\"a\": 1,}".to_owned()),
                Just("nul".to_owned()),
                Just("'single'".to_owned()),
                "[a-z]{1,10}",
            ]
            .prop_map(|t| Body::Raw("application/json", t)),
        ),
        class(
            "not an object",
            field_err(422, "VALIDATION_004", "body"),
            json_body(prop_oneof![
                Just(json!([])),
                Just(json!(["a", "b"])),
                Just(json!("text")),
                Just(json!(7)),
                Just(json!(true)),
            ]),
        ),
        class(
            "unsupported content type",
            err(415, "REQUEST_002"),
            (
                prop::sample::select(vec![
                    "text/plain",
                    "application/xml",
                    "multipart/form-data; boundary=x",
                    "application/x-www-form-urlencoded",
                    "application/octet-stream",
                ]),
                valid,
            )
                .prop_map(|(ct, v)| Body::Raw(ct, v.to_string())),
        ),
        class(
            "over 1 MiB",
            err(413, "REQUEST_001"),
            prop_oneof![Just(MAX_BODY + 1), MAX_BODY + 1..MAX_BODY + 4096]
                .prop_map(|n| Body::TooLarge(n, false)),
        ),
        class("arbitrary JSON", Expect::Unknown, json_body(any_json())),
    ]
}

fn token_classes() -> Vec<Class<Tok>> {
    vec![
        class("valid token", Expect::Valid, Just(Tok::Valid)),
        class("no token", err(401, "AUTH_005"), Just(Tok::Missing)),
        class(
            "garbage token",
            err(401, "AUTH_005"),
            prop_oneof![
                header_text(60),
                "[A-Za-z0-9_-]{4,40}\\.[A-Za-z0-9_-]{4,40}\\.[A-Za-z0-9_-]{0,40}",
            ]
            .prop_map(Tok::Garbage),
        ),
        class(
            "other scheme",
            err(401, "AUTH_005"),
            prop::sample::select(vec!["Basic Og==", "Bearer", "Token abc", "Digest x"])
                .prop_map(|h| Tok::Header(h.to_owned())),
        ),
        class(
            "alg none/HS384/HS512",
            err(401, "AUTH_005"),
            (0u8..3).prop_map(Tok::WrongAlg),
        ),
        class(
            "expired token",
            err(401, "AUTH_002"),
            (120i64..100_000).prop_map(Tok::Expired),
        ),
        class(
            "refresh token as access",
            err(401, "AUTH_005"),
            Just(Tok::RefreshAsAccess),
        ),
        class(
            "wrong signature",
            err(401, "AUTH_006"),
            Just(Tok::WrongSignature),
        ),
        class("revoked token", err(401, "AUTH_004"), Just(Tok::Revoked)),
        class(
            "deleted user's token",
            err(401, "AUTH_007"),
            Just(Tok::DeletedUser),
        ),
    ]
}

fn id_classes(not_found: &'static str) -> Vec<Class<IdKind>> {
    vec![
        class("own id", Expect::Valid, Just(IdKind::Own)),
        class(
            "own id, upper case",
            Expect::Unknown,
            Just(IdKind::OwnUpperCase),
        ),
        class(
            "another user's id",
            err(403, "AUTHZ_001"),
            Just(IdKind::Other),
        ),
        class(
            "unknown id",
            err(404, not_found),
            any::<u128>().prop_map(IdKind::Unknown),
        ),
        class(
            "malformed id",
            field_err(422, "VALIDATION_009", "id"),
            prop_oneof![
                "[a-zA-Z0-9_~-][a-zA-Z0-9._~-]{0,40}",
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{11}",
                Just("00000000-0000-0000-0000-00000000000g".to_owned()),
                Just("%20".to_owned()),
                Just("%C3%A9t%C3%A9".to_owned()),
            ]
            .prop_filter("not a UUID", |s| Uuid::parse_str(s).is_err())
            .prop_map(IdKind::Malformed),
        ),
    ]
}

/// Session ids: another user's session is not found (session ids are not shared).
fn session_id_classes() -> Vec<Class<IdKind>> {
    let mut classes = id_classes("RESOURCE_004");
    for c in &mut classes {
        if c.label == "another user's id" {
            c.expect = err(404, "RESOURCE_004");
        }
    }
    classes
}

fn if_match_classes() -> Vec<Class<IfMatch>> {
    vec![
        class("no If-Match", Expect::Valid, Just(IfMatch::Absent)),
        class("current ETag", Expect::Valid, Just(IfMatch::Current)),
        class("If-Match *", Expect::Valid, Just(IfMatch::Any)),
        class(
            "list with the current ETag",
            Expect::Valid,
            (1i64..50).prop_map(IfMatch::ListWithCurrent),
        ),
        class("weak current ETag", Expect::Unknown, Just(IfMatch::Weak)),
        class(
            "stale ETag",
            err(412, "PRECONDITION_001"),
            prop_oneof![1i64..5, 5i64..1000].prop_map(IfMatch::Stale),
        ),
        class(
            "garbage If-Match",
            Expect::Unknown,
            header_text(30).prop_map(IfMatch::Garbage),
        ),
        class(
            "malformed If-Match",
            err(422, "VALIDATION_009"),
            prop_oneof![
                Just(String::new()),
                Just("3".into()),
                Just("\"-1\"".into()),
                Just("W/3".into())
            ]
            .prop_map(IfMatch::Garbage),
        ),
    ]
}

/// An operation without inputs.
fn def(op: &'static str) -> OpDef {
    OpDef {
        op,
        tokens: vec![],
        ids: vec![],
        if_match: vec![],
        query: vec![],
        body: vec![],
    }
}

/// A bearer operation: every token class.
fn bearer(op: &'static str) -> OpDef {
    OpDef {
        tokens: token_classes(),
        ..def(op)
    }
}

/// One definition per operation of the spec.
pub fn op_defs() -> Vec<OpDef> {
    let mut defs = auth_defs();
    defs.extend(todo_defs());
    defs.extend(tag_defs());
    defs.push(def("get_health"));
    defs.push(def("get_liveness"));
    defs
}

fn auth_defs() -> Vec<OpDef> {
    let with_body = |op, body| OpDef { body, ..def(op) };
    let bearer_body = |op, body| OpDef { body, ..bearer(op) };
    vec![
        with_body("register", auth::register_classes()),
        with_body("login", auth::login_classes()),
        with_body("issue_token", auth::token_form_classes()),
        with_body("refresh_token", session::refresh_classes()),
        bearer_body("logout", session::logout_classes()),
        bearer_body("change_password", session::change_password_classes()),
        bearer("get_me"),
        bearer_body("delete_me", session::delete_me_classes()),
        OpDef {
            query: tags::page_classes(),
            ..bearer("list_sessions")
        },
        OpDef {
            ids: session_id_classes(),
            ..bearer("delete_session")
        },
        with_body("request_password_reset", mail::reset_request_classes()),
        with_body("confirm_password_reset", mail::reset_confirm_classes()),
        with_body("verify_email", mail::verify_classes()),
        bearer("resend_verification"),
    ]
}

/// A todo operation on `/api/v1/todos/{id}`; `body`: none, a `TodoInput` or a `TodoPatch`.
fn todo_by_id(op: &'static str, body: Option<bool>, if_match: bool) -> OpDef {
    OpDef {
        ids: id_classes("RESOURCE_001"),
        if_match: if if_match { if_match_classes() } else { vec![] },
        body: body.map(todos::todo_body_classes).unwrap_or_default(),
        ..bearer(op)
    }
}

fn todo_defs() -> Vec<OpDef> {
    vec![
        OpDef {
            query: todos::todo_query_classes(),
            ..bearer("list_todos")
        },
        OpDef {
            body: todos::todo_body_classes(false),
            ..bearer("create_todo")
        },
        todo_by_id("get_todo", None, false),
        todo_by_id("replace_todo", Some(false), true),
        todo_by_id("update_todo", Some(true), true),
        todo_by_id("delete_todo", None, true),
        todo_by_id("toggle_todo", None, true),
    ]
}

fn tag_defs() -> Vec<OpDef> {
    let by_id = |op, body| OpDef {
        ids: id_classes("RESOURCE_002"),
        body,
        ..bearer(op)
    };
    vec![
        OpDef {
            query: tags::page_classes(),
            ..bearer("list_tags")
        },
        OpDef {
            body: tags::tag_body_classes(false),
            ..bearer("create_tag")
        },
        by_id("get_tag", vec![]),
        by_id("update_tag", tags::tag_body_classes(true)),
        by_id("delete_tag", vec![]),
    ]
}
