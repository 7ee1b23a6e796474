//! Response compression: brotli or gzip (poem's encoders) when the client accepts one
//! and the body is large enough to pay for it, i.e. the docs pages, the spec and long
//! pages of todos. Small JSON answers go out as they are: compressing a few hundred
//! bytes costs more time than it saves. Request bodies are never decompressed.

use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::web::{Compress, CompressionAlgo, CompressionLevel};
use poem::{IntoResponse, Request, Response};

/// Smallest body compressed, in bytes (below about one TCP segment it does not pay).
pub const MIN_COMPRESSED_BYTES: usize = 1400;

/// The encoding to answer with for an `Accept-Encoding` value: brotli, else gzip (the
/// highest `q` wins, brotli on a tie); `None` for identity.
pub fn negotiate(accept_encoding: &str) -> Option<CompressionAlgo> {
    let mut best: Option<(CompressionAlgo, f32)> = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let algo = match name.as_str() {
            "br" => CompressionAlgo::BR,
            "gzip" | "x-gzip" => CompressionAlgo::GZIP,
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((b, bq)) => q > bq || (q == bq && algo == CompressionAlgo::BR && b != algo),
        };
        if q > 0.0 && better {
            best = Some((algo, q));
        }
    }
    best.map(|(algo, _)| algo)
}

/// Whether a body of this `Content-Type` is text that compresses well.
fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/")
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/x-yaml"
        || essence == "application/javascript"
        || essence == "image/svg+xml"
}

/// What [`compress`] needs of the request, taken before the request is consumed.
pub struct Wanted(Option<CompressionAlgo>);

impl Wanted {
    /// The encoding `req` accepts (none for `HEAD`: no body to compress).
    pub fn of(req: &Request) -> Self {
        let accept = req.headers().get(header::ACCEPT_ENCODING);
        let algo = accept
            .and_then(|v| v.to_str().ok())
            .filter(|_| req.method() != Method::HEAD)
            .and_then(negotiate);
        Wanted(algo)
    }
}

/// `resp`, compressed as `wanted` when its body is compressible text of at least
/// [`MIN_COMPRESSED_BYTES`]; every compressible response says `Vary: Accept-Encoding`.
pub async fn compress(wanted: Wanted, mut resp: Response) -> Response {
    let content_type = resp.content_type().unwrap_or_default().to_owned();
    if !compressible(&content_type) || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let no_body = matches!(
        resp.status(),
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    );
    let Some(algo) = wanted.0.filter(|_| !no_body) else {
        return resp;
    };
    let body = match resp.take_body().into_bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "reading a response body to compress failed");
            return resp;
        }
    };
    let large = body.len() >= MIN_COMPRESSED_BYTES;
    resp.set_body(body);
    if large {
        // Brotli's fastest setting compresses worse than gzip's default; quality 4 beats
        // it at about the same speed.
        let level = match algo {
            CompressionAlgo::BR => CompressionLevel::Precise(4),
            _ => CompressionLevel::Default,
        };
        Compress::new(resp, algo)
            .with_quality(level)
            .into_response()
    } else {
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_q_values() {
        use CompressionAlgo::{BR, GZIP};
        assert_eq!(negotiate("gzip, deflate, br"), Some(BR));
        assert_eq!(negotiate("gzip"), Some(GZIP));
        assert_eq!(negotiate("br;q=0.5, gzip;q=0.8"), Some(GZIP));
        assert_eq!(negotiate("br;q=0, gzip;q=0"), None);
        assert_eq!(negotiate("identity, deflate"), None);
        assert_eq!(negotiate("GZIP;Q=0.3, *;q=0.1"), Some(GZIP));
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn only_text_is_compressible() {
        assert!(compressible("application/json; charset=utf-8"));
        assert!(compressible("text/html; charset=utf-8"));
        assert!(compressible("application/x-yaml"));
        assert!(!compressible("image/png"));
        assert!(!compressible(""));
    }
}
