//! The documentation pages, `/docs` (Swagger UI) and `/redoc`, showing the same refined
//! document that `/openapi.json` serves, and the service's favicon.
//!
//! Swagger UI is our own page over the vendored release in `assets/swagger-ui/`:
//! poem-openapi's bundles 5.17.14, whose Schemas panel shows object examples as
//! `OrderedMap {…}` dumps. ReDoc is poem-openapi's page with the refined document in it.

use serde_json::Value;

/// A small SVG icon (a check mark), served at `/favicon.ico`.
pub const FAVICON_SVG: &str = concat!(
    r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">"##,
    r##"<rect width="32" height="32" rx="6" fill="#2d6a4f"/>"##,
    r##"<path d="M8 17l5 5 11-12" fill="none" stroke="#fff" stroke-width="4" "##,
    r##"stroke-linecap="round" stroke-linejoin="round"/></svg>"##
);

/// The `<head>` additions of both pages: a title and the favicon.
const HEAD: &str =
    r#"<title>Todo API</title><link rel="icon" type="image/svg+xml" href="/favicon.ico">"#;

/// `page` (a poem-openapi UI page embedding the document `raw`) with `refined` embedded
/// instead, titled "Todo API" with the favicon. `None` when `raw` is not in the page.
pub fn with_document(
    page: &str,
    raw: &str,
    refined: &serde_json::Value,
    title: &str,
) -> Option<String> {
    let at = page.find(raw)?;
    let mut out = String::with_capacity(page.len() + raw.len() / 2);
    out.push_str(&page[..at]);
    out.push_str(&refined.to_string());
    out.push_str(&page[at + raw.len()..]);
    let old_title = format!("<title>{title}</title>");
    Some(out.replacen(&old_title, HEAD, 1))
}

/// The vendored Swagger UI release (npm `swagger-ui-dist`), also the assets' cache key.
pub const SWAGGER_UI_VERSION: &str = "5.35.0";

/// The Swagger UI files served under `/docs/`: name, content type, content.
pub const SWAGGER_UI_ASSETS: &[(&str, &str, &str)] = &[
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/swagger-ui/swagger-ui.css"),
    ),
    (
        "oauth2-redirect.html",
        "text/html; charset=utf-8",
        include_str!("../../assets/swagger-ui/oauth2-redirect.html"),
    ),
    (
        "oauth2-redirect.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/swagger-ui/oauth2-redirect.js"),
    ),
];

/// The `/docs` page: Swagger UI showing `spec`, with request durations shown and the
/// authorization kept across reloads. Its assets are asked for with the version as
/// query, so they can be cached for good.
pub fn swagger_page(spec: &Value) -> String {
    // `</` would end the script element early; `<\/` is the same JSON string.
    let spec = spec.to_string().replace("</", "<\\/");
    let v = SWAGGER_UI_VERSION;
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{HEAD}
<link rel="stylesheet" href="/docs/swagger-ui.css?v={v}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js?v={v}"></script>
<script>
window.ui = SwaggerUIBundle({{
  dom_id: "#swagger-ui",
  spec: {spec},
  deepLinking: true,
  displayRequestDuration: true,
  persistAuthorization: true,
  oauth2RedirectUrl: new URL("/docs/oauth2-redirect.html", window.location.href).href,
}});
</script>
</body>
</html>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refined_document_replaces_the_raw_one() {
        let page = "<html><title>Swagger UI</title><script>let spec = {\"a\":1};</script></html>";
        let refined = serde_json::json!({"b": 2});
        let out = with_document(page, "{\"a\":1}", &refined, "Swagger UI").unwrap();
        assert!(out.contains("let spec = {\"b\":2};"), "{out}");
        assert!(out.contains(HEAD) && !out.contains("Swagger UI"), "{out}");
        assert_eq!(
            with_document(page, "{\"c\":3}", &refined, "Swagger UI"),
            None
        );
    }

    #[test]
    fn the_swagger_page_embeds_the_document_without_ending_its_script() {
        let spec = serde_json::json!({"info": {"description": "a </script> tag"}});
        let page = swagger_page(&spec);
        assert!(
            page.contains(r#"spec: {"info":{"description":"a <\/script> tag"}},"#),
            "{page}"
        );
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(
            page.contains(HEAD)
                && page.contains(&format!("swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}"))
        );
    }
}
