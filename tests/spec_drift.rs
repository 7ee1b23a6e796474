//! The committed `openapi.yaml` must be exactly what the code emits.
//! Regenerate it with `cargo run -- openapi > openapi.yaml` (or `just spec`).

// A runtime is needed only because the spec-only state holds a lazy SQLite pool.
#[tokio::test]
async fn committed_spec_matches_the_code() {
    let emitted = todo_api::openapi::spec_yaml();
    let committed = include_str!("../openapi.yaml");
    if emitted != committed {
        let first = emitted
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(emitted.lines().count().min(committed.lines().count()));
        panic!(
            "openapi.yaml is stale (first difference at line {}); run `cargo run -- openapi > openapi.yaml`",
            first + 1
        );
    }
}

#[tokio::test]
async fn every_operation_has_an_id_and_a_tag() {
    let spec: serde_json::Value = serde_yaml::from_str(&todo_api::openapi::spec_yaml()).unwrap();
    let mut count = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            count += 1;
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{id} is not snake_case"
            );
            assert_eq!(
                op["tags"].as_array().map(Vec::len),
                Some(1),
                "{method} {path} needs one tag"
            );
        }
    }
    assert_eq!(
        count, 28,
        "operation count changed: update this test and the SDK"
    );
}
