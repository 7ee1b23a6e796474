//! The route templates of the spec (plus the plain routes outside it) and their
//! methods: `Allow` headers, route labels and the names of path parameters.

/// One route: its template's segments, the template, and its `Allow` value.
type Route = (Vec<String>, String, String);

/// The route templates of the spec and their methods, for `Allow` and route labels.
pub struct RouteTable {
    routes: Vec<Route>,
}

/// Plain routes outside the spec, so their metrics get a route label too.
const PLAIN_ROUTES: &[&str] = &[
    "/",
    "/metrics",
    "/docs",
    "/docs/{asset}",
    "/redoc",
    "/openapi.json",
    "/openapi.yaml",
    "/favicon.ico",
];

impl RouteTable {
    /// Builds the table from the emitted OpenAPI document.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let mut routes = Vec::new();
        if let Some(paths) = spec["paths"].as_object() {
            for (template, ops) in paths {
                let mut methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                let segments = template.split('/').map(str::to_owned).collect();
                routes.push((segments, template.clone(), methods.join(", ")));
            }
        }
        for path in PLAIN_ROUTES {
            let segments = path.split('/').map(str::to_owned).collect();
            routes.push((segments, (*path).to_owned(), "GET, HEAD".to_owned()));
        }
        RouteTable { routes }
    }

    fn find(&self, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = path.split('/').collect();
        self.routes.iter().find(|(segs, _, _)| {
            segs.len() == parts.len()
                && segs
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| s == p || (s.starts_with('{') && !p.is_empty()))
        })
    }

    /// The methods allowed on `path`, as an `Allow` header value.
    pub fn allow(&self, path: &str) -> Option<&str> {
        self.find(path).map(|(_, _, allow)| allow.as_str())
    }

    /// The spec name of the internal path parameter `param<N>` of `path`.
    pub fn path_param(&self, path: &str, internal: &str) -> Option<String> {
        let index: usize = internal.strip_prefix("param")?.parse().ok()?;
        self.params(path)
            .into_iter()
            .nth(index)
            .map(|(name, _)| name.to_owned())
    }

    /// The path parameters of `path` by spec name, with their raw (encoded) values.
    pub fn params<'a>(&'a self, path: &'a str) -> Vec<(&'a str, &'a str)> {
        let Some((segments, _, _)) = self.find(path) else {
            return Vec::new();
        };
        segments
            .iter()
            .zip(path.split('/'))
            .filter_map(|(s, value)| Some((s.strip_prefix('{')?.strip_suffix('}')?, value)))
            .collect()
    }

    /// The route template matching `path` (e.g. `/api/v1/todos/{id}`).
    pub fn template(&self, path: &str) -> Option<&str> {
        self.find(path).map(|(_, t, _)| t.as_str())
    }
}

/// `/` leads a newcomer to the docs: GET and HEAD get a 303 to `/docs`, any other method
/// a 405 naming them. `None` for every other path.
pub fn root_answer(req: &poem::Request) -> Option<Result<poem::Response, crate::error::ApiError>> {
    if req.uri().path() != "/" {
        return None;
    }
    let method = req.method();
    if method == poem::http::Method::GET || method == poem::http::Method::HEAD {
        return Some(Ok(poem::Response::builder()
            .status(poem::http::StatusCode::SEE_OTHER)
            .header(poem::http::header::LOCATION, "/docs")
            .finish()));
    }
    Some(Err(crate::error::ApiError::MethodNotAllowed {
        allow: "GET, HEAD".to_owned(),
    }))
}
