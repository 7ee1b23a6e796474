//! Strict inputs: a JSON body with a repeated key, at any depth, is VALIDATION_004
//! naming it (serde would let the last one win); invalid UTF-8 in a query value is
//! VALIDATION_009 naming the parameter (it would be decoded to U+FFFD and accepted).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::sdk_helpers::*;

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

async fn post_raw(
    app: &TestApp,
    path: &str,
    access: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = access {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request sent")
}

both_backends! {
    async fn repeated_json_keys_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let e = unique_email();
        let p = STRONG_PASSWORD;
        let cases = [
            (format!(r#"{{"email":"{e}","password":"{p}","password":"Other#Pass12"}}"#), "password"),
            (format!(r#"{{"email":"x{e}","email":"{e}","password":"{p}"}}"#), "email"),
            (format!(r#"{{"email":"{e}","password":"{p}","extra":{{"a":1,"a":2}}}}"#), "extra.a"),
            (format!(r#"{{"email":"{e}","password":"{p}","extra":[{{"a":1}},{{"b":[],"b":{{}}}}]}}"#), "extra[1].b"),
        ];
        for (body, field) in &cases {
            let resp = post_raw(&app, "/api/v1/auth/register", None, body.clone()).await;
            let err = assert_field_error(resp, UNPROCESSABLE, "VALIDATION_004", field).await;
            assert!(!err.to_string().contains(p), "{err}");
            let resp = post_raw(&app, "/api/v1/auth/login", None, body.clone()).await;
            assert_field_error(resp, UNPROCESSABLE, "VALIDATION_004", field).await;
        }
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);

        let (_, tokens) = sdk_user(&app).await;
        let access = Some(tokens.access_token.as_str());
        let body = r#"{"title":"first","title":"second"}"#.to_owned();
        let resp = post_raw(&app, "/api/v1/todos", access, body).await;
        assert_field_error(resp, UNPROCESSABLE, "VALIDATION_004", "title").await;
        let body = r##"{"name":"a","color":"#112233","color":"#445566"}"##.to_owned();
        let resp = post_raw(&app, "/api/v1/tags", access, body).await;
        assert_field_error(resp, UNPROCESSABLE, "VALIDATION_004", "color").await;
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) FROM tags").await, 0);

        // One key in different objects is no repetition.
        let body = json!({"title": "t", "extra": {"title": "u", "x": {"title": 1}}}).to_string();
        let resp = post_raw(&app, "/api/v1/todos", access, body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(app.count("SELECT COUNT(*) FROM todos").await, 1);
    }

    async fn invalid_utf8_in_a_query_value_is_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (_, tokens) = sdk_user(&app).await;
        let get = |path: String| app.client.get(app.url(&path)).bearer_auth(&tokens.access_token).send();
        let cases = [
            ("/api/v1/todos?q=%FF%FE", "q"),
            ("/api/v1/todos?limit=5&tag=caf%C3", "tag"),
            ("/api/v1/todos?q=ok&sort_by=%80", "sort_by"),
            ("/api/v1/todos?q=%E2%82%2B", "q"),
            ("/api/v1/tags?skip=0&unknown=%C0%AF", "unknown"),
        ];
        for (path, field) in cases {
            let resp = get(path.to_owned()).await.unwrap();
            assert_field_error(resp, UNPROCESSABLE, "VALIDATION_009", field).await;
        }
        // Percent-encoded UTF-8 is fine.
        for path in ["/api/v1/todos?q=caf%C3%A9", "/api/v1/todos?q=%E2%82%AC+x", "/api/v1/tags?x=%F0%9F%98%80"] {
            let resp = get(path.to_owned()).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
        }
    }
}
