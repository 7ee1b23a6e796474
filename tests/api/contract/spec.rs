//! The committed `openapi.yaml` as the run reads it: operations, declared statuses,
//! response schemas (as compiled JSON Schema validators) and required headers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::catalog::{UNKNOWN_ROUTE, WRONG_METHOD};
use super::schema::to_json_schema;

const SPEC_YAML: &str = include_str!("../../../openapi.yaml");

/// One declared response of an operation.
pub struct Declared {
    pub validator: Option<Arc<jsonschema::Validator>>,
    pub required_headers: Vec<String>,
}

pub struct Operation {
    pub method: Method,
    pub path: String,
    pub responses: BTreeMap<u16, Declared>,
}

impl Operation {
    pub fn success(&self) -> u16 {
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

pub struct Spec {
    pub ops: BTreeMap<String, Operation>,
    pub error_codes: Vec<String>,
}

/// Compiles response schemas against the spec's converted components, once per schema.
struct Compiler {
    components: Value,
    cache: HashMap<String, Arc<jsonschema::Validator>>,
}

impl Compiler {
    fn new(doc: &Value) -> Compiler {
        let schemas: Map<String, Value> = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas")
            .iter()
            .map(|(k, v)| (k.clone(), to_json_schema(v)))
            .collect();
        Compiler {
            components: json!({ "schemas": schemas }),
            cache: HashMap::new(),
        }
    }

    fn compile(&mut self, schema: &Value) -> Arc<jsonschema::Validator> {
        let key = schema.to_string();
        if let Some(v) = self.cache.get(&key) {
            return v.clone();
        }
        let Value::Object(mut root) = to_json_schema(schema) else {
            panic!("a response schema is an object: {schema}");
        };
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert("components".into(), self.components.clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"));
        let validator = Arc::new(validator);
        self.cache.insert(key, validator.clone());
        validator
    }

    /// An operation's `responses`: status → body validator and required headers.
    fn responses(&mut self, id: &str, op: &Value) -> BTreeMap<u16, Declared> {
        let mut responses = BTreeMap::new();
        for (status, r) in op["responses"].as_object().expect("responses") {
            let status: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{id}: status {status:?} is not a number"));
            let validator = r["content"].as_object().map(|content| {
                assert_eq!(content.len(), 1, "{id} {status}: one media type");
                let (media, m) = content.iter().next().unwrap();
                assert!(media.starts_with("application/json"), "{id} {status}");
                self.compile(&m["schema"])
            });
            let required_headers = r["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, h)| h["required"] == json!(true))
                .map(|(name, _)| name.to_ascii_lowercase())
                .collect();
            let declared = Declared {
                validator,
                required_headers,
            };
            responses.insert(status, declared);
        }
        responses
    }
}

impl Spec {
    pub fn load() -> Spec {
        let doc: Value = serde_yaml::from_str(SPEC_YAML).expect("openapi.yaml parses");
        let mut compiler = Compiler::new(&doc);
        let mut ops = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                let operation = Operation {
                    method,
                    path: path.clone(),
                    responses: compiler.responses(id, op),
                };
                let previous = ops.insert(id.to_owned(), operation);
                assert!(previous.is_none(), "operationId {id} is unique");
            }
        }
        add_pseudo_operations(&mut ops, &mut compiler);
        let error_codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("ErrorCode enum")
            .iter()
            .map(|c| c.as_str().expect("a code").to_owned())
            .collect();
        Spec { ops, error_codes }
    }

    pub fn op(&self, id: &str) -> &Operation {
        self.ops
            .get(id)
            .unwrap_or_else(|| panic!("operation {id} is not in openapi.yaml"))
    }

    /// The real operations (no pseudo-operations).
    pub fn operation_ids(&self) -> Vec<&str> {
        self.ops
            .keys()
            .map(String::as_str)
            .filter(|k| *k != UNKNOWN_ROUTE && *k != WRONG_METHOD)
            .collect()
    }

    /// Each spec path with its declared methods.
    pub fn paths_and_methods(&self) -> Vec<(String, Vec<Method>)> {
        let mut by_path: BTreeMap<String, Vec<Method>> = BTreeMap::new();
        for op in self.ops.values().filter(|o| !o.path.is_empty()) {
            by_path
                .entry(op.path.clone())
                .or_default()
                .push(op.method.clone());
        }
        by_path.into_iter().collect()
    }
}

/// Unknown routes answer 404 and undeclared methods 405, both with an `ErrorBody`.
fn add_pseudo_operations(ops: &mut BTreeMap<String, Operation>, compiler: &mut Compiler) {
    let error_body = compiler.compile(&json!({"$ref": "#/components/schemas/ErrorBody"}));
    for (pseudo, status) in [(UNKNOWN_ROUTE, 404), (WRONG_METHOD, 405)] {
        let declared = Declared {
            validator: Some(error_body.clone()),
            required_headers: vec![],
        };
        let operation = Operation {
            method: Method::GET,
            path: String::new(),
            responses: BTreeMap::from([(status, declared)]),
        };
        ops.insert(pseudo.to_owned(), operation);
    }
}

/// The validators compiled from the spec really check: closed objects, formats, enums,
/// required fields.
#[test]
fn contract_schema_validators() {
    use super::strategies::{with, without};

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
        "last_login_at": null, "email_verified": false
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
