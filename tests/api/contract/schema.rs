//! OpenAPI 3.0 schema → JSON Schema (2020-12), for validating response bodies.

use serde_json::{json, Map, Value};

/// OpenAPI 3.0 schema → JSON Schema (2020-12): `nullable: true` admits null (`type`
/// gains `"null"`, an `enum` gains `null`, anything else is wrapped in `anyOf`), boolean
/// `exclusiveMinimum`/`exclusiveMaximum` become numeric, OpenAPI-only keywords go, and
/// objects with `properties` are closed (`additionalProperties: false`) so that an
/// undocumented field in a response (a leaked hash, say) fails the check.
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(m) = schema else {
        return schema.clone();
    };
    let mut out = convert_keywords(m);
    exclusive_bounds(m, &mut out);
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if m.get("nullable") == Some(&Value::Bool(true)) {
        admit_null(out)
    } else {
        Value::Object(out)
    }
}

/// Every keyword of `m`, sub-schemas converted, OpenAPI-only keywords dropped.
fn convert_keywords(m: &Map<String, Value>) -> Map<String, Value> {
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
    out
}

/// OpenAPI 3.0's boolean `exclusiveMinimum: true` (with `minimum`) becomes JSON Schema's
/// numeric `exclusiveMinimum`; numeric ones are kept.
fn exclusive_bounds(m: &Map<String, Value>, out: &mut Map<String, Value>) {
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
}

/// `nullable: true`: the converted schema `out` also admits null.
fn admit_null(mut out: Map<String, Value>) -> Value {
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

/// The conversion itself, on hand-written schemas.
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
}
