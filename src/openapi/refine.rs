//! Passes over the emitted document for what poem-openapi cannot declare: each one
//! makes the spec say what the server already does, in the form third-party tools
//! (openapi-python-client, hey-api, orval, Redocly, Spectral) read best.

use serde_json::{json, Map, Value};

use crate::wire::strings;

/// Properties of response-only schemas that the server leaves out when empty
/// (`#[oai(skip_serializing_if_is_none)]`): everything else it always sends. Keep it in
/// step with those attributes (the contract tests check every answer against the spec).
const SOMETIMES_SENT: &[(&str, &str)] = &[
    ("ErrorDetails", "field"),
    // Only with an external issuer (`EXTERNAL_ISSUER`).
    ("HealthChecks", "identity_provider"),
    ("Health", "identity_provider_keys"),
    ("IdentityProviderKeys", "age_seconds"),
];

/// Response header names as clients spell them (poem-openapi upper-cases them).
const HEADER_NAMES: &[&str] = &["Location", "ETag", "Retry-After"];

/// Every operation of the document, with its path and method.
pub fn operations_mut(doc: &mut Value) -> impl Iterator<Item = (&String, &mut Value)> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .flat_map(|(path, item)| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
                .map(move |op| (path, op))
        })
}

/// `allOf: [{$ref}, {description}]` (poem-openapi's way of documenting a field whose
/// type is a named schema) becomes the plain `$ref`: code generators such as
/// openapi-python-client refuse `allOf` over a non-object schema.
pub fn plain_refs(v: &mut Value) {
    each_object(v, &mut |map| match ref_with_description(map) {
        Some(r) => {
            *map = Map::from_iter([("$ref".to_owned(), Value::String(r))]);
            false
        }
        None => true,
    });
}

/// Calls `visit` on every object in `v`, outermost first; `visit` returning false
/// leaves that object's insides unvisited.
fn each_object(v: &mut Value, visit: &mut impl FnMut(&mut Map<String, Value>) -> bool) {
    match v {
        Value::Object(map) => {
            let descend = visit(map);
            if descend {
                map.values_mut().for_each(|v| each_object(v, visit));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| each_object(v, visit)),
        _ => {}
    }
}

/// The `$ref` of `{allOf: [{$ref}, {description}], description?}`, if `map` is that.
fn ref_with_description(map: &Map<String, Value>) -> Option<String> {
    let all = map.get("allOf")?.as_array()?;
    let [first, rest @ ..] = all.as_slice() else {
        return None;
    };
    let only_docs = |m: &Map<String, Value>| m.keys().all(|k| k == "description");
    let doc_only = rest.iter().all(|s| s.as_object().is_some_and(only_docs));
    let others = map.keys().all(|k| k == "allOf" || k == "description");
    let r = first.as_object().filter(|f| f.len() == 1)?.get("$ref")?;
    (doc_only && others).then(|| r.as_str().map(str::to_owned))?
}

/// Schema names that `v` references, directly.
fn refs_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| refs_in(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

/// The schemas reachable from `roots`, following `$ref`s through the components.
fn reachable(doc: &Value, roots: Vec<String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut todo = roots;
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        refs_in(&doc["components"]["schemas"][&name], &mut todo);
        seen.push(name);
    }
    seen
}

/// Every property of a schema used only in responses is `required`: the server always
/// sends it (`null` where the schema says `nullable`), so generators must not type it
/// as optional. Schemas also used in requests keep their optional fields.
pub fn required_outputs(doc: &mut Value) {
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for (_, op) in operations_mut(doc) {
        refs_in(&op["requestBody"], &mut inputs);
        refs_in(&op["parameters"], &mut inputs);
        refs_in(&op["responses"], &mut outputs);
    }
    let inputs = reachable(doc, inputs);
    let outputs = reachable(doc, outputs);
    let schemas = &mut doc["components"]["schemas"];
    for name in outputs.iter().filter(|n| !inputs.contains(n)) {
        let schema = &mut schemas[name];
        let Some(props) = schema["properties"].as_object() else {
            continue;
        };
        let required: Vec<Value> = props
            .keys()
            .filter(|p| !SOMETIMES_SENT.contains(&(name.as_str(), p.as_str())))
            .map(|p| Value::String(p.clone()))
            .collect();
        if let Some(obj) = schema.as_object_mut() {
            obj.remove("required");
            if !required.is_empty() {
                obj.insert("required".to_owned(), Value::Array(required));
            }
        }
    }
}

/// Operations without a security requirement are public: say so with `security: []`
/// (an absent one would mean "whatever the document's default is").
pub fn public_security(doc: &mut Value) {
    for (_, op) in operations_mut(doc) {
        if op.get("security").is_none() {
            op["security"] = json!([]);
        }
    }
}

/// The media type of every JSON body without the `charset` parameter (JSON is UTF-8 by
/// definition, RFC 8259; Swagger UI shows the parameter as a choice on every body).
pub fn plain_json(doc: &mut Value) {
    for (_, op) in operations_mut(doc) {
        let responses = op["responses"]
            .as_object_mut()
            .into_iter()
            .flat_map(|r| r.values_mut());
        for response in responses.filter_map(Value::as_object_mut) {
            let Some(media) = response.get_mut("content").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(v) = media.remove("application/json; charset=utf-8") {
                media.insert("application/json".to_owned(), v);
            }
            // A variant without a payload (304) gets a `null` media type: none.
            media.retain(|_, v| !v.is_null());
            if media.is_empty() {
                response.remove("content");
            }
        }
    }
}

/// Response headers: their usual spelling, and `X-Request-ID` on every response.
pub fn response_headers(doc: &mut Value) {
    for (_, op) in operations_mut(doc) {
        let responses = op["responses"]
            .as_object_mut()
            .into_iter()
            .flat_map(|r| r.values_mut());
        for response in responses {
            let headers = response["headers"].as_object().cloned().unwrap_or_default();
            let mut spelled: Map<String, Value> = headers
                .into_iter()
                .map(|(name, h)| (canonical_header(&name), h))
                .collect();
            spelled.insert(
                "X-Request-ID".to_owned(),
                json!({"$ref": "#/components/headers/X-Request-ID"}),
            );
            response["headers"] = Value::Object(spelled);
        }
    }
    doc["components"]["headers"] = json!({
        "X-Request-ID": {
            "description": "The request's id: the `X-Request-ID` sent when well formed \
                (1 to 128 of `A-Z a-z 0-9 . _ -`), else a new UUID. Error bodies repeat it \
                as `request_id`.",
            "required": true,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._-]+$"},
            "example": "4f1c2a9e-0b7d-4c1e-9d0a-5b6c7d8e9f00",
        }
    });
}

fn canonical_header(name: &str) -> String {
    HEADER_NAMES
        .iter()
        .find(|h| h.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |h| (*h).to_owned())
}

/// Drops the `deprecated: false` and `explode: true` that poem-openapi writes on every
/// parameter and header: they are the defaults and only lengthen the document.
pub fn drop_defaults(v: &mut Value) {
    each_object(v, &mut |map| {
        if map.contains_key("in") || map.contains_key("schema") {
            if map.get("deprecated") == Some(&Value::Bool(false)) {
                map.remove("deprecated");
            }
            if map.get("in") == Some(&json!("query")) && map.get("explode") == Some(&json!(true)) {
                map.remove("explode");
            }
        }
        true
    });
}

/// The string patterns every generator copies but few readers decode, in words.
const PATTERN_WORDS: &[(&str, &str)] = &[
    (strings::NO_NUL, "No NUL (U+0000) characters."),
    (
        strings::NOT_BLANK,
        "Not blank (some non-whitespace character); no NUL (U+0000) characters.",
    ),
];

/// Says the rule of a [`PATTERN_WORDS`] pattern in words, after the description that
/// docs UIs show beside the raw pattern: the parameter's, else the schema's own.
pub fn pattern_words(v: &mut Value) {
    each_object(v, &mut |map| {
        let parameter = map.contains_key("in");
        let pattern = match parameter {
            true => map.get("schema").and_then(|s| s.get("pattern")),
            false => map.get("pattern"),
        };
        let words = pattern.and_then(|p| {
            PATTERN_WORDS
                .iter()
                .find(|(pattern, _)| p == pattern)
                .map(|(_, words)| *words)
        });
        if let Some(words) = words {
            let description = match map.get("description").and_then(Value::as_str) {
                Some(d) => format!("{} {words}", d.trim_end()),
                None => words.to_owned(),
            };
            map.insert("description".into(), description.into());
        }
        // A parameter's schema is said in the parameter's description, not again.
        !parameter
    });
}
