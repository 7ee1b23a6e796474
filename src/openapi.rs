//! The OpenAPI service: every operation of the API, and the emitted spec.

use poem_openapi::{OpenApiService, Tags};

use crate::app::AppState;
use crate::auth::api::AuthApi;
use crate::ops::api::OpsApi;
use crate::tags::api::TagApi;
use crate::todos::api::TodoApi;

/// Operation groups in the spec.
#[derive(Tags)]
pub enum ApiTags {
    /// Registration, login and tokens
    #[oai(rename = "auth")]
    Auth,
    /// Todos of the authenticated user
    #[oai(rename = "todos")]
    Todos,
    /// Tags of the authenticated user
    #[oai(rename = "tags")]
    Tags,
    /// Health checks
    #[oai(rename = "operations")]
    Operations,
}

/// All operations of the service.
pub type Api = (AuthApi, TodoApi, TagApi, OpsApi);

/// The OpenAPI service over `state`.
pub fn api_service(state: &AppState) -> OpenApiService<Api, ()> {
    let api = (
        AuthApi {
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
        .license(poem_openapi::LicenseObject::new("MIT"))
}

/// The spec as YAML, exactly as committed in `openapi.yaml`.
pub fn spec_yaml() -> String {
    api_service(&AppState::spec_only()).spec_yaml()
}
