//! What the run must reach: the error catalog of shared/API.md and the documented
//! (operationId, status, error_code) pairs.

use std::collections::BTreeSet;

/// The error catalog of shared/API.md: code and its HTTP status.
pub const CATALOG: &[(&str, u16)] = &[
    ("AUTH_001", 401),
    ("AUTH_002", 401),
    ("AUTH_003", 401),
    ("AUTH_004", 401),
    ("AUTH_005", 401),
    ("AUTH_006", 401),
    ("AUTH_007", 401),
    ("AUTH_008", 401),
    ("AUTHZ_001", 403),
    ("AUTHZ_002", 403),
    ("AUTHZ_003", 403),
    ("VALIDATION_001", 422),
    ("VALIDATION_002", 422),
    ("VALIDATION_003", 409),
    ("VALIDATION_004", 422),
    ("VALIDATION_005", 422),
    ("VALIDATION_006", 422),
    ("VALIDATION_007", 422),
    ("VALIDATION_008", 422),
    ("VALIDATION_009", 422),
    ("RESOURCE_001", 404),
    ("RESOURCE_002", 404),
    ("RESOURCE_003", 404),
    ("RESOURCE_004", 404),
    ("CONFLICT_001", 409),
    ("PRECONDITION_001", 412),
    ("RATE_LIMIT_001", 429),
    ("REQUEST_001", 413),
    ("REQUEST_002", 415),
    ("REQUEST_003", 405),
    ("SERVER_001", 503),
    ("SERVER_002", 500),
];

/// Codes only fault injection reaches; not expected here.
pub const EXCLUDED: &[&str] = &["SERVER_001", "SERVER_002"];

/// Pseudo-operations: requests outside the spec's routes and methods.
pub const UNKNOWN_ROUTE: &str = "unknown_route";
pub const WRONG_METHOD: &str = "wrong_method";

pub const BEARER_OPS: &[&str] = &[
    "logout",
    "change_password",
    "get_me",
    "delete_me",
    "list_sessions",
    "delete_session",
    "resend_verification",
    "list_todos",
    "create_todo",
    "get_todo",
    "replace_todo",
    "update_todo",
    "delete_todo",
    "toggle_todo",
    "list_tags",
    "create_tag",
    "get_tag",
    "update_tag",
    "delete_tag",
];

const TODO_BY_ID: &[&str] = &[
    "get_todo",
    "replace_todo",
    "update_todo",
    "delete_todo",
    "toggle_todo",
];

type Pair = (&'static str, u16, &'static str);

/// The pairs the run must reach: (operationId, status, error_code or "" for success).
pub fn documented_pairs() -> BTreeSet<(String, u16, String)> {
    let mut t: Vec<Pair> = success_pairs();
    t.extend(bearer_pairs());
    t.extend(todo_pairs());
    t.extend(tag_pairs());
    t.extend(auth_pairs());
    t.extend(framing_pairs());
    t.push((UNKNOWN_ROUTE, 404, "RESOURCE_003"));
    t.push((WRONG_METHOD, 405, "REQUEST_003"));
    t.into_iter()
        .map(|(op, s, c)| (op.to_owned(), s, c.to_owned()))
        .collect()
}

fn success_pairs() -> Vec<Pair> {
    let success = [
        ("register", 201),
        ("login", 200),
        ("issue_token", 200),
        ("refresh_token", 200),
        ("logout", 200),
        ("change_password", 200),
        ("get_me", 200),
        ("delete_me", 204),
        ("list_sessions", 200),
        ("delete_session", 204),
        ("request_password_reset", 202),
        ("confirm_password_reset", 200),
        ("verify_email", 200),
        ("resend_verification", 202),
        ("list_todos", 200),
        ("create_todo", 201),
        ("get_todo", 200),
        ("replace_todo", 200),
        ("update_todo", 200),
        ("delete_todo", 204),
        ("toggle_todo", 200),
        ("list_tags", 200),
        ("create_tag", 201),
        ("get_tag", 200),
        ("update_tag", 200),
        ("delete_tag", 204),
        ("get_health", 200),
        ("get_liveness", 200),
    ];
    success.iter().map(|(op, s)| (*op, *s, "")).collect()
}

/// Every bearer operation refuses every kind of bad token.
fn bearer_pairs() -> Vec<Pair> {
    let codes = ["AUTH_002", "AUTH_004", "AUTH_005", "AUTH_006", "AUTH_007"];
    BEARER_OPS
        .iter()
        .flat_map(|op| codes.iter().map(move |code| (*op, 401, *code)))
        .collect()
}

fn todo_pairs() -> Vec<Pair> {
    let mut t = vec![];
    for op in TODO_BY_ID {
        t.push((*op, 403, "AUTHZ_001"));
        t.push((*op, 404, "RESOURCE_001"));
        t.push((*op, 422, "VALIDATION_009"));
        if *op != "get_todo" {
            t.push((*op, 412, "PRECONDITION_001"));
        }
    }
    for op in ["create_todo", "replace_todo", "update_todo"] {
        for code in [
            "VALIDATION_004",
            "VALIDATION_005",
            "VALIDATION_006",
            "VALIDATION_009",
        ] {
            t.push((op, 422, code));
        }
    }
    t.push(("list_todos", 422, "VALIDATION_006"));
    t.push(("list_todos", 422, "VALIDATION_009"));
    t
}

fn tag_pairs() -> Vec<Pair> {
    let mut t = vec![];
    for op in ["get_tag", "update_tag", "delete_tag"] {
        t.push((op, 403, "AUTHZ_001"));
        t.push((op, 404, "RESOURCE_002"));
        t.push((op, 422, "VALIDATION_009"));
    }
    for op in ["create_tag", "update_tag"] {
        t.push((op, 409, "CONFLICT_001"));
        for code in ["VALIDATION_004", "VALIDATION_005", "VALIDATION_009"] {
            t.push((op, 422, code));
        }
    }
    t.push(("list_tags", 422, "VALIDATION_009"));
    t
}

fn auth_pairs() -> Vec<Pair> {
    let mut t = vec![("register", 409, "VALIDATION_003")];
    for code in [
        "VALIDATION_001",
        "VALIDATION_002",
        "VALIDATION_004",
        "VALIDATION_005",
    ] {
        t.push(("register", 422, code));
    }
    t.push(("login", 401, "AUTH_001"));
    t.push(("login", 422, "VALIDATION_001"));
    t.push(("login", 422, "VALIDATION_004"));
    t.push(("issue_token", 401, "AUTH_001"));
    t.push(("issue_token", 422, "VALIDATION_004"));
    t.push(("issue_token", 422, "VALIDATION_006"));
    for code in ["AUTH_003", "AUTH_004", "AUTH_005", "AUTH_006"] {
        t.push(("refresh_token", 401, code));
    }
    t.push(("refresh_token", 422, "VALIDATION_004"));
    for code in [
        "VALIDATION_002",
        "VALIDATION_004",
        "VALIDATION_007",
        "VALIDATION_008",
    ] {
        t.push(("change_password", 422, code));
    }
    for op in ["register", "login", "issue_token", "refresh_token"] {
        t.push((op, 429, "RATE_LIMIT_001"));
    }
    t.extend(account_pairs());
    t.extend(identity_pairs());
    t
}

/// Sessions, logout scopes, account deletion, the mail operations.
fn account_pairs() -> Vec<Pair> {
    vec![
        ("logout", 422, "VALIDATION_006"),
        ("list_sessions", 422, "VALIDATION_009"),
        ("delete_session", 404, "RESOURCE_004"),
        ("delete_session", 422, "VALIDATION_009"),
        ("delete_me", 422, "VALIDATION_004"),
        ("delete_me", 422, "VALIDATION_007"),
        ("login", 403, "AUTHZ_002"),
        ("issue_token", 403, "AUTHZ_002"),
        ("request_password_reset", 422, "VALIDATION_001"),
        ("request_password_reset", 422, "VALIDATION_004"),
        ("request_password_reset", 429, "RATE_LIMIT_001"),
        ("confirm_password_reset", 401, "AUTH_008"),
        ("confirm_password_reset", 422, "VALIDATION_002"),
        ("confirm_password_reset", 422, "VALIDATION_004"),
        ("confirm_password_reset", 422, "VALIDATION_005"),
        ("verify_email", 401, "AUTH_008"),
        ("verify_email", 422, "VALIDATION_004"),
        ("verify_email", 422, "VALIDATION_005"),
    ]
}

/// Local accounts switched off (`LOCAL_AUTH=disabled`), or a password operation of an
/// external issuer's user: 403 AUTHZ_003.
fn identity_pairs() -> Vec<Pair> {
    [
        "register",
        "login",
        "issue_token",
        "refresh_token",
        "request_password_reset",
        "confirm_password_reset",
        "change_password",
        "logout",
        "delete_me",
    ]
    .iter()
    .map(|op| (*op, 403, "AUTHZ_003"))
    .collect()
}

/// Body framing: every operation with a body refuses other media types and more than 1 MiB.
fn framing_pairs() -> Vec<Pair> {
    [
        "create_todo",
        "replace_todo",
        "update_todo",
        "create_tag",
        "update_tag",
        "register",
        "login",
        "issue_token",
        "refresh_token",
        "logout",
        "change_password",
        "delete_me",
        "request_password_reset",
        "confirm_password_reset",
        "verify_email",
    ]
    .iter()
    .flat_map(|op| [(*op, 415, "REQUEST_002"), (*op, 413, "REQUEST_001")])
    .collect()
}
