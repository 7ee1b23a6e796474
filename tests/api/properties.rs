//! Property-based tests: valid todo bodies round-trip unchanged; arbitrary bodies
//! never produce a 5xx. Deterministic seed; `PROPTEST_CASES` sets the case count.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::helpers::*;
use crate::todos::Client;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

fn runner() -> TestRunner {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Text with no NUL, mixing ASCII, accents, Cyrillic, CJK, emoji, `%` and `_`.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::char::range('A', 'Z'),
            1 => Just(' '),
            1 => prop::sample::select(vec!['%', '_', '\\', '\'', '"', 'é', 'É', 'ж', 'Ж', '中', '😀', '\n']),
        ],
        0..=max,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn non_blank(max: usize) -> impl Strategy<Value = String> {
    (proptest::char::range('a', 'z'), text(max - 1)).prop_map(|(c, rest)| format!("{c}{rest}"))
}

prop_compose! {
    fn valid_todo()(
        title in non_blank(255),
        description in proptest::option::of(text(300)),
        priority in proptest::option::of(prop::sample::select(vec!["low", "medium", "high"])),
        due in proptest::option::of((0i64..253_402_300_799, 0u32..1_000_000)),
        done in proptest::option::of(any::<bool>()),
        tags in proptest::option::of(proptest::collection::vec(non_blank(50), 0..5)),
    ) -> Value {
        let mut body = Map::new();
        body.insert("title".into(), json!(title));
        if let Some(d) = description { body.insert("description".into(), json!(d)); }
        if let Some(p) = priority { body.insert("priority".into(), json!(p)); }
        if let Some((secs, micros)) = due {
            let t = chrono::DateTime::from_timestamp(secs, micros * 1000).unwrap();
            body.insert("due_date".into(), json!(t.to_rfc3339()));
        }
        if let Some(d) = done { body.insert("is_completed".into(), json!(d)); }
        if let Some(t) = tags { body.insert("tags".into(), json!(t)); }
        Value::Object(body)
    }
}

/// What the service should store for a valid body.
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

/// Arbitrary JSON, biased towards objects with the API's field names.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,300}".prop_map(Value::from),
        text(20).prop_map(Value::from),
        Just(json!("2030-01-01T00:00:00Z")),
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
        "user_id",
        "id",
        "version",
        "extra",
    ]);
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn run_roundtrip(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn(backend));
    let c = rt.block_on(Client::new(&app));
    runner()
        .run(&valid_todo(), |body| {
            rt.block_on(async {
                let created = c.create(body.clone()).await;
                let path = format!("/api/v1/todos/{}", created["id"].as_str().unwrap());
                let got = c.ok(Method::GET, &path, None, None).await;
                assert_eq!(got, created, "GET returns what POST returned");
                assert_eq!(observed(&got), expected(&body), "body {body}");
            });
            Ok(())
        })
        .unwrap();
}

fn run_no_5xx(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn(backend));
    let c = rt.block_on(Client::new(&app));
    let todo = rt.block_on(c.create(json!({"title": "target"})));
    let tag: Value = rt.block_on(async {
        let r = c
            .send(
                Method::POST,
                "/api/v1/tags",
                Some(json!({"name": "target"})),
                None,
            )
            .await;
        r.json().await.unwrap()
    });
    let todo_path = format!("/api/v1/todos/{}", todo["id"].as_str().unwrap());
    let tag_path = format!("/api/v1/tags/{}", tag["id"].as_str().unwrap());
    runner()
        .run(&any_json(), |body| {
            rt.block_on(async {
                for (method, path, ok) in [
                    (Method::POST, "/api/v1/todos", StatusCode::CREATED),
                    (Method::PUT, todo_path.as_str(), StatusCode::OK),
                    (Method::PATCH, todo_path.as_str(), StatusCode::OK),
                    (Method::POST, "/api/v1/tags", StatusCode::CREATED),
                    (Method::PATCH, tag_path.as_str(), StatusCode::OK),
                ] {
                    let resp = c.send(method.clone(), path, Some(body.clone()), None).await;
                    let status = resp.status();
                    if status != ok && status != StatusCode::CONFLICT {
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
fn arbitrary_bodies_never_fail_the_server_postgres() {
    if !skip_postgres() {
        run_no_5xx(Backend::Postgres);
    }
}
