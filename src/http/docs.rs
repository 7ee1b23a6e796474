//! The documentation pages, `/docs` (Swagger UI) and `/redoc`, showing the same refined
//! document that `/openapi.json` serves (poem-openapi's pages embed its raw one), and
//! the service's favicon.

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

/// Swagger UI options beyond poem-openapi's: request durations shown, and the
/// authorization kept across reloads.
pub fn swagger_options(page: String) -> String {
    page.replacen(
        "deepLinking: true,",
        "deepLinking: true,\n        displayRequestDuration: true,\n        \
         persistAuthorization: true,",
        1,
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
}
