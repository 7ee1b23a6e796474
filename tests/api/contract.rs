//! Property-based contract tests of every operation of the committed `openapi.yaml`.
//!
//! Strategies generate valid and invalid inputs for each operation (bodies, query
//! parameters, path ids, `If-Match`, tokens of every kind, `X-Request-ID`); each request
//! goes to a live server, and every answer must
//! (a) have a status the spec declares for that operation (read from openapi.yaml here),
//! (b) have a body valid against the declared schema (OpenAPI 3.0 converted to JSON
//!     Schema: `nullable` becomes a null type, objects are closed) and the declared
//!     required headers,
//! (c) if it is an error, carry a documented `error_code` whose catalog status (API.md)
//!     is the HTTP status, `details.field` for `VALIDATION_*`, `request_id` = `X-Request-ID`,
//! (d) never be a 5xx.
//! A ledger records every observed (operationId, status, error_code); at the end every
//! pair of a hand-written table (API.md and the spec) must have been reached.
//!
//! Per operation, two phases: a sweep (the all-valid request, then every class of every
//! input dimension once with the other dimensions valid, its one expected outcome
//! asserted), then proptest fuzzing (random combinations; the expected outcome is
//! asserted whenever at most one dimension is invalid). Deterministic (ChaCha, fixed
//! seed); `PROPTEST_CASES` sets the fuzz cases per operation (default 32).
//! SERVER_001/SERVER_002 are left to the fault-injection tests (tests/api/operations*).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::helpers::*;

const SPEC_YAML: &str = include_str!("../../openapi.yaml");
const MAX_BODY: usize = 1024 * 1024;
const WRONG_SECRET: &[u8] = b"not-the-server-secret-0123456789abcdef";

/// The error catalog of shared/API.md: code and its HTTP status.
const CATALOG: &[(&str, u16)] = &[
    ("AUTH_001", 401),
    ("AUTH_002", 401),
    ("AUTH_003", 401),
    ("AUTH_004", 401),
    ("AUTH_005", 401),
    ("AUTH_006", 401),
    ("AUTH_007", 401),
    ("AUTHZ_001", 403),
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
const EXCLUDED: &[&str] = &["SERVER_001", "SERVER_002"];

/// Pseudo-operations: requests outside the spec's routes and methods.
const UNKNOWN_ROUTE: &str = "unknown_route";
const WRONG_METHOD: &str = "wrong_method";

const BEARER_OPS: &[&str] = &[
    "logout",
    "change_password",
    "get_me",
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

/// The pairs the run must reach: (operationId, status, error_code or "" for success).
fn documented_pairs() -> BTreeSet<(String, u16, String)> {
    let mut t: Vec<(&str, u16, &str)> = vec![];
    let success = [
        ("register", 201),
        ("login", 200),
        ("issue_token", 200),
        ("refresh_token", 200),
        ("logout", 200),
        ("change_password", 200),
        ("get_me", 200),
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
    t.extend(success.iter().map(|(op, s)| (*op, *s, "")));
    for op in BEARER_OPS {
        for code in ["AUTH_002", "AUTH_004", "AUTH_005", "AUTH_006", "AUTH_007"] {
            t.push((op, 401, code));
        }
    }
    for op in [
        "get_todo",
        "replace_todo",
        "update_todo",
        "delete_todo",
        "toggle_todo",
    ] {
        t.push((op, 403, "AUTHZ_001"));
        t.push((op, 404, "RESOURCE_001"));
        t.push((op, 422, "VALIDATION_009"));
    }
    for op in ["replace_todo", "update_todo", "delete_todo", "toggle_todo"] {
        t.push((op, 412, "PRECONDITION_001"));
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
        t.push((op, 415, "REQUEST_002"));
        t.push((op, 413, "REQUEST_001"));
    }
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
        t.push((op, 415, "REQUEST_002"));
        t.push((op, 413, "REQUEST_001"));
    }
    t.push(("list_tags", 422, "VALIDATION_009"));
    t.push(("register", 409, "VALIDATION_003"));
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
    t.push(("list_todos", 422, "VALIDATION_006"));
    t.push(("list_todos", 422, "VALIDATION_009"));
    for op in [
        "register",
        "login",
        "issue_token",
        "refresh_token",
        "logout",
        "change_password",
    ] {
        t.push((op, 415, "REQUEST_002"));
        t.push((op, 413, "REQUEST_001"));
    }
    for op in ["register", "login", "issue_token", "refresh_token"] {
        t.push((op, 429, "RATE_LIMIT_001"));
    }
    t.push((UNKNOWN_ROUTE, 404, "RESOURCE_003"));
    t.push((WRONG_METHOD, 405, "REQUEST_003"));
    t.into_iter()
        .map(|(op, s, c)| (op.to_owned(), s, c.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The spec: operations, declared statuses, response schemas as JSON Schema.

struct Declared {
    validator: Option<Arc<jsonschema::Validator>>,
    required_headers: Vec<String>,
}

struct Operation {
    method: Method,
    path: String,
    responses: BTreeMap<u16, Declared>,
}

impl Operation {
    fn success(&self) -> u16 {
        let ok: Vec<u16> = self
            .responses
            .keys()
            .copied()
            .filter(|s| (200..300).contains(s))
            .collect();
        assert_eq!(ok.len(), 1, "one success status per operation");
        ok[0]
    }
}

struct Spec {
    ops: BTreeMap<String, Operation>,
    error_codes: Vec<String>,
}

/// OpenAPI 3.0 schema → JSON Schema (2020-12): `nullable: true` admits null (`type`
/// gains `"null"`, an `enum` gains `null`, anything else is wrapped in `anyOf`), boolean
/// `exclusiveMinimum`/`exclusiveMaximum` become numeric, OpenAPI-only keywords go, and
/// objects with `properties` are closed (`additionalProperties: false`) so that an
/// undocumented field in a response (a leaked hash, say) fails the check.
fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(m) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "nullable" | "example" | "deprecated" | "readOnly" | "writeOnly" | "xml"
            | "externalDocs" | "discriminator" | "exclusiveMinimum" | "exclusiveMaximum" => {}
            "properties" => {
                let props = v
                    .as_object()
                    .expect("properties is an object")
                    .iter()
                    .map(|(name, s)| (name.clone(), to_json_schema(s)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "not" | "additionalProperties" => {
                out.insert(k.clone(), to_json_schema(v));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = v
                    .as_array()
                    .expect("a list of schemas")
                    .iter()
                    .map(to_json_schema)
                    .collect();
                out.insert(k.clone(), Value::Array(list));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match m.get(flag) {
            Some(Value::Bool(true)) => {
                let b = out.remove(bound).expect("an exclusive bound has a value");
                out.insert(flag.to_owned(), b);
            }
            Some(Value::Number(n)) => {
                out.insert(flag.to_owned(), Value::Number(n.clone()));
            }
            _ => {}
        }
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if m.get("nullable") != Some(&Value::Bool(true)) {
        return Value::Object(out);
    }
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        values.push(Value::Null);
    }
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!([t, "null"]));
            Value::Object(out)
        }
        Some(Value::Array(mut ts)) => {
            ts.push(json!("null"));
            out.insert("type".into(), Value::Array(ts));
            Value::Object(out)
        }
        _ => json!({"anyOf": [Value::Object(out), {"type": "null"}]}),
    }
}

impl Spec {
    fn load() -> Spec {
        let doc: Value = serde_yaml::from_str(SPEC_YAML).expect("openapi.yaml parses");
        let components: Map<String, Value> = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas")
            .iter()
            .map(|(k, v)| (k.clone(), to_json_schema(v)))
            .collect();
        let components = json!({ "schemas": components });
        let mut cache: HashMap<String, Arc<jsonschema::Validator>> = HashMap::new();
        let mut compile = |schema: &Value| -> Arc<jsonschema::Validator> {
            let key = schema.to_string();
            if let Some(v) = cache.get(&key) {
                return v.clone();
            }
            let Value::Object(mut root) = to_json_schema(schema) else {
                panic!("a response schema is an object: {schema}");
            };
            root.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            root.insert("components".into(), components.clone());
            let root = Value::Object(root);
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"));
            let validator = Arc::new(validator);
            cache.insert(key, validator.clone());
            validator
        };

        let mut ops = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                let mut responses = BTreeMap::new();
                for (status, r) in op["responses"].as_object().expect("responses") {
                    let status: u16 = status
                        .parse()
                        .unwrap_or_else(|_| panic!("{id}: status {status:?} is not a number"));
                    let validator = r["content"].as_object().map(|content| {
                        assert_eq!(content.len(), 1, "{id} {status}: one media type");
                        let (media, m) = content.iter().next().unwrap();
                        assert!(media.starts_with("application/json"), "{id} {status}");
                        compile(&m["schema"])
                    });
                    let required_headers = r["headers"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(_, h)| h["required"] == json!(true))
                        .map(|(name, _)| name.to_ascii_lowercase())
                        .collect();
                    responses.insert(
                        status,
                        Declared {
                            validator,
                            required_headers,
                        },
                    );
                }
                let previous = ops.insert(
                    id.to_owned(),
                    Operation {
                        method,
                        path: path.clone(),
                        responses,
                    },
                );
                assert!(previous.is_none(), "operationId {id} is unique");
            }
        }
        let error_body = compile(&json!({"$ref": "#/components/schemas/ErrorBody"}));
        for (pseudo, status) in [(UNKNOWN_ROUTE, 404), (WRONG_METHOD, 405)] {
            let responses = BTreeMap::from([(
                status,
                Declared {
                    validator: Some(error_body.clone()),
                    required_headers: vec![],
                },
            )]);
            ops.insert(
                pseudo.to_owned(),
                Operation {
                    method: Method::GET,
                    path: String::new(),
                    responses,
                },
            );
        }
        let error_codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("ErrorCode enum")
            .iter()
            .map(|c| c.as_str().expect("a code").to_owned())
            .collect();
        Spec { ops, error_codes }
    }

    fn op(&self, id: &str) -> &Operation {
        self.ops
            .get(id)
            .unwrap_or_else(|| panic!("operation {id} is not in openapi.yaml"))
    }

    /// The real operations (no pseudo-operations).
    fn operation_ids(&self) -> Vec<&str> {
        self.ops
            .keys()
            .map(String::as_str)
            .filter(|k| *k != UNKNOWN_ROUTE && *k != WRONG_METHOD)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// Inputs: dimensions of a request, each drawn from labelled classes.

/// What one class of one dimension leads to when every other dimension is valid.
#[derive(Clone, Debug)]
enum Expect {
    Valid,
    /// status, error_code (`VALIDATION_*`: any validation code), `details.field` (when
    /// the class pins it)
    Error(u16, &'static str, Option<&'static str>),
    /// Several answers are acceptable (the contract does not pin this one).
    Unknown,
}

fn err(status: u16, code: &'static str) -> Expect {
    Expect::Error(status, code, None)
}

fn field_err(status: u16, code: &'static str, field: &'static str) -> Expect {
    Expect::Error(status, code, Some(field))
}

#[derive(Clone, Debug)]
struct Pick<T> {
    label: &'static str,
    expect: Expect,
    value: T,
}

struct Class<T> {
    label: &'static str,
    expect: Expect,
    strategy: BoxedStrategy<T>,
}

fn class<T, S>(label: &'static str, expect: Expect, strategy: S) -> Class<T>
where
    T: Clone + Debug + 'static,
    S: Strategy<Value = T> + 'static,
{
    Class {
        label,
        expect,
        strategy: strategy.boxed(),
    }
}

/// A token to present.
#[derive(Clone, Debug)]
enum Tok {
    Valid,
    Missing,
    /// Sent as `Bearer <garbage>`.
    Garbage(String),
    /// A whole `Authorization` header value of another scheme or shape.
    Header(String),
    /// The principal's claims with `alg` none (0), HS384 (1) or HS512 (2).
    WrongAlg(u8),
    /// An access token expired this many seconds ago.
    Expired(i64),
    RefreshAsAccess,
    WrongSignature,
    /// A logged-out session's access token.
    Revoked,
    /// The access token of a user whose row was deleted.
    DeletedUser,
}

#[derive(Clone, Debug)]
enum IdKind {
    Own,
    OwnUpperCase,
    Other,
    Unknown(u128),
    Malformed(String),
}

#[derive(Clone, Debug)]
enum IfMatch {
    Absent,
    Current,
    Any,
    /// `"<stale>", "<current>"`
    ListWithCurrent(i64),
    Weak,
    Stale(i64),
    Garbage(String),
}

type Query = Vec<(String, String)>;

/// A request body (strings may hold `@@…@@` placeholders, filled in when sent).
#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
    Form(Query),
    /// A JSON (or form) body of this many bytes, over the 1 MiB limit.
    TooLarge(usize, bool),
}

#[derive(Clone, Debug)]
struct Input {
    token: Pick<Tok>,
    id: Pick<IdKind>,
    if_match: Pick<IfMatch>,
    query: Pick<Query>,
    body: Pick<Body>,
    request_id: Option<String>,
}

/// An operation's input dimensions (an empty list: the dimension does not apply).
struct OpDef {
    op: &'static str,
    tokens: Vec<Class<Tok>>,
    ids: Vec<Class<IdKind>>,
    if_match: Vec<Class<IfMatch>>,
    query: Vec<Class<Query>>,
    body: Vec<Class<Body>>,
}

fn none<T: Clone>(value: T) -> Pick<T> {
    Pick {
        label: "-",
        expect: Expect::Valid,
        value,
    }
}

/// One class drawn with the fuzzing weights: valid classes as likely as all invalid ones.
fn dimension<T: Clone + Debug + 'static>(
    classes: &[Class<T>],
    default: T,
) -> BoxedStrategy<Pick<T>> {
    if classes.is_empty() {
        return Just(none(default)).boxed();
    }
    let valid = classes
        .iter()
        .filter(|c| matches!(c.expect, Expect::Valid))
        .count() as u32;
    let invalid = classes.len() as u32 - valid;
    let arms: Vec<(u32, BoxedStrategy<Pick<T>>)> = classes
        .iter()
        .map(|c| {
            let weight = match c.expect {
                Expect::Valid => (invalid / valid.max(1)).max(1),
                _ => 1,
            };
            let (label, expect) = (c.label, c.expect.clone());
            let arm = c
                .strategy
                .clone()
                .prop_map(move |value| Pick {
                    label,
                    expect: expect.clone(),
                    value,
                })
                .boxed();
            (weight, arm)
        })
        .collect();
    Union::new_weighted(arms).boxed()
}

fn sample<T: Clone + Debug>(c: &Class<T>, sampler: &mut TestRunner) -> Pick<T> {
    Pick {
        label: c.label,
        expect: c.expect.clone(),
        value: c
            .strategy
            .new_tree(sampler)
            .expect("a value can be drawn")
            .current(),
    }
}

impl OpDef {
    fn strategy(&self) -> impl Strategy<Value = Input> {
        (
            dimension(&self.tokens, Tok::Missing),
            dimension(&self.ids, IdKind::Own),
            dimension(&self.if_match, IfMatch::Absent),
            dimension(&self.query, vec![]),
            dimension(&self.body, Body::None),
            request_id(),
        )
            .prop_map(|(token, id, if_match, query, body, request_id)| Input {
                token,
                id,
                if_match,
                query,
                body,
                request_id,
            })
    }

    /// The all-valid input, then every class of every dimension once, the rest valid.
    fn sweep(&self, sampler: &mut TestRunner) -> Vec<Input> {
        fn first<T: Clone + Debug>(cs: &[Class<T>], d: T, s: &mut TestRunner) -> Pick<T> {
            match cs.first() {
                None => none(d),
                Some(c) => {
                    assert!(
                        matches!(c.expect, Expect::Valid),
                        "{}: first class is valid",
                        c.label
                    );
                    sample(c, s)
                }
            }
        }
        let base = Input {
            token: first(&self.tokens, Tok::Missing, sampler),
            id: first(&self.ids, IdKind::Own, sampler),
            if_match: first(&self.if_match, IfMatch::Absent, sampler),
            query: first(&self.query, vec![], sampler),
            body: first(&self.body, Body::None, sampler),
            request_id: None,
        };
        let mut out = vec![base.clone()];
        for c in self.tokens.iter().skip(1) {
            let mut x = base.clone();
            x.token = sample(c, sampler);
            out.push(x);
        }
        for c in self.ids.iter().skip(1) {
            let mut x = base.clone();
            x.id = sample(c, sampler);
            out.push(x);
        }
        for c in self.if_match.iter().skip(1) {
            let mut x = base.clone();
            x.if_match = sample(c, sampler);
            out.push(x);
        }
        for c in self.query.iter().skip(1) {
            let mut x = base.clone();
            x.query = sample(c, sampler);
            out.push(x);
        }
        for c in self.body.iter().skip(1) {
            let mut x = base.clone();
            x.body = sample(c, sampler);
            out.push(x);
        }
        for rid in ["contract-sweep.1_A-z", "not valid/id"] {
            let mut x = base.clone();
            x.request_id = Some(rid.to_owned());
            out.push(x);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Value strategies.

/// Text with no NUL: ASCII, accents, Cyrillic, CJK, emoji, quotes, `%`, `_`, newlines.
fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::char::range('A', 'Z'),
            1 => Just(' '),
            1 => prop::sample::select(vec![
                '%', '_', '\\', '\'', '"', 'é', 'É', 'ж', 'Ж', '中', '😀', '\n', '<', '&',
            ]),
        ],
        min..=max,
    )
    .prop_map(|c| c.into_iter().collect())
}

/// Starts with a letter, so never blank.
fn non_blank(max: usize) -> impl Strategy<Value = String> {
    (proptest::char::range('a', 'z'), text(0, max - 1)).prop_map(|(c, rest)| format!("{c}{rest}"))
}

/// Exactly `len` characters, multi-byte ones included (lengths count characters).
fn chars(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    len.prop_flat_map(|n| {
        proptest::collection::vec(prop::sample::select(vec!['a', 'é', 'ж', '中', 'Z']), n)
            .prop_map(|c| c.into_iter().collect::<String>())
    })
}

fn blank() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(vec![' ', '\t', '\n', '\r']), 0..4)
        .prop_map(|c| c.into_iter().collect())
}

/// 8..=60 characters with an upper-case and a lower-case letter, a digit and a special.
fn strong_password() -> impl Strategy<Value = String> {
    (
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
        prop::sample::select(vec![
            '#', '!', '%', '&', '*', '-', '_', '@', '?', '~', ' ', 'ß',
        ]),
        "[A-Za-z0-9#!%&*@?~-]{4,56}",
    )
        .prop_map(|(u, l, d, s, rest)| {
            let mut v: Vec<char> = vec![u, l, d, s];
            v.extend(rest.chars());
            v
        })
        .prop_shuffle()
        .prop_map(|v| v.into_iter().collect())
}

fn weak_password() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9#!]{1,7}",
        "[a-z0-9#!]{8,30}",
        "[A-Z0-9#!]{8,30}",
        "[A-Za-z#!]{8,30}",
        "[A-Za-z0-9]{8,30}",
        "[A-Z][a-z][0-9]#[A-Za-z0-9]{125,140}",
    ]
}

/// A fresh, valid address (`@@unique@@` makes it unique).
fn email() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9]{1,10}(\\.[a-z0-9]{1,5})?(\\+[a-z]{1,4})?",
        prop::sample::select(vec!["example.com", "Example.ORG", "mail.example.co.uk"]),
    )
        .prop_map(|(local, domain)| format!("{local}-@@unique@@@{domain}"))
}

fn malformed_email() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.]{1,20}",
        "[a-z]{1,8}@",
        "@[a-z]{1,8}\\.com",
        "[a-z]{1,5} [a-z]{1,5}@example\\.com",
        "[a-z]{1,5}@@example\\.com",
        Just(String::new()),
    ]
}

fn due_date() -> impl Strategy<Value = Value> {
    (
        0i64..4_102_444_800,
        0u32..1_000_000,
        prop::sample::select(vec![0, 19_800, -18_000]),
    )
        .prop_map(|(secs, micros, offset)| {
            let t = chrono::DateTime::from_timestamp(secs, micros * 1000).unwrap();
            let t = t.with_timezone(&chrono::FixedOffset::east_opt(offset).unwrap());
            json!(t.to_rfc3339())
        })
}

fn bad_date() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tomorrow".to_owned()),
        Just("2030-01-01".to_owned()),
        Just("2030-02-30T00:00:00Z".to_owned()),
        Just("2030-01-01 10:00".to_owned()),
        Just("2030-13-01T00:00:00Z".to_owned()),
        "[a-z]{1,10}",
    ]
}

fn priority() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["low", "medium", "high"])
}

fn not_in(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,12}", Just("HIGH".to_owned()), Just(String::new())]
        .prop_filter("not an allowed value", move |v| {
            !values.contains(&v.as_str())
        })
}

/// Visible ASCII, as a header value can carry.
fn header_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[!-~]([ -~]{{0,{max}}}[!-~])?")).unwrap()
}

fn request_id() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        2 => "[A-Za-z0-9._-]{1,128}".prop_map(Some),
        1 => "[A-Za-z0-9._-]{129,160}".prop_map(Some),
        1 => "[A-Za-z0-9]{1,10}[ /+:@!~,;][A-Za-z0-9]{1,10}".prop_map(Some),
    ]
}

fn request_id_well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn json_body<S: Strategy<Value = Value> + 'static>(s: S) -> impl Strategy<Value = Body> {
    s.prop_map(Body::Json)
}

/// Arbitrary JSON, biased towards objects with the API's field names.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text(0, 30).prop_map(Value::from),
        Just(json!("2030-01-01T00:00:00Z")),
        Just(json!("#A0B1C2")),
        Just(json!("a\u{0}b")),
    ];
    let keys = prop::sample::select(vec![
        "title",
        "description",
        "priority",
        "due_date",
        "is_completed",
        "tags",
        "name",
        "color",
        "email",
        "password",
        "refresh_token",
        "current_password",
        "new_password",
        "user_id",
        "id",
        "version",
    ]);
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// Sets `key` in a JSON object body.
fn with(body: Value, key: &str, value: Value) -> Value {
    let mut body = body;
    body.as_object_mut()
        .expect("an object body")
        .insert(key.to_owned(), value);
    body
}

fn without(body: Value, key: &str) -> Value {
    let mut body = body;
    body.as_object_mut().expect("an object body").remove(key);
    body
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

// ---------------------------------------------------------------------------------------
// The operations' dimensions.

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
            prop_oneof![1i64..5, 5i64..1000, -1000i64..0].prop_map(IfMatch::Stale),
        ),
        class(
            "garbage If-Match",
            Expect::Unknown,
            header_text(30).prop_map(IfMatch::Garbage),
        ),
    ]
}

fn todo_input(patch: bool) -> BoxedStrategy<Value> {
    let title: BoxedStrategy<Option<String>> = if patch {
        proptest::option::of(non_blank(255)).boxed()
    } else {
        non_blank(255).prop_map(Some).boxed()
    };
    (
        title,
        proptest::option::of(prop_oneof![
            text(0, 300).prop_map(Value::from),
            Just(Value::Null)
        ]),
        proptest::option::of(priority()),
        proptest::option::of(prop_oneof![due_date(), Just(Value::Null)]),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::collection::vec(non_blank(50), 0..4)),
        proptest::option::weighted(0.2, (any::<u128>(), 0i64..100)),
    )
        .prop_map(
            move |(title, description, priority, due, done, tags, ignored)| {
                let mut b = Map::new();
                if let Some(t) = title {
                    b.insert("title".into(), json!(t));
                } else if !patch {
                    b.insert("title".into(), json!("untitled"));
                }
                if let Some(d) = description {
                    b.insert("description".into(), d);
                }
                if let Some(p) = priority {
                    b.insert("priority".into(), json!(p));
                }
                if let Some(d) = due {
                    b.insert("due_date".into(), d);
                }
                if let Some(d) = done {
                    b.insert("is_completed".into(), json!(d));
                }
                if let Some(t) = tags {
                    b.insert("tags".into(), json!(t));
                }
                if let Some((id, version)) = ignored {
                    // Never trusted: changes nothing.
                    b.insert("id".into(), json!(Uuid::from_u128(id)));
                    b.insert("user_id".into(), json!(Uuid::from_u128(!id)));
                    b.insert("version".into(), json!(version));
                }
                Value::Object(b)
            },
        )
        .boxed()
}

fn todo_body_classes(patch: bool) -> Vec<Class<Body>> {
    let valid = todo_input(patch);
    let v = || valid.clone();
    let mut classes = vec![class("valid todo", Expect::Valid, json_body(v()))];
    if !patch {
        classes.push(class(
            "title missing",
            field_err(422, "VALIDATION_004", "title"),
            v().prop_map(|b| Body::Json(without(b, "title"))),
        ));
    }
    classes.extend([
        class(
            "blank title",
            field_err(422, "VALIDATION_004", "title"),
            (v(), blank()).prop_map(|(b, t)| Body::Json(with(b, "title", json!(t)))),
        ),
        class(
            "title not a string",
            field_err(422, "VALIDATION_004", "title"),
            (
                v(),
                prop_oneof![
                    Just(json!(5)),
                    Just(json!(false)),
                    Just(json!(["a"])),
                    Just(json!({}))
                ],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "title", t))),
        ),
        class(
            "is_completed not a boolean",
            field_err(422, "VALIDATION_004", "is_completed"),
            (
                v(),
                prop_oneof![Just(json!("yes")), Just(json!("true")), Just(json!(1))],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "is_completed", t))),
        ),
        class(
            "tags not a list of strings",
            field_err(422, "VALIDATION_004", "tags"),
            (
                v(),
                prop_oneof![
                    Just(json!("errands")),
                    Just(json!([1])),
                    Just(json!({"a": 1}))
                ],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "tags", t))),
        ),
        class(
            "description not a string",
            field_err(422, "VALIDATION_004", "description"),
            (
                v(),
                prop_oneof![Just(json!(5)), Just(json!(true)), Just(json!([]))],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "description", t))),
        ),
        class(
            "title too long",
            field_err(422, "VALIDATION_005", "title"),
            (v(), chars(256..=300)).prop_map(|(b, t)| Body::Json(with(b, "title", json!(t)))),
        ),
        class(
            "description too long",
            field_err(422, "VALIDATION_005", "description"),
            (v(), chars(10_001..=10_050))
                .prop_map(|(b, t)| Body::Json(with(b, "description", json!(t)))),
        ),
        class(
            "tag name too long",
            err(422, "VALIDATION_005"),
            (v(), chars(51..=80)).prop_map(|(b, t)| Body::Json(with(b, "tags", json!(["ok", t])))),
        ),
        class(
            "bad priority",
            field_err(422, "VALIDATION_006", "priority"),
            (v(), not_in(&["low", "medium", "high"]))
                .prop_map(|(b, p)| Body::Json(with(b, "priority", json!(p)))),
        ),
        class(
            "bad due_date",
            field_err(422, "VALIDATION_009", "due_date"),
            (v(), bad_date()).prop_map(|(b, d)| Body::Json(with(b, "due_date", json!(d)))),
        ),
        class(
            "NUL in title",
            field_err(422, "VALIDATION_*", "title"),
            (v(), text(0, 5))
                .prop_map(|(b, t)| Body::Json(with(b, "title", json!(format!("a{t}\u{0}"))))),
        ),
        class(
            "51 tags",
            field_err(422, "VALIDATION_*", "tags"),
            v().prop_map(|b| {
                let tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
                Body::Json(with(b, "tags", json!(tags)))
            }),
        ),
        class(
            "NUL in description",
            field_err(422, "VALIDATION_*", "description"),
            (v(), text(0, 5))
                .prop_map(|(b, t)| Body::Json(with(b, "description", json!(format!("{t}\u{0}x"))))),
        ),
        class(
            "NUL in a tag name",
            field_err(422, "VALIDATION_*", "tags"),
            (v(), text(0, 5))
                .prop_map(|(b, t)| Body::Json(with(b, "tags", json!([format!("a{t}\u{0}")])))),
        ),
    ]);
    if patch {
        classes.push(class(
            "title null",
            Expect::Unknown,
            v().prop_map(|b| Body::Json(with(b, "title", Value::Null))),
        ));
    }
    classes.extend(framing_classes(v()));
    classes
}

fn color() -> impl Strategy<Value = Value> {
    prop_oneof!["#[0-9A-Fa-f]{6}".prop_map(Value::from), Just(Value::Null)]
}

fn tag_input(patch: bool) -> BoxedStrategy<Value> {
    (
        if patch {
            proptest::option::of(non_blank(30)).boxed()
        } else {
            non_blank(30).prop_map(Some).boxed()
        },
        proptest::option::of(color()),
    )
        .prop_map(|(name, color)| {
            let mut b = Map::new();
            if let Some(n) = name {
                b.insert("name".into(), json!(format!("{n} @@unique@@")));
            }
            if let Some(c) = color {
                b.insert("color".into(), c);
            }
            Value::Object(b)
        })
        .boxed()
}

fn tag_body_classes(patch: bool) -> Vec<Class<Body>> {
    let valid = tag_input(patch);
    let v = || valid.clone();
    let mut classes = vec![
        class("valid tag", Expect::Valid, json_body(v())),
        class(
            "name taken (any case)",
            err(409, "CONFLICT_001"),
            v().prop_map(|b| Body::Json(with(b, "name", json!("@@tag@@")))),
        ),
    ];
    if !patch {
        classes.push(class(
            "name missing",
            field_err(422, "VALIDATION_004", "name"),
            v().prop_map(|b| Body::Json(without(b, "name"))),
        ));
    }
    classes.extend([
        class(
            "blank name",
            field_err(422, "VALIDATION_004", "name"),
            (v(), blank()).prop_map(|(b, n)| Body::Json(with(b, "name", json!(n)))),
        ),
        class(
            "name not a string",
            field_err(422, "VALIDATION_004", "name"),
            (
                v(),
                prop_oneof![Just(json!(5)), Just(json!(true)), Just(json!(["x"]))],
            )
                .prop_map(|(b, n)| Body::Json(with(b, "name", n))),
        ),
        class(
            "name too long",
            field_err(422, "VALIDATION_005", "name"),
            (v(), chars(51..=70)).prop_map(|(b, n)| Body::Json(with(b, "name", json!(n)))),
        ),
        class(
            "NUL in name",
            field_err(422, "VALIDATION_*", "name"),
            (v(), text(0, 5))
                .prop_map(|(b, n)| Body::Json(with(b, "name", json!(format!("a{n}\u{0}"))))),
        ),
        class(
            "bad color",
            field_err(422, "VALIDATION_009", "color"),
            (
                v(),
                prop_oneof![
                    Just("red".to_owned()),
                    Just("#12345".to_owned()),
                    Just("#GGGGGG".to_owned()),
                    Just("123456".to_owned()),
                    Just("#1234567".to_owned()),
                    "[a-z]{1,8}",
                ],
            )
                .prop_map(|(b, c)| Body::Json(with(b, "color", json!(c)))),
        ),
        class(
            "color not a string",
            field_err(422, "VALIDATION_004", "color"),
            (v(), prop_oneof![Just(json!(5)), Just(json!(true))])
                .prop_map(|(b, c)| Body::Json(with(b, "color", c))),
        ),
    ]);
    classes.extend(framing_classes(v()));
    classes
}

fn query_text_pair(
    key: &'static str,
    s: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<(String, String)> {
    s.prop_map(move |v| (key.to_owned(), v)).boxed()
}

fn page_params() -> BoxedStrategy<Query> {
    (
        proptest::option::of(0i64..60),
        proptest::option::of(1i64..=100),
    )
        .prop_map(|(skip, limit)| {
            let mut q = vec![];
            if let Some(s) = skip {
                q.push(("skip".to_owned(), s.to_string()));
            }
            if let Some(l) = limit {
                q.push(("limit".to_owned(), l.to_string()));
            }
            q
        })
        .boxed()
}

fn page_classes() -> Vec<Class<Query>> {
    vec![
        class("valid page", Expect::Valid, page_params()),
        class(
            "negative skip",
            field_err(422, "VALIDATION_009", "skip"),
            (page_params(), -1000i64..0).prop_map(|(mut q, s)| {
                q.retain(|(k, _)| k != "skip");
                q.push(("skip".into(), s.to_string()));
                q
            }),
        ),
        class(
            "limit out of range",
            field_err(422, "VALIDATION_009", "limit"),
            (
                page_params(),
                prop_oneof![Just(0i64), 101i64..10_000, -50i64..0],
            )
                .prop_map(|(mut q, l)| {
                    q.retain(|(k, _)| k != "limit");
                    q.push(("limit".into(), l.to_string()));
                    q
                }),
        ),
        class(
            "non-numeric skip/limit",
            Expect::Unknown,
            (
                prop::sample::select(vec!["skip", "limit"]),
                prop_oneof!["[a-z]{1,5}", Just("1.5".to_owned()), Just(String::new())],
            )
                .prop_map(|(k, v)| vec![(k.to_owned(), v)]),
        ),
    ]
}

fn todo_query() -> BoxedStrategy<Query> {
    let pairs: Vec<BoxedStrategy<(String, String)>> = vec![
        query_text_pair(
            "is_completed",
            prop::sample::select(vec!["true", "false"]).prop_map(String::from),
        ),
        query_text_pair("priority", priority().prop_map(String::from)),
        query_text_pair("tag", non_blank(20)),
        query_text_pair("q", text(0, 20)),
        query_text_pair(
            "due_before",
            due_date().prop_map(|v| v.as_str().unwrap().to_owned()),
        ),
        query_text_pair(
            "due_after",
            due_date().prop_map(|v| v.as_str().unwrap().to_owned()),
        ),
        query_text_pair(
            "sort_by",
            prop::sample::select(vec![
                "created_at",
                "updated_at",
                "completed_at",
                "title",
                "due_date",
                "priority",
            ])
            .prop_map(String::from),
        ),
        query_text_pair(
            "sort_order",
            prop::sample::select(vec!["asc", "desc"]).prop_map(String::from),
        ),
        query_text_pair("unknown_param", "[a-z]{0,5}"),
    ];
    let optional: Vec<BoxedStrategy<Option<(String, String)>>> = pairs
        .into_iter()
        .map(|p| proptest::option::weighted(0.3, p).boxed())
        .collect();
    (page_params(), optional)
        .prop_map(|(mut q, extra)| {
            q.extend(extra.into_iter().flatten());
            q
        })
        .boxed()
}

fn todo_query_classes() -> Vec<Class<Query>> {
    let replace = |key: &'static str, s: BoxedStrategy<String>| {
        (todo_query(), s).prop_map(move |(mut q, v)| {
            q.retain(|(k, _)| k != key);
            q.push((key.to_owned(), v));
            q
        })
    };
    let mut classes = vec![class("valid filters", Expect::Valid, todo_query())];
    for (key, code) in [
        ("priority", "VALIDATION_006"),
        ("sort_by", "VALIDATION_006"),
        ("sort_order", "VALIDATION_006"),
    ] {
        let allowed: &'static [&'static str] = match key {
            "priority" => &["low", "medium", "high"],
            "sort_by" => &[
                "created_at",
                "updated_at",
                "completed_at",
                "title",
                "due_date",
                "priority",
            ],
            _ => &["asc", "desc"],
        };
        let label = match key {
            "priority" => "bad priority",
            "sort_by" => "bad sort_by",
            _ => "bad sort_order",
        };
        classes.push(class(
            label,
            field_err(422, code, key),
            replace(key, not_in(allowed).boxed()),
        ));
    }
    for key in ["due_before", "due_after"] {
        let label = if key == "due_before" {
            "bad due_before"
        } else {
            "bad due_after"
        };
        classes.push(class(
            label,
            field_err(422, "VALIDATION_009", key),
            replace(key, bad_date().boxed()),
        ));
    }
    classes.push(class(
        "bad is_completed",
        Expect::Unknown,
        replace(
            "is_completed",
            prop_oneof!["[a-z]{1,6}", Just("2".to_owned())].boxed(),
        ),
    ));
    classes.push(class(
        "q too long",
        Expect::Unknown,
        replace("q", chars(256..=300).boxed()),
    ));
    classes.push(class(
        "tag too long",
        Expect::Unknown,
        replace("tag", chars(51..=60).boxed()),
    ));
    for key in ["q", "tag"] {
        let label = if key == "q" { "NUL in q" } else { "NUL in tag" };
        classes.push(class(
            label,
            field_err(422, "VALIDATION_*", key),
            replace(key, text(0, 5).prop_map(|t| format!("a{t}\u{0}")).boxed()),
        ));
    }
    classes.extend(page_classes().into_iter().skip(1).map(|c| {
        Class {
            label: c.label,
            expect: c.expect,
            strategy: (todo_query(), c.strategy)
                .prop_map(|(mut q, bad)| {
                    q.retain(|(k, _)| !bad.iter().any(|(b, _)| b == k));
                    q.extend(bad);
                    q
                })
                .boxed(),
        }
    }));
    classes
}

fn register_classes() -> Vec<Class<Body>> {
    let valid = (
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
        .boxed();
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
    ];
    classes.extend(framing_classes(v()));
    classes
}

fn login_classes() -> Vec<Class<Body>> {
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
    ];
    classes.extend(framing_classes(v()));
    classes
}

fn form(pairs: &[(&str, &str)]) -> Query {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn token_form_classes() -> Vec<Class<Body>> {
    let valid = (
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
        .boxed();
    let v = || valid.clone();
    let set = |f: &mut Query, key: &str, value: String| {
        f.retain(|(k, _)| k != key);
        f.push((key.to_owned(), value));
    };
    vec![
        class("valid grant", Expect::Valid, v().prop_map(Body::Form)),
        class(
            "wrong password",
            err(401, "AUTH_001"),
            (v(), strong_password()).prop_map(move |(mut f, p)| {
                set(&mut f, "password", format!("{p}x"));
                Body::Form(f)
            }),
        ),
        class(
            "unknown user",
            err(401, "AUTH_001"),
            (v(), email()).prop_map(move |(mut f, e)| {
                set(&mut f, "username", e);
                Body::Form(f)
            }),
        ),
        class(
            "unsupported grant_type",
            field_err(422, "VALIDATION_006", "grant_type"),
            (
                v(),
                not_in(&["password"]).prop_filter("non-empty", |g| !g.is_empty()),
            )
                .prop_map(move |(mut f, g)| {
                    set(&mut f, "grant_type", g);
                    Body::Form(f)
                }),
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

fn refresh_classes() -> Vec<Class<Body>> {
    let tok = |t: &'static str| Body::Json(json!({ "refresh_token": t }));
    let valid = Just(json!({"refresh_token": "@@refresh@@"})).boxed();
    let mut classes = vec![
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
    ];
    classes.extend(framing_classes(valid));
    classes
}

fn logout_classes() -> Vec<Class<Body>> {
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
    ];
    classes.extend(framing_classes(Just(json!({})).boxed()));
    classes
}

fn change_password_classes() -> Vec<Class<Body>> {
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

fn op_defs() -> Vec<OpDef> {
    let def = |op: &'static str| OpDef {
        op,
        tokens: vec![],
        ids: vec![],
        if_match: vec![],
        query: vec![],
        body: vec![],
    };
    let bearer = |op: &'static str| OpDef {
        tokens: token_classes(),
        ..def(op)
    };
    vec![
        OpDef {
            body: register_classes(),
            ..def("register")
        },
        OpDef {
            body: login_classes(),
            ..def("login")
        },
        OpDef {
            body: token_form_classes(),
            ..def("issue_token")
        },
        OpDef {
            body: refresh_classes(),
            ..def("refresh_token")
        },
        OpDef {
            body: logout_classes(),
            ..bearer("logout")
        },
        OpDef {
            body: change_password_classes(),
            ..bearer("change_password")
        },
        bearer("get_me"),
        OpDef {
            query: todo_query_classes(),
            ..bearer("list_todos")
        },
        OpDef {
            body: todo_body_classes(false),
            ..bearer("create_todo")
        },
        OpDef {
            ids: id_classes("RESOURCE_001"),
            ..bearer("get_todo")
        },
        OpDef {
            ids: id_classes("RESOURCE_001"),
            if_match: if_match_classes(),
            body: todo_body_classes(false),
            ..bearer("replace_todo")
        },
        OpDef {
            ids: id_classes("RESOURCE_001"),
            if_match: if_match_classes(),
            body: todo_body_classes(true),
            ..bearer("update_todo")
        },
        OpDef {
            ids: id_classes("RESOURCE_001"),
            if_match: if_match_classes(),
            ..bearer("delete_todo")
        },
        OpDef {
            ids: id_classes("RESOURCE_001"),
            if_match: if_match_classes(),
            ..bearer("toggle_todo")
        },
        OpDef {
            query: page_classes(),
            ..bearer("list_tags")
        },
        OpDef {
            body: tag_body_classes(false),
            ..bearer("create_tag")
        },
        OpDef {
            ids: id_classes("RESOURCE_002"),
            ..bearer("get_tag")
        },
        OpDef {
            ids: id_classes("RESOURCE_002"),
            body: tag_body_classes(true),
            ..bearer("update_tag")
        },
        OpDef {
            ids: id_classes("RESOURCE_002"),
            ..bearer("delete_tag")
        },
        def("get_health"),
        def("get_liveness"),
    ]
}

// ---------------------------------------------------------------------------------------
// The world: a live server, users, resources, the ledger.

#[derive(Clone, Debug)]
struct Principal {
    id: String,
    email: String,
    password: String,
    access: String,
    refresh: String,
}

/// One request, resolved (tokens and placeholders filled in).
struct Call {
    op: &'static str,
    method: Method,
    path: String,
    query: Query,
    authorization: Option<String>,
    token_label: &'static str,
    if_match: Option<String>,
    request_id: Option<String>,
    body: Body,
    /// The body before placeholders were filled in (for the report).
    template: String,
}

impl Call {
    fn new(op: &'static str, method: Method, path: String) -> Call {
        Call {
            op,
            method,
            path,
            query: vec![],
            authorization: None,
            token_label: "none",
            if_match: None,
            request_id: None,
            body: Body::None,
            template: String::new(),
        }
    }

    fn bearer(mut self, token: &str) -> Call {
        self.authorization = Some(format!("Bearer {token}"));
        self.token_label = "valid token";
        self
    }

    fn json(mut self, body: Value) -> Call {
        self.template = body.to_string();
        self.body = Body::Json(body);
        self
    }

    /// A shell command that replays the request (tokens shown by kind).
    fn repro(&self) -> String {
        let mut url = self.path.clone();
        if !self.query.is_empty() {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let mut s = format!("curl -X {} '$BASE{url}'", self.method);
        if self.authorization.is_some() {
            s += &format!(" -H 'Authorization: <{}>'", self.token_label);
        }
        if let Some(m) = &self.if_match {
            s += &format!(" -H 'If-Match: {m}'");
        }
        if let Some(r) = &self.request_id {
            s += &format!(" -H 'X-Request-ID: {r}'");
        }
        let shown = |t: &str| {
            let t: String = t.chars().take(300).collect();
            t.replace('\'', "'\\''")
        };
        match &self.body {
            Body::None => {}
            Body::Json(_) => {
                s += &format!(
                    " -H 'Content-Type: application/json' --data '{}'",
                    shown(&self.template)
                )
            }
            Body::Raw(ct, t) => s += &format!(" -H 'Content-Type: {ct}' --data '{}'", shown(t)),
            Body::Form(_) => s += &format!(" --data-urlencode … ({})", shown(&self.template)),
            Body::TooLarge(n, form) => {
                s += &format!(
                    " --data <{n} bytes{}>",
                    if *form { ", form" } else { ", JSON" }
                )
            }
        }
        s
    }
}

struct Outcome {
    status: u16,
    code: Option<String>,
    field: Option<String>,
    body: Value,
    headers: HeaderMap,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Setup,
    Sweep,
    Fuzz,
}

#[derive(Default)]
struct Ledger {
    /// (op, status, code) → requests in [setup, sweep, fuzz]
    seen: BTreeMap<(String, u16, String), [u32; 3]>,
}

struct Violation {
    op: String,
    what: String,
    repro: String,
    answer: String,
}

struct World<'a> {
    app: &'a TestApp,
    spec: &'a Spec,
    ledger: &'a RefCell<Ledger>,
    violations: &'a RefCell<Vec<Violation>>,
    /// A client that keeps no idle connections.
    oneshot: reqwest::Client,
    phase: Cell<Phase>,
    /// The rate-limited server: no setup, forged principals, no refresh chain upkeep.
    limited: bool,
    counter: Cell<u64>,
    requests: Cell<u64>,
    /// "op: class" (one non-valid dimension) → answers seen; `CONTRACT_VERBOSE=1` prints it.
    answers: RefCell<BTreeMap<String, BTreeSet<String>>>,
    a: Principal,
    /// A session of `a` used by the refresh operation (rotated as it goes).
    chain: RefCell<Principal>,
    /// A logged-out session of `a`.
    revoked: Principal,
    /// A user whose row was deleted.
    deleted: Principal,
    a_todo: String,
    a_tag: (String, String),
    b_todo: String,
    b_tag: String,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn user_id(access: &str) -> String {
    claims(access)["sub"]
        .as_str()
        .expect("sub claim")
        .to_owned()
}

/// The token's claims re-signed with a wrong secret.
fn resign(token: &str) -> String {
    sign(&claims(token), jsonwebtoken::Algorithm::HS256, WRONG_SECRET)
}

/// The token's claims under another `alg`: none (0), HS384 (1), HS512 (2).
fn forge_alg(token: &str, which: u8) -> String {
    let c = claims(token);
    let secret = TEST_JWT_SECRET.as_bytes();
    match which {
        0 => hand_built_token(&json!({"alg": "none", "typ": "JWT"}), &c, ""),
        1 => sign(&c, jsonwebtoken::Algorithm::HS384, secret),
        _ => sign(&c, jsonwebtoken::Algorithm::HS512, secret),
    }
}

/// A token like `token` (same user and session) of `kind` that expired `ago` seconds ago.
fn expired(token: &str, kind: &str, ago: i64) -> String {
    let c = claims(token);
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    sign_valid(&make_claims(&s("sub"), &s("email"), &s("sid"), kind, -ago))
}

/// Replaces every string of a JSON value through `f`.
fn map_strings(v: &Value, f: &mut dyn FnMut(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), map_strings(x, f)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl<'a> World<'a> {
    fn bare(
        app: &'a TestApp,
        spec: &'a Spec,
        ledger: &'a RefCell<Ledger>,
        violations: &'a RefCell<Vec<Violation>>,
        limited: bool,
    ) -> World<'a> {
        let p = forged_principal();
        World {
            app,
            spec,
            ledger,
            violations,
            oneshot: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .build()
                .expect("an HTTP client"),
            phase: Cell::new(Phase::Setup),
            limited,
            counter: Cell::new(0),
            requests: Cell::new(0),
            answers: RefCell::default(),
            a: p.clone(),
            chain: RefCell::new(p.clone()),
            revoked: p.clone(),
            deleted: p,
            a_todo: Uuid::new_v4().to_string(),
            a_tag: (Uuid::new_v4().to_string(), "none".into()),
            b_todo: Uuid::new_v4().to_string(),
            b_tag: Uuid::new_v4().to_string(),
        }
    }

    /// Users `a` and `b` with a todo and a tag each, a refresh chain and a logged-out
    /// session of `a`, a user whose row is deleted.
    async fn setup(
        app: &'a TestApp,
        spec: &'a Spec,
        ledger: &'a RefCell<Ledger>,
        violations: &'a RefCell<Vec<Violation>>,
    ) -> World<'a> {
        let mut w = World::bare(app, spec, ledger, violations, false);
        w.a = w.fresh_user().await;
        let b = w.fresh_user().await;
        w.chain = RefCell::new(w.session(&w.a).await);
        let revoked = w.session(&w.a).await;
        let logout = Call::new("logout", Method::POST, "/api/v1/auth/logout".into());
        let out = w.send(logout.bearer(&revoked.access)).await;
        assert_eq!(out.status, 200, "setup: logout");
        w.revoked = revoked;
        let deleted = w.fresh_user().await;
        let deleted_id = Uuid::parse_str(&deleted.id).expect("a user id");
        assert_eq!(app.delete_user(deleted_id).await, 1, "setup: delete a user");
        w.deleted = deleted;
        w.a_todo = w.create_todo(&w.a.access).await;
        w.a_tag = w.create_tag(&w.a.access).await;
        w.b_todo = w.create_todo(&b.access).await;
        w.b_tag = w.create_tag(&b.access).await.0;
        w
    }

    fn unique(&self) -> String {
        self.counter.set(self.counter.get() + 1);
        format!("u{}", self.counter.get())
    }

    /// Registers and logs in a new user (both requests checked and recorded).
    async fn fresh_user(&self) -> Principal {
        let email = format!("contract-{}@example.com", self.unique());
        let out = self
            .send(
                Call::new("register", Method::POST, "/api/v1/auth/register".into())
                    .json(json!({"email": email, "password": STRONG_PASSWORD, "name": "Contract"})),
            )
            .await;
        assert_eq!(out.status, 201, "register a fresh user: {}", out.body);
        let mut p = Principal {
            id: out.body["id"].as_str().unwrap_or_default().to_owned(),
            email,
            password: STRONG_PASSWORD.to_owned(),
            access: String::new(),
            refresh: String::new(),
        };
        let s = self.session(&p).await;
        p.access = s.access;
        p.refresh = s.refresh;
        p
    }

    /// A new session (login) of `p`.
    async fn session(&self, p: &Principal) -> Principal {
        let out = self
            .send(
                Call::new("login", Method::POST, "/api/v1/auth/login".into())
                    .json(json!({"email": p.email, "password": p.password})),
            )
            .await;
        assert_eq!(out.status, 200, "log in {}: {}", p.email, out.body);
        let access = out.body["access_token"].as_str().unwrap().to_owned();
        Principal {
            id: user_id(&access),
            email: p.email.clone(),
            password: p.password.clone(),
            refresh: out.body["refresh_token"].as_str().unwrap().to_owned(),
            access,
        }
    }

    async fn create_todo(&self, access: &str) -> String {
        let out = self
            .send(
                Call::new("create_todo", Method::POST, "/api/v1/todos".into())
                    .bearer(access)
                    .json(json!({"title": format!("todo {}", self.unique())})),
            )
            .await;
        assert_eq!(out.status, 201, "create a todo: {}", out.body);
        out.body["id"].as_str().unwrap().to_owned()
    }

    async fn create_tag(&self, access: &str) -> (String, String) {
        let name = format!("Shared Tag {}", self.unique());
        let out = self
            .send(
                Call::new("create_tag", Method::POST, "/api/v1/tags".into())
                    .bearer(access)
                    .json(json!({ "name": name })),
            )
            .await;
        assert_eq!(out.status, 201, "create a tag: {}", out.body);
        (out.body["id"].as_str().unwrap().to_owned(), name)
    }

    /// The current version of one of `a`'s todos.
    async fn version_of(&self, id: &str) -> i64 {
        let out = self
            .send(
                Call::new("get_todo", Method::GET, format!("/api/v1/todos/{id}"))
                    .bearer(&self.a.access),
            )
            .await;
        out.body["version"].as_i64().unwrap_or(1)
    }

    /// Whose tokens an operation uses: fresh sessions or users where success revokes.
    async fn principal(&self, op: &str) -> Principal {
        match op {
            "logout" => self.session(&self.a).await,
            "change_password" => self.fresh_user().await,
            "refresh_token" => self.chain.borrow().clone(),
            _ => self.a.clone(),
        }
    }

    /// A refresh token that was already rotated (its family is revoked by presenting it).
    async fn reused_refresh(&self) -> String {
        let s = self.session(&self.a).await;
        let out = self
            .send(
                Call::new("refresh_token", Method::POST, "/api/v1/auth/refresh".into())
                    .json(json!({"refresh_token": s.refresh})),
            )
            .await;
        assert_eq!(out.status, 200, "rotate a refresh token: {}", out.body);
        s.refresh
    }

    async fn resolve_strings(&self, p: &Principal, texts: &[&str]) -> Vec<(String, String)> {
        let all = texts.concat();
        let mut vars: Vec<(String, String)> = vec![];
        let mut add = |k: &str, v: &dyn Fn() -> String| {
            if all.contains(k) {
                vars.push((k.to_owned(), v()));
            }
        };
        add("@@email@@", &|| p.email.clone());
        add("@@EMAIL@@", &|| p.email.to_uppercase());
        add("@@password@@", &|| p.password.clone());
        add("@@refresh@@", &|| p.refresh.clone());
        add("@@access@@", &|| p.access.clone());
        add("@@expired_refresh@@", &|| {
            expired(&p.refresh, "refresh", 3600)
        });
        add("@@badsig_refresh@@", &|| resign(&p.refresh));
        add("@@alg_refresh@@", &|| forge_alg(&p.refresh, 1));
        add("@@revoked_refresh@@", &|| self.revoked.refresh.clone());
        add("@@deleted_refresh@@", &|| self.deleted.refresh.clone());
        let n = self.counter.get();
        add("@@tag@@", &|| {
            let name = &self.a_tag.1;
            match n % 3 {
                0 => name.to_uppercase(),
                1 => name.to_lowercase(),
                _ => format!("  {name} "),
            }
        });
        if all.contains("@@reused_refresh@@") {
            vars.push(("@@reused_refresh@@".into(), self.reused_refresh().await));
        }
        vars
    }

    async fn resolve_body(&self, body: &Body, p: &Principal) -> Body {
        let texts: Vec<String> = match body {
            Body::Json(v) => vec![v.to_string()],
            Body::Raw(_, t) => vec![t.clone()],
            Body::Form(f) => f.iter().map(|(_, v)| v.clone()).collect(),
            Body::None | Body::TooLarge(..) => vec![],
        };
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vars = self.resolve_strings(p, &refs).await;
        let mut fill = |s: &str| {
            let mut s = s.to_owned();
            for (k, v) in &vars {
                s = s.replace(k, v);
            }
            while s.contains("@@unique@@") {
                s = s.replacen("@@unique@@", &self.unique(), 1);
            }
            s
        };
        match body {
            Body::Json(v) => Body::Json(map_strings(v, &mut fill)),
            Body::Raw(ct, t) => Body::Raw(ct, fill(t)),
            Body::Form(f) => Body::Form(f.iter().map(|(k, v)| (k.clone(), fill(v))).collect()),
            other => other.clone(),
        }
    }

    fn authorization(&self, tok: &Tok, p: &Principal) -> Option<String> {
        let token = match tok {
            Tok::Valid => p.access.clone(),
            Tok::Missing => return None,
            Tok::Garbage(g) => g.clone(),
            Tok::Header(h) => return Some(h.clone()),
            Tok::WrongAlg(k) => forge_alg(&p.access, *k),
            Tok::Expired(ago) => expired(&p.access, "access", *ago),
            Tok::RefreshAsAccess => p.refresh.clone(),
            Tok::WrongSignature => resign(&p.access),
            Tok::Revoked => self.revoked.access.clone(),
            Tok::DeletedUser => self.deleted.access.clone(),
        };
        Some(format!("Bearer {token}"))
    }

    /// The id to put in the path (and whether it is the caller's own resource).
    async fn resolve_id(&self, op: &str, kind: &IdKind) -> (String, bool) {
        let todo = matches!(
            op,
            "get_todo" | "replace_todo" | "update_todo" | "delete_todo" | "toggle_todo"
        );
        let own = || async {
            match op {
                "delete_todo" => self.create_todo(&self.a.access).await,
                "delete_tag" | "update_tag" => self.create_tag(&self.a.access).await.0,
                _ if todo => self.a_todo.clone(),
                _ => self.a_tag.0.clone(),
            }
        };
        match kind {
            IdKind::Own => (own().await, true),
            IdKind::OwnUpperCase => (own().await.to_uppercase(), true),
            IdKind::Other if todo => (self.b_todo.clone(), false),
            IdKind::Other => (self.b_tag.clone(), false),
            IdKind::Unknown(n) => (Uuid::from_u128(*n).to_string(), false),
            IdKind::Malformed(s) => (s.clone(), false),
        }
    }

    /// Resolves `input` for `def`, sends it, checks the answer and the expected outcome.
    async fn execute(&self, def: &OpDef, input: &Input, pinned: Option<Option<Expected>>) {
        let spec_op = self.spec.op(def.op);
        let p = self.principal(def.op).await;
        let mut call = Call::new(def.op, spec_op.method.clone(), spec_op.path.clone());
        if !def.tokens.is_empty() {
            call.authorization = self.authorization(&input.token.value, &p);
            call.token_label = input.token.label;
        }
        if call.path.contains("{id}") {
            let (id, own) = self.resolve_id(def.op, &input.id.value).await;
            if !def.if_match.is_empty() {
                let v = match (&input.if_match.value, own) {
                    (IfMatch::Absent, _) => 0,
                    (_, true) => self.version_of(&id.to_lowercase()).await,
                    (_, false) => 1,
                };
                call.if_match = match &input.if_match.value {
                    IfMatch::Absent => None,
                    IfMatch::Current => Some(format!("\"{v}\"")),
                    IfMatch::Any => Some("*".into()),
                    IfMatch::ListWithCurrent(k) => Some(format!("\"{}\", \"{v}\"", v + k)),
                    IfMatch::Weak => Some(format!("W/\"{v}\"")),
                    IfMatch::Stale(k) => Some(format!("\"{}\"", v + k)),
                    IfMatch::Garbage(g) => Some(g.clone()),
                };
            }
            call.path = call.path.replace("{id}", &id);
        }
        call.query = input.query.value.clone();
        call.request_id = input.request_id.clone();
        call.template = match &input.body.value {
            Body::Json(v) => v.to_string(),
            Body::Form(f) => format!("{f:?}"),
            _ => String::new(),
        };
        call.body = self.resolve_body(&input.body.value, &p).await;
        let presented_refresh = match &call.body {
            Body::Json(v) => v["refresh_token"].as_str().map(str::to_owned),
            _ => None,
        };

        let expected = pinned.unwrap_or_else(|| {
            expectation(
                &[
                    (input.token.label, &input.token.expect),
                    (input.id.label, &input.id.expect),
                    (input.if_match.label, &input.if_match.expect),
                    (input.query.label, &input.query.expect),
                    (input.body.label, &input.body.expect),
                ],
                spec_op.success(),
            )
        });
        let out = self.send_call(&call).await;
        let odd: Vec<&str> = [
            (input.token.label, &input.token.expect),
            (input.id.label, &input.id.expect),
            (input.if_match.label, &input.if_match.expect),
            (input.query.label, &input.query.expect),
            (input.body.label, &input.body.expect),
        ]
        .into_iter()
        .filter(|(_, e)| !matches!(e, Expect::Valid))
        .map(|(l, _)| l)
        .collect();
        if odd.len() <= 1 {
            let class = odd.first().copied().unwrap_or("all valid");
            let answer = format!("{} {}", out.status, out.code.as_deref().unwrap_or(""));
            self.answers
                .borrow_mut()
                .entry(format!("{}: {class}", def.op))
                .or_default()
                .insert(answer.trim_end().to_owned());
        }

        if let Some((status, code, field, why)) = expected {
            let ok = out.status == status
                && code_matches(code, out.code.as_deref())
                && field.is_none_or(|f| field_matches(f, out.field.as_deref()));
            if !ok {
                let want = match (code, field) {
                    (Some(c), Some(f)) => format!("{status} {c} (field {f})"),
                    (Some(c), None) => format!("{status} {c}"),
                    _ => format!("{status}"),
                };
                let got = format!(
                    "{} {} (field {})",
                    out.status,
                    out.code.as_deref().unwrap_or("-"),
                    out.field.as_deref().unwrap_or("-")
                );
                self.violation(
                    def.op,
                    format!("[{why}] expected {want}, got {got}"),
                    &call,
                    &out.body.to_string(),
                );
            }
        }

        // Keep the refresh chain alive: follow its rotation, re-login if it broke.
        if def.op == "refresh_token" && !self.limited {
            let chain_refresh = self.chain.borrow().refresh.clone();
            if presented_refresh.as_deref() == Some(chain_refresh.as_str()) {
                let next = if out.status == 200 {
                    let mut c = self.chain.borrow().clone();
                    c.access = out.body["access_token"].as_str().unwrap().to_owned();
                    c.refresh = out.body["refresh_token"].as_str().unwrap().to_owned();
                    c
                } else {
                    self.session(&self.a).await
                };
                *self.chain.borrow_mut() = next;
            }
        }
    }

    fn violation(&self, op: &str, what: String, call: &Call, answer: &str) {
        let mut v = self.violations.borrow_mut();
        if v.iter().any(|x| x.op == op && x.what == what) {
            return;
        }
        v.push(Violation {
            op: op.to_owned(),
            what,
            repro: call.repro(),
            answer: answer.chars().take(400).collect(),
        });
    }

    async fn send(&self, call: Call) -> Outcome {
        self.send_call(&call).await
    }

    /// Sends `call` and checks (a)–(d) and the header rules; records the ledger.
    async fn send_call(&self, call: &Call) -> Outcome {
        self.requests.set(self.requests.get() + 1);
        // An oversized body is answered before it is read and the connection is closed:
        // send it on a connection of its own so no later request reuses a dead one.
        let client = match call.body {
            Body::TooLarge(..) => &self.oneshot,
            _ => &self.app.client,
        };
        let mut req = client.request(call.method.clone(), self.app.url(&call.path));
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(a) = &call.authorization {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        if let Some(m) = &call.if_match {
            req = req.header("If-Match", m);
        }
        if let Some(r) = &call.request_id {
            req = req.header("X-Request-ID", r);
        }
        req = match &call.body {
            Body::None => req,
            Body::Json(v) => req
                .header(CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Body::Raw(ct, t) => req.header(CONTENT_TYPE, *ct).body(t.clone()),
            Body::Form(f) => req.form(f),
            Body::TooLarge(n, form) => {
                let (ct, head, tail) = if *form {
                    (
                        "application/x-www-form-urlencoded",
                        "grant_type=password&pad=",
                        "",
                    )
                } else {
                    ("application/json", "{\"pad\": \"", "\"}")
                };
                let body = format!("{head}{}{tail}", "x".repeat(n - head.len() - tail.len()));
                assert_eq!(body.len(), *n);
                req.header(CONTENT_TYPE, ct).body(body)
            }
        };
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer ({e:?}): {}", call.repro()));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut problems: Vec<String> = vec![];

        // (d) never a 5xx
        if status >= 500 {
            problems.push(format!("(d) server error {status}"));
        }
        // (a) a declared status; (b) the declared schema and required headers
        let op = self.spec.op(call.op);
        match op.responses.get(&status) {
            None => problems.push(format!(
                "(a) status {status} is not declared (declared: {:?})",
                op.responses.keys().collect::<Vec<_>>()
            )),
            Some(declared) => {
                match &declared.validator {
                    Some(v) => {
                        let ct = header(&headers, "content-type").unwrap_or_default();
                        if !ct.starts_with("application/json") {
                            problems.push(format!("(b) {status}: content type {ct:?}"));
                        }
                        match serde_json::from_slice::<Value>(&bytes) {
                            Err(e) => {
                                problems.push(format!("(b) {status}: body is not JSON ({e})"))
                            }
                            Ok(b) => {
                                let errors: Vec<String> = v
                                    .iter_errors(&b)
                                    .take(3)
                                    .map(|e| format!("{e} at {}", e.instance_path()))
                                    .collect();
                                if !errors.is_empty() {
                                    problems.push(format!(
                                        "(b) {status}: body does not match the schema: {}",
                                        errors.join("; ")
                                    ));
                                }
                            }
                        }
                    }
                    None if !bytes.is_empty() => {
                        problems.push(format!("(b) {status}: a body on a body-less response"))
                    }
                    None => {}
                }
                for h in &declared.required_headers {
                    if !headers.contains_key(h.as_str()) {
                        problems.push(format!("(b) {status}: required header {h} missing"));
                    }
                }
            }
        }
        // X-Request-ID: echoed when well formed, else a fresh UUID.
        let rid = header(&headers, "x-request-id");
        match (&rid, &call.request_id) {
            (None, _) => problems.push("no X-Request-ID header".into()),
            (Some(got), Some(sent)) if request_id_well_formed(sent) => {
                if got != sent {
                    problems.push("a well-formed X-Request-ID was not echoed".into());
                }
            }
            (Some(got), _) => {
                if Uuid::parse_str(got).is_err() {
                    problems.push(format!("X-Request-ID {got:?} is not a new UUID"));
                }
            }
        }
        // (c) a documented code with the catalog's status, and the error rules
        let mut code = None;
        let field = body["details"]["field"].as_str().map(str::to_owned);
        if status >= 400 {
            match body["error_code"].as_str() {
                None => problems.push(format!("(c) {status} without an error_code")),
                Some(c) => {
                    match CATALOG.iter().find(|(k, _)| *k == c) {
                        None => problems.push(format!("(c) undocumented error_code {c}")),
                        Some((_, s)) if *s != status => problems.push(format!(
                            "(c) {c} is {s} in the catalog, answered with {status}"
                        )),
                        Some(_) => {}
                    }
                    if c.starts_with("VALIDATION_") && field.as_deref().is_none_or(str::is_empty) {
                        problems.push(format!("(c) {c} without details.field"));
                    }
                    code = Some(c.to_owned());
                }
            }
            if rid.is_some() && body["request_id"].as_str() != rid.as_deref() {
                problems.push("(c) request_id differs from X-Request-ID".into());
            }
            let mut secrets: Vec<String> = vec![];
            if let Some(a) = &call.authorization {
                secrets.extend(a.split_whitespace().nth(1).map(str::to_owned));
            }
            if let Body::Json(Value::Object(m)) = &call.body {
                for k in [
                    "password",
                    "current_password",
                    "new_password",
                    "refresh_token",
                ] {
                    secrets.extend(m.get(k).and_then(Value::as_str).map(str::to_owned));
                }
            }
            if let Some(s) = secrets
                .iter()
                .find(|s| s.len() >= 8 && text.contains(s.as_str()))
            {
                let s: String = s.chars().take(12).collect();
                problems.push(format!("(c) the error echoes a secret ({s}…)"));
            }
        }
        if let (Some(etag), Some(version)) = (header(&headers, "etag"), body["version"].as_i64()) {
            if status < 300 && etag != format!("\"{version}\"") {
                problems.push(format!("ETag {etag} is not the version {version}"));
            }
        }
        if status == 405 && !headers.contains_key("allow") {
            problems.push("405 without an Allow header".into());
        }
        if status == 429 {
            let after = header(&headers, "retry-after").and_then(|v| v.parse::<u64>().ok());
            if !after.is_some_and(|s| (1..=60).contains(&s)) {
                problems.push(format!("429 with Retry-After {after:?} (want 1..=60)"));
            }
        }

        let phase = self.phase.get() as usize;
        self.ledger
            .borrow_mut()
            .seen
            .entry((call.op.to_owned(), status, code.clone().unwrap_or_default()))
            .or_default()[phase] += 1;
        for p in problems {
            self.violation(call.op, p, call, &text);
        }
        Outcome {
            status,
            code,
            field,
            body,
            headers,
        }
    }
}

/// A principal with well-formed tokens for a user that does not exist.
fn forged_principal() -> Principal {
    let id = Uuid::new_v4().to_string();
    let email = "nobody@example.com".to_owned();
    let sid = Uuid::new_v4().to_string();
    Principal {
        access: sign_valid(&make_claims(&id, &email, &sid, "access", 3600)),
        refresh: sign_valid(&make_claims(&id, &email, &sid, "refresh", 3600)),
        id,
        email,
        password: STRONG_PASSWORD.to_owned(),
    }
}

/// `VALIDATION_*` stands for any validation code (the contract pins the status only).
fn code_matches(want: Option<&str>, got: Option<&str>) -> bool {
    match (want, got) {
        (Some(w), Some(g)) => match w.strip_suffix('*') {
            Some(prefix) => g.starts_with(prefix),
            None => w == g,
        },
        (w, g) => w == g,
    }
}

/// `tags` is named by `tags` or by an element path such as `tags[0]`.
fn field_matches(want: &str, got: Option<&str>) -> bool {
    got.is_some_and(|g| {
        g == want
            || g.strip_prefix(want)
                .is_some_and(|rest| rest.starts_with(['[', '.']))
    })
}

type Expected = (u16, Option<&'static str>, Option<&'static str>, String);

/// The one outcome the contract pins for these dimensions: success when all are valid,
/// the error of the one invalid dimension, nothing when several are invalid or unknown.
fn expectation(dims: &[(&'static str, &Expect)], success: u16) -> Option<Expected> {
    let mut error = None;
    for (label, e) in dims {
        match e {
            Expect::Valid => {}
            Expect::Unknown => return None,
            Expect::Error(s, c, f) => {
                if error.is_some() {
                    return None;
                }
                error = Some((*s, Some(*c), *f, (*label).to_owned()));
            }
        }
    }
    Some(error.unwrap_or_else(|| (success, None, None, "all valid".to_owned())))
}

// ---------------------------------------------------------------------------------------
// Outside the spec's routes: unknown paths (404 RESOURCE_003), undeclared methods (405).

fn any_method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ])
}

fn unknown_route() -> impl Strategy<Value = (Method, String)> {
    let seg = || "zz-[a-z0-9_-]{0,12}";
    let paths = prop_oneof![
        seg().prop_map(|s| format!("/{s}")),
        seg().prop_map(|s| format!("/api/v1/{s}")),
        seg().prop_map(|s| format!("/api/v1/auth/{s}")),
        (any::<u128>(), seg())
            .prop_map(|(u, s)| format!("/api/v1/todos/{}/{s}", Uuid::from_u128(u))),
        (any::<u128>(), seg())
            .prop_map(|(u, s)| format!("/api/v1/tags/{}/{s}", Uuid::from_u128(u))),
        seg().prop_map(|s| format!("/api/v2/{s}")),
        Just("/api/v2/todos".to_owned()),
        Just("/api/v1/auth/me/extra".to_owned()),
        Just("/api/v1".to_owned()),
    ];
    (any_method(), paths)
}

/// Each spec path with its declared methods.
fn paths_and_methods(spec: &Spec) -> Vec<(String, Vec<Method>)> {
    let mut by_path: BTreeMap<String, Vec<Method>> = BTreeMap::new();
    for op in spec.ops.values().filter(|o| !o.path.is_empty()) {
        by_path
            .entry(op.path.clone())
            .or_default()
            .push(op.method.clone());
    }
    by_path.into_iter().collect()
}

fn wrong_method(spec: &Spec) -> impl Strategy<Value = (Method, String, Vec<Method>, bool)> {
    (
        prop::sample::select(paths_and_methods(spec)),
        any_method(),
        any::<u128>(),
        any::<bool>(),
    )
        .prop_filter("an undeclared method", |((_, declared), m, _, _)| {
            !declared.contains(m)
        })
        .prop_map(|((path, declared), m, id, with_token)| {
            let path = path.replace("{id}", &Uuid::from_u128(id).to_string());
            (m, path, declared, with_token)
        })
}

impl World<'_> {
    async fn unknown_route(&self, method: Method, path: String) {
        let call = Call::new(UNKNOWN_ROUTE, method, path).bearer(&self.a.access);
        let out = self.send_call(&call).await;
        if (out.status, out.code.as_deref()) != (404, Some("RESOURCE_003")) {
            let what = format!(
                "expected 404 RESOURCE_003, got {} {:?}",
                out.status, out.code
            );
            self.violation(UNKNOWN_ROUTE, what, &call, &out.body.to_string());
        }
    }

    async fn wrong_method(&self, method: Method, path: String, declared: &[Method], token: bool) {
        let mut call = Call::new(WRONG_METHOD, method.clone(), path.clone());
        if token {
            call = call.bearer(&self.a.access);
        }
        if method != Method::GET {
            call = call.json(json!({}));
        }
        let out = self.send_call(&call).await;
        let resp_allow = header(&out.headers, "allow").unwrap_or_default();
        if (out.status, out.code.as_deref()) != (405, Some("REQUEST_003")) {
            let what = format!(
                "expected 405 REQUEST_003, got {} {:?}",
                out.status, out.code
            );
            self.violation(WRONG_METHOD, what, &call, &out.body.to_string());
        }
        let allow: Vec<&str> = resp_allow.split(',').map(str::trim).collect();
        if !declared.iter().all(|m| allow.contains(&m.as_str())) || allow.contains(&method.as_str())
        {
            let what = format!("Allow {resp_allow:?} does not list exactly {declared:?}");
            self.violation(WRONG_METHOD, what, &call, "");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The run.

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

fn runner() -> TestRunner {
    runner_with(cases())
}

fn runner_with(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 0,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// The auth operations share one rate-limit bucket: on a server allowing 2 requests a
/// minute, every one of them answers 429 RATE_LIMIT_001 once the bucket is empty, while
/// other routes are not limited.
fn rate_limit_phase(
    rt: &tokio::runtime::Runtime,
    backend: Backend,
    spec: &Spec,
    ledger: &RefCell<Ledger>,
    violations: &RefCell<Vec<Violation>>,
) -> u64 {
    let app = rt.block_on(TestApp::spawn_with(
        backend,
        &[("AUTH_RATE_LIMIT_PER_MINUTE", "2")],
    ));
    let w = World::bare(&app, spec, ledger, violations, true);
    let limited: Vec<OpDef> = op_defs()
        .into_iter()
        .filter(|d| matches!(d.op, "register" | "login" | "issue_token" | "refresh_token"))
        .map(|mut d| {
            // A rotated refresh token needs unlimited logins to make.
            d.body.retain(|c| !c.label.contains("reused"));
            d
        })
        .collect();
    let limit = Some((429, Some("RATE_LIMIT_001"), None, "bucket empty".to_owned()));
    let mut sampler = runner();
    w.phase.set(Phase::Sweep);
    rt.block_on(async {
        // Empty the bucket: two requests pass (whatever they answer).
        for def in &limited[..2] {
            let input = def.sweep(&mut sampler).remove(0);
            w.execute(def, &input, Some(None)).await;
        }
        for def in &limited {
            let input = def.sweep(&mut sampler).remove(0);
            w.execute(def, &input, Some(limit.clone())).await;
        }
        // Not limited: the other auth routes and everything else.
        for (op, path) in [
            ("get_me", "/api/v1/auth/me"),
            ("logout", "/api/v1/auth/logout"),
        ] {
            let spec_op = spec.op(op);
            let call = Call::new(op, spec_op.method.clone(), path.to_owned());
            let out = w.send_call(&call).await;
            if (out.status, out.code.as_deref()) != (401, Some("AUTH_005")) {
                let what = format!(
                    "not rate limited: expected 401 AUTH_005, got {} {:?}",
                    out.status, out.code
                );
                w.violation(op, what, &call, &out.body.to_string());
            }
        }
    });
    w.phase.set(Phase::Fuzz);
    // The bucket refills one request every 30 s: stay well inside that.
    let mut fuzz = runner_with(cases().min(64));
    let strategy = (0..limited.len())
        .prop_flat_map(|i| limited[i].strategy().prop_map(move |input| (i, input)));
    fuzz.run(&strategy, |(i, input)| {
        let def = &limited[i];
        // Whether the body limit or content type is checked first is not pinned.
        let pinned = match input.body.label {
            "over 1 MiB" | "unsupported content type" | "JSON instead of a form" => None,
            _ => limit.clone(),
        };
        rt.block_on(w.execute(def, &input, Some(pinned)));
        Ok(())
    })
    .unwrap();
    w.requests.get()
}

fn run(backend: Backend) {
    let started = std::time::Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let spec = Spec::load();

    let catalog: BTreeSet<&str> = CATALOG.iter().map(|(c, _)| *c).collect();
    let declared: BTreeSet<&str> = spec.error_codes.iter().map(String::as_str).collect();
    assert_eq!(
        catalog, declared,
        "the spec's ErrorCode enum is API.md's catalog"
    );
    let defs = op_defs();
    let defined: BTreeSet<&str> = defs.iter().map(|d| d.op).collect();
    let operations: BTreeSet<&str> = spec.operation_ids().into_iter().collect();
    assert_eq!(
        defined, operations,
        "one definition per operation of openapi.yaml"
    );
    for d in &defs {
        let bearer = BEARER_OPS.contains(&d.op);
        assert_eq!(!d.tokens.is_empty(), bearer, "{}: tokens iff bearer", d.op);
    }

    let ledger = RefCell::new(Ledger::default());
    let violations = RefCell::new(Vec::new());
    let app = rt.block_on(TestApp::spawn(backend));
    let world = rt.block_on(World::setup(&app, &spec, &ledger, &violations));

    // Sweep: every class of every dimension once, the rest valid.
    world.phase.set(Phase::Sweep);
    let mut sampler = runner();
    for def in &defs {
        for input in def.sweep(&mut sampler) {
            rt.block_on(world.execute(def, &input, None));
        }
    }
    let pm = paths_and_methods(&spec);
    rt.block_on(async {
        for path in [
            "/zz-nope",
            "/api/v1/zz-nope",
            "/api/v1/auth/zz-nope",
            "/api/v2/todos",
        ] {
            world.unknown_route(Method::GET, path.to_owned()).await;
        }
        for (path, declared) in &pm {
            let path = path.replace("{id}", &world.a_todo);
            for m in [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ] {
                if !declared.contains(&m) {
                    world.wrong_method(m, path.clone(), declared, true).await;
                }
            }
        }
    });
    let sweep_requests = world.requests.get();

    // Fuzz: random combinations, `cases()` per operation.
    world.phase.set(Phase::Fuzz);
    for def in &defs {
        runner()
            .run(&def.strategy(), |input| {
                rt.block_on(world.execute(def, &input, None));
                Ok(())
            })
            .unwrap();
    }
    runner()
        .run(&unknown_route(), |(m, path)| {
            rt.block_on(world.unknown_route(m, path));
            Ok(())
        })
        .unwrap();
    runner()
        .run(&wrong_method(&spec), |(m, path, declared, token)| {
            rt.block_on(world.wrong_method(m, path, &declared, token));
            Ok(())
        })
        .unwrap();
    let fuzz_requests = world.requests.get() - sweep_requests;
    if std::env::var("CONTRACT_VERBOSE").is_ok_and(|v| v == "1") {
        for (class, answers) in world.answers.borrow().iter() {
            let answers: Vec<&str> = answers.iter().map(String::as_str).collect();
            eprintln!("  {class} -> {}", answers.join(", "));
        }
    }
    drop(world);
    drop(app);

    let limited_requests = rate_limit_phase(&rt, backend, &spec, &ledger, &violations);
    report(
        backend,
        &spec,
        &ledger.borrow(),
        &violations.borrow(),
        [sweep_requests, fuzz_requests, limited_requests],
        started.elapsed(),
    );
}

fn report(
    backend: Backend,
    spec: &Spec,
    ledger: &Ledger,
    violations: &[Violation],
    requests: [u64; 3],
    elapsed: std::time::Duration,
) {
    let name = format!("{backend:?}").to_lowercase();
    let documented = documented_pairs();
    let reached: BTreeSet<&(String, u16, String)> = ledger.seen.keys().collect();
    let missing: Vec<&(String, u16, String)> =
        documented.iter().filter(|p| !reached.contains(p)).collect();
    let by_fuzz = documented
        .iter()
        .filter(|p| {
            ledger
                .seen
                .get(*p)
                .is_some_and(|n| n[Phase::Fuzz as usize] > 0)
        })
        .count();
    let extra: Vec<String> = ledger
        .seen
        .keys()
        .filter(|p| !documented.contains(*p))
        .map(|(op, s, c)| format!("{op} {s} {c}"))
        .collect();
    let total: u32 = ledger.seen.values().map(|n| n.iter().sum::<u32>()).sum();

    eprintln!(
        "contract [{name}]: {} operations (+2 pseudo-operations), {} fuzz cases each; \
         {total} requests (sweep {}, fuzz {}, rate-limited server {}) in {:.1} s",
        spec.operation_ids().len(),
        cases(),
        requests[0],
        requests[1],
        requests[2],
        elapsed.as_secs_f64()
    );
    eprintln!(
        "contract [{name}]: ledger holds {} distinct (operationId, status, error_code) triples",
        ledger.seen.len()
    );
    eprintln!(
        "contract [{name}]: pair coverage {}/{} documented pairs reached ({} by fuzzing alone)",
        documented.len() - missing.len(),
        documented.len(),
        by_fuzz
    );
    eprintln!(
        "contract [{name}]: {} excluded here: covered by the fault-injection tests in \
         tests/api/operations*",
        EXCLUDED.join("/")
    );
    if !extra.is_empty() {
        eprintln!(
            "contract [{name}]: also reached (declared, outside the table): {}",
            extra.join(", ")
        );
    }
    let mut failure = String::new();
    for (op, s, c) in &missing {
        failure += &format!("\n  never reached: {op} {s} {c}");
    }
    for v in violations {
        failure += &format!(
            "\n  {}: {}\n      request: {}\n      answer:  {}",
            v.op, v.what, v.repro, v.answer
        );
    }
    assert!(
        missing.is_empty() && violations.is_empty(),
        "contract [{name}]: {} documented pairs never reached, {} violations:{failure}",
        missing.len(),
        violations.len()
    );
}

#[test]
fn contract_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn contract_postgres() {
    if skip_postgres() {
        eprintln!("SKIP_POSTGRES=1: skipping contract_postgres");
        return;
    }
    run(Backend::Postgres);
}

/// The OpenAPI 3.0 → JSON Schema conversion, and that the validators really check.
#[test]
fn contract_schema_conversion() {
    assert_eq!(
        to_json_schema(&json!({"type": "string", "nullable": true, "format": "date-time"})),
        json!({"type": ["string", "null"], "format": "date-time"})
    );
    assert_eq!(
        to_json_schema(&json!({"$ref": "#/components/schemas/Tag", "nullable": true})),
        json!({"anyOf": [{"$ref": "#/components/schemas/Tag"}, {"type": "null"}]})
    );
    assert_eq!(
        to_json_schema(&json!({"type": "string", "enum": ["a"], "nullable": true})),
        json!({"type": ["string", "null"], "enum": ["a", null]})
    );
    assert_eq!(
        to_json_schema(&json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true})),
        json!({"type": "integer", "exclusiveMinimum": 1})
    );
    assert_eq!(
        to_json_schema(
            &json!({"type": "array", "items": {"type": "object", "properties": {
            "a": {"type": "string", "nullable": true}}}})
        ),
        json!({"type": "array", "items": {"type": "object", "additionalProperties": false,
            "properties": {"a": {"type": ["string", "null"]}}}})
    );

    let spec = Spec::load();
    let validator = |op: &str, status: u16| {
        spec.op(op).responses[&status]
            .validator
            .clone()
            .expect("a body schema")
    };
    let user = validator("get_me", 200);
    let ok = json!({
        "id": "0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b", "email": "ada@example.com", "name": null,
        "created_at": "2026-01-12T20:30:00Z", "updated_at": "2026-01-12T20:30:00Z",
        "last_login_at": null
    });
    assert!(user.is_valid(&ok));
    assert!(!user.is_valid(&with(ok.clone(), "password_hash", json!("$argon2id$…"))));
    assert!(!user.is_valid(&with(ok.clone(), "id", json!("not-a-uuid"))));
    assert!(!user.is_valid(&with(ok.clone(), "created_at", json!("yesterday"))));
    assert!(!user.is_valid(&without(ok, "email")));

    let error = validator("get_todo", 404);
    let ok = json!({"error_code": "RESOURCE_001", "message": "Todo not found", "details": {},
        "timestamp": "2026-01-12T20:30:00Z", "request_id": "abc"});
    assert!(error.is_valid(&ok));
    assert!(error.is_valid(&with(ok.clone(), "details", json!({"field": "id"}))));
    assert!(!error.is_valid(&with(ok.clone(), "error_code", json!("NOPE_001"))));
    assert!(!error.is_valid(&with(ok.clone(), "details", json!({"sql": "SELECT"}))));
    assert!(!error.is_valid(&without(ok, "request_id")));

    let page = validator("list_todos", 200);
    let todo = json!({
        "id": "0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
        "user_id": "0196f3a0-1c2d-7e3f-8a4b-5c6d7e8f9a0c",
        "title": "t", "description": null, "is_completed": false, "priority": "medium",
        "due_date": null, "tags": [], "created_at": "2026-01-12T20:30:00Z",
        "updated_at": "2026-01-12T20:30:00Z", "completed_at": null, "version": 1
    });
    let ok = json!({"items": [todo], "total": 1, "skip": 0, "limit": 20, "has_more": false});
    assert!(page.is_valid(&ok));
    let bad = json!({"items": [with(todo, "priority", json!("urgent"))], "total": 1, "skip": 0,
        "limit": 20, "has_more": false});
    assert!(!page.is_valid(&bad));
}
