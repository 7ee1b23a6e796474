//! Percent-decoded URIs must be UTF-8: poem would decode invalid sequences to U+FFFD
//! (queries) or refuse them without naming anything (paths). VALIDATION_009 names the
//! query parameter or path parameter instead.

use percent_encoding::percent_decode_str;

use super::routes::RouteTable;
use crate::error::{ApiError, ErrorCode};

fn is_utf8(encoded: &str) -> bool {
    percent_decode_str(encoded).decode_utf8().is_ok()
}

fn invalid(name: String) -> ApiError {
    let message = format!("`{name}` is not valid UTF-8 once percent-decoded");
    ApiError::invalid(ErrorCode::VALIDATION_009, name, message)
}

/// The first query parameter whose name or value is not UTF-8, as VALIDATION_009.
pub fn check_query(query: &str) -> Result<(), ApiError> {
    match query.split('&').find(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        !is_utf8(name) || !is_utf8(value)
    }) {
        None => Ok(()),
        Some(pair) => {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            Err(invalid(
                percent_decode_str(name).decode_utf8_lossy().into_owned(),
            ))
        }
    }
}

/// The first path parameter of `path`'s route whose value is not UTF-8, as
/// VALIDATION_009 naming it. No literal segment of a route matches such a value, so
/// any other path that is not UTF-8 is an unknown route (RESOURCE_003).
pub fn check_path(path: &str, routes: &RouteTable) -> Result<(), ApiError> {
    if routes.template(path).is_none() {
        return if is_utf8(path) {
            Ok(())
        } else {
            Err(ApiError::RouteNotFound)
        };
    }
    match routes
        .params(path)
        .into_iter()
        .find(|(_, value)| !is_utf8(value))
    {
        None => Ok(()),
        Some((name, _)) => Err(invalid(name.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<(), ApiError>) -> Option<String> {
        match r {
            Ok(()) => None,
            Err(ApiError::Validation { code, field, .. }) => {
                assert_eq!(code, ErrorCode::VALIDATION_009);
                Some(field)
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn queries() {
        for ok in [
            "",
            "q=caf%C3%A9",
            "a=1&b",
            "q=%E2%82%AC+x&&",
            "q=100%",
            "q=%zz",
        ] {
            assert_eq!(field(check_query(ok)), None, "{ok}");
        }
        assert_eq!(field(check_query("q=%FF%FE")).as_deref(), Some("q"));
        assert_eq!(field(check_query("a=1&tag=caf%C3")).as_deref(), Some("tag"));
        assert_eq!(field(check_query("x%FF=1")).as_deref(), Some("x\u{FFFD}"));
    }

    #[test]
    fn paths() {
        let spec = serde_json::json!({"paths": {"/api/v1/todos/{id}": {"get": {}}}});
        let routes = RouteTable::from_spec(&spec);
        assert_eq!(field(check_path("/api/v1/todos/%C3%A9", &routes)), None);
        assert_eq!(
            field(check_path("/api/v1/todos/%FF", &routes)).as_deref(),
            Some("id")
        );
        assert!(matches!(
            check_path("/api/v1/%FF/x", &routes),
            Err(ApiError::RouteNotFound)
        ));
        assert_eq!(field(check_path("/api/v1/caf%C3%A9", &routes)), None);
    }
}
