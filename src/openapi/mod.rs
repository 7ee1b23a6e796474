//! The OpenAPI service: every operation of the API, and the emitted spec.

mod examples;
mod refine;

use poem_openapi::{OpenApiService, ServerObject};

use crate::auth::account_api::AccountApi;
use crate::auth::api::AuthApi;
use crate::ops::api::OpsApi;
use crate::state::AppState;
use crate::tags::api::TagApi;
use crate::todos::api::TodoApi;

/// All operations of the service.
pub type Api = (AuthApi, AccountApi, TodoApi, TagApi, OpsApi);

/// The OpenAPI service over `state`.
pub fn api_service(state: &AppState) -> OpenApiService<Api, ()> {
    let api = (
        AuthApi {
            state: state.clone(),
        },
        AccountApi {
            state: state.clone(),
        },
        TodoApi {
            state: state.clone(),
        },
        TagApi {
            state: state.clone(),
        },
        OpsApi {
            state: state.clone(),
        },
    );
    OpenApiService::new(api, "Todo API", env!("CARGO_PKG_VERSION"))
        .description(
            "Per-user todos with tags, behind Argon2id passwords and HS256 JWTs. \
             Every error has the `ErrorBody` shape with a stable `error_code`.",
        )
        .license(poem_openapi::LicenseObject::new("MIT OR Apache-2.0"))
        .contact(poem_openapi::ContactObject::new().name("todo-api maintainers"))
        .server(ServerObject::new("/").description("The server that serves this document"))
}

/// OpenAPI links from a created resource to the operations on it, so that stateful
/// clients and fuzzers can follow them (poem-openapi has no attribute for links).
const LINKS: &[(&str, &str, &[&str])] = &[
    (
        "create_todo",
        "201",
        &[
            "get_todo",
            "replace_todo",
            "update_todo",
            "toggle_todo",
            "delete_todo",
        ],
    ),
    (
        "create_tag",
        "201",
        &["get_tag", "update_tag", "delete_tag"],
    ),
];

/// The spec of `svc` as a JSON document, refined for third-party tools (see
/// [`refine`]), with examples and the [`LINKS`] added.
pub fn spec_document(svc: &OpenApiService<Api, ()>) -> serde_json::Value {
    let mut doc: serde_json::Value =
        serde_json::from_str(&svc.spec()).expect("poem-openapi emits valid JSON");
    refine::plain_refs(&mut doc);
    refine::drop_defaults(&mut doc);
    refine::plain_json(&mut doc);
    refine::required_outputs(&mut doc);
    refine::public_security(&mut doc);
    refine::response_headers(&mut doc);
    refine::pattern_words(&mut doc);
    examples::schema_examples(&mut doc);
    examples::error_examples(&mut doc);
    examples::parameter_examples(&mut doc);
    add_links(&mut doc);
    doc
}

/// Adds the [`LINKS`]: the created resource's `id` (and, to todos, its `ETag` as
/// `If-Match`, so that a stateful client's follow-up writes meet their precondition).
fn add_links(doc: &mut serde_json::Value) {
    for (_, op) in refine::operations_mut(doc) {
        for (from, status, targets) in LINKS {
            if op["operationId"] != *from {
                continue;
            }
            let links: serde_json::Map<String, serde_json::Value> = targets
                .iter()
                .map(|to| {
                    let mut parameters = serde_json::json!({"path.id": "$response.body#/id"});
                    if IF_MATCH_TARGETS.contains(to) {
                        parameters["header.If-Match"] = "$response.header.ETag".into();
                    }
                    let link = serde_json::json!({"operationId": to, "parameters": parameters});
                    (to.to_string(), link)
                })
                .collect();
            op["responses"][*status]["links"] = links.into();
        }
    }
}

/// The operations of [`LINKS`] that honour `If-Match`.
const IF_MATCH_TARGETS: &[&str] = &["replace_todo", "update_todo", "toggle_todo", "delete_todo"];

/// The spec as YAML, exactly as committed in `openapi.yaml` and served at `/openapi.yaml`.
pub fn spec_yaml() -> String {
    let doc = spec_document(&api_service(&AppState::spec_only()));
    serde_yaml::to_string(&doc).expect("a JSON document is valid YAML")
}
