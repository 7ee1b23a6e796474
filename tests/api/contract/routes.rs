//! Outside the spec's routes: unknown paths (404 RESOURCE_003) and undeclared methods
//! (405 REQUEST_003 with an `Allow` header that lists exactly the declared ones).

use proptest::prelude::*;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::call::Call;
use super::catalog::{UNKNOWN_ROUTE, WRONG_METHOD};
use super::checks::header;
use super::spec::Spec;
use super::world::World;

fn any_method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ])
}

pub fn unknown_route() -> impl Strategy<Value = (Method, String)> {
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

pub fn wrong_method(spec: &Spec) -> impl Strategy<Value = (Method, String, Vec<Method>, bool)> {
    (
        prop::sample::select(spec.paths_and_methods()),
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
    pub async fn unknown_route(&self, method: Method, path: String) {
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

    pub async fn wrong_method(
        &self,
        method: Method,
        path: String,
        declared: &[Method],
        token: bool,
    ) {
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
