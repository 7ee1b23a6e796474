//! The OpenAPI service: every operation of the API, and the emitted spec.

use poem_openapi::OpenApiService;

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

/// The spec of `svc` as a JSON document, with the [`LINKS`] added.
pub fn spec_document(svc: &OpenApiService<Api, ()>) -> serde_json::Value {
    let mut doc: serde_json::Value =
        serde_json::from_str(&svc.spec()).expect("poem-openapi emits valid JSON");
    let Some(paths) = doc["paths"].as_object_mut() else {
        return doc;
    };
    for op in paths
        .values_mut()
        .filter_map(|p| p.as_object_mut())
        .flat_map(|p| p.values_mut())
    {
        for (from, status, targets) in LINKS {
            if op["operationId"] != *from {
                continue;
            }
            let links: serde_json::Map<String, serde_json::Value> = targets
                .iter()
                .map(|to| {
                    let link = serde_json::json!({
                        "operationId": to,
                        "parameters": {"id": "$response.body#/id"},
                    });
                    (to.to_string(), link)
                })
                .collect();
            op["responses"][*status]["links"] = links.into();
        }
    }
    doc
}

/// The spec as YAML, exactly as committed in `openapi.yaml` and served at `/openapi.yaml`.
pub fn spec_yaml() -> String {
    let doc = spec_document(&api_service(&AppState::spec_only()));
    serde_yaml::to_string(&doc).expect("a JSON document is valid YAML")
}
