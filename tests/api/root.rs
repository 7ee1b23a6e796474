//! `/` leads a newcomer to the docs.
//!
//! Raw: `/` is not an operation of the spec, so the SDK has no call for it.

use reqwest::StatusCode;

use crate::helpers::*;

both_backends! {
    async fn root_redirects_to_the_docs(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let resp = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/docs");
        assert!(resp.headers().contains_key("x-request-id"));
        let docs = app.client.get(app.url("/docs")).send().await.unwrap();
        assert_eq!(docs.status(), StatusCode::OK);
        // Only GET/HEAD: anything else on `/` is 405 in the error format.
        let post = app.client.post(app.url("/")).send().await.unwrap();
        assert_error(post, StatusCode::METHOD_NOT_ALLOWED, "REQUEST_003").await;
    }
}
