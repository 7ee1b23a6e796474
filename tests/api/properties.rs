//! Property-based tests: valid todo bodies round-trip unchanged; arbitrary bodies
//! never produce a 5xx. Deterministic seed; `PROPTEST_CASES` sets the case count. The
//! value strategies are the contract tests' (`contract::strategies`).

use client_sdk::types;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::contract::strategies::{any_json, cases, runner, todo_input};
use crate::helpers::*;
use crate::sdk_helpers::*;

/// What the service should store for a valid body (`id`, `user_id` and `version` in
/// the body are never taken).
fn expected(body: &Value) -> Value {
    let mut tags: Vec<String> = vec![];
    for t in body["tags"].as_array().into_iter().flatten() {
        let name = t.as_str().unwrap().trim().to_owned();
        if !tags.iter().any(|x| x.to_lowercase() == name.to_lowercase()) {
            tags.push(name);
        }
    }
    tags.sort_by_key(|t| t.to_lowercase());
    let due = body["due_date"].as_str().map(|d| {
        let t = chrono::DateTime::parse_from_rfc3339(d)
            .unwrap()
            .with_timezone(&chrono::Utc);
        t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    });
    json!({
        "title": body["title"].as_str().unwrap().trim(),
        "description": body.get("description").cloned().unwrap_or(Value::Null),
        "priority": body.get("priority").cloned().unwrap_or(json!("medium")),
        "due_date": due,
        "is_completed": body.get("is_completed").cloned().unwrap_or(json!(false)),
        "tags": tags,
        "version": 1,
    })
}

fn observed(todo: &Value) -> Value {
    let mut tags: Vec<&str> = todo["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // The service sorts by lower-cased name; compare the same way.
    tags.sort_by_key(|t| t.to_lowercase());
    json!({
        "title": todo["title"], "description": todo["description"], "priority": todo["priority"],
        "due_date": todo["due_date"], "is_completed": todo["is_completed"], "tags": tags,
        "version": todo["version"],
    })
}

/// Raw: the generated bodies are sent as drawn (explicit nulls, UTC offsets, fields
/// `TodoInput` does not have), and the created todo is compared on the wire.
fn run_roundtrip(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn(backend));
    let (c, raw) = rt.block_on(user(&app));
    runner(cases(40), true)
        .run(&todo_input(false), |body| {
            rt.block_on(async {
                let created = raw.create(body.clone()).await;
                assert_eq!(observed(&created), expected(&body), "body {body}");
                let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
                let got = expect_todo(c.get_todo().id(id).send().await, StatusCode::OK);
                let created: types::Todo = serde_json::from_value(created).unwrap();
                assert_eq!(
                    as_json(&got),
                    as_json(&created),
                    "GET returns what POST returned"
                );
            });
            Ok(())
        })
        .unwrap();
}

/// Raw: arbitrary JSON bodies, which no SDK type holds.
fn run_no_5xx(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn(backend));
    let (c, raw) = rt.block_on(user(&app));
    let todo = rt.block_on(create_todo(&c, types::TodoInput::builder().title("target")));
    let tag = types::NewTag::builder().name("target");
    let tag = rt.block_on(c.create_tag().body(tag).send());
    let tag = expect_ok(tag, StatusCode::CREATED).into_inner();
    let todo_path = format!("/api/v1/todos/{}", todo.id);
    let tag_path = format!("/api/v1/tags/{}", tag.id);
    let targets = [
        (Method::POST, "/api/v1/todos", StatusCode::CREATED),
        (Method::PUT, todo_path.as_str(), StatusCode::OK),
        (Method::PATCH, todo_path.as_str(), StatusCode::OK),
        (Method::POST, "/api/v1/tags", StatusCode::CREATED),
        (Method::PATCH, tag_path.as_str(), StatusCode::OK),
    ];
    runner(cases(40), true)
        .run(&any_json(), |body| {
            rt.block_on(async {
                for (method, path, ok) in &targets {
                    let resp = raw
                        .send(method.clone(), path, Some(body.clone()), None)
                        .await;
                    let status = resp.status();
                    if status == *ok || status == StatusCode::CONFLICT {
                        continue;
                    }
                    assert_eq!(
                        status,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "{method} {path} {body}"
                    );
                    let err = assert_error_shape(resp, status).await;
                    let code = err["error_code"].as_str().unwrap_or_default().to_owned();
                    assert!(code.starts_with("VALIDATION_"), "{code}");
                    assert!(err["details"]["field"].is_string(), "field named: {err}");
                }
            });
            Ok(())
        })
        .unwrap();
}

#[test]
fn valid_todo_bodies_round_trip_sqlite() {
    run_roundtrip(Backend::Sqlite);
}

#[test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
fn valid_todo_bodies_round_trip_postgres() {
    if !skip_postgres() {
        run_roundtrip(Backend::Postgres);
    }
}

#[test]
fn arbitrary_bodies_never_fail_the_server_sqlite() {
    run_no_5xx(Backend::Sqlite);
}

#[test]
#[cfg_attr(skip_postgres, ignore = "SKIP_POSTGRES=1")]
fn arbitrary_bodies_never_fail_the_server_postgres() {
    if !skip_postgres() {
        run_no_5xx(Backend::Postgres);
    }
}
