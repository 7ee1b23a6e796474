//! Response compression: brotli or gzip (poem's encoders) when the client accepts one
//! and the body is large enough to pay for it, i.e. the docs pages, the spec and long
//! pages of todos. Small JSON answers go out as they are: compressing a few hundred
//! bytes costs more time than it saves. Request bodies are never decompressed.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::web::{Compress, CompressionAlgo, CompressionLevel};
use poem::{Endpoint, IntoResponse, Request, Response};
use tokio::sync::OnceCell;

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
    // A body that says it is small (every JSON answer does) goes out without being read.
    let body: BoxBody<Bytes, std::io::Error> = resp.take_body().into();
    let small = http_body::Body::size_hint(&body)
        .upper()
        .is_some_and(|n| n < MIN_COMPRESSED_BYTES as u64);
    let body = poem::Body::from(body);
    if small {
        resp.set_body(body);
        return resp;
    }
    let body = match body.into_bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "reading a response body to compress failed");
            return resp;
        }
    };
    let large = body.len() >= MIN_COMPRESSED_BYTES;
    resp.set_body(body);
    if large {
        Compress::new(resp, algo)
            .with_quality(level(algo))
            .into_response()
    } else {
        resp
    }
}

/// The level of `algo` for answers compressed per request: brotli's fastest setting
/// compresses worse than gzip's default; quality 4 beats it at about the same speed.
fn level(algo: CompressionAlgo) -> CompressionLevel {
    match algo {
        CompressionAlgo::BR => CompressionLevel::Precise(4),
        _ => CompressionLevel::Default,
    }
}

/// A fixed body (the docs pages and assets, the spec, the favicon), compressed once
/// per encoding when first asked for, not on every request: Swagger UI's bundle alone
/// is 1.7 MB. [`compress`] passes its encoded answers through untouched.
pub struct StaticBody {
    content_type: &'static str,
    cache_control: Option<&'static str>,
    body: Bytes,
    br: OnceCell<Bytes>,
    gzip: OnceCell<Bytes>,
}

impl StaticBody {
    pub fn new(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        StaticBody {
            content_type,
            cache_control: None,
            body: body.into(),
            br: OnceCell::new(),
            gzip: OnceCell::new(),
        }
    }

    /// Cacheable for good (the page asks for it under a versioned URL).
    pub fn immutable(self) -> Self {
        StaticBody {
            cache_control: Some("public, max-age=31536000, immutable"),
            ..self
        }
    }

    /// The body encoded as `algo`, at the per-request levels: the best ones take
    /// seconds for Swagger UI's bundle (tens of seconds in a debug build), and the
    /// first request waits for it.
    async fn encoded(&self, algo: CompressionAlgo) -> poem::Result<Bytes> {
        let cell = match algo {
            CompressionAlgo::BR => &self.br,
            _ => &self.gzip,
        };
        let encode = || async {
            let resp = Compress::new(self.body.clone(), algo)
                .with_quality(level(algo))
                .into_response();
            resp.into_body().into_bytes().await
        };
        cell.get_or_try_init(encode)
            .await
            .cloned()
            .map_err(Into::into)
    }
}

impl Endpoint for StaticBody {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut resp = Response::builder().content_type(self.content_type);
        if let Some(value) = self.cache_control {
            resp = resp.header(header::CACHE_CONTROL, value);
        }
        let algo = Wanted::of(&req)
            .0
            .filter(|_| self.body.len() >= MIN_COMPRESSED_BYTES);
        Ok(match algo {
            Some(algo) => resp
                .header(header::CONTENT_ENCODING, algo.to_string())
                .header(header::VARY, "accept-encoding")
                .body(self.encoded(algo).await?),
            None => resp.body(self.body.clone()),
        })
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

    /// `encoded` as `algo`, decoded by poem's request decompression (no Accept-Encoding, so
    /// the answer goes out as it is).
    async fn decoded(algo: &str, encoded: Bytes) -> Bytes {
        let echo = poem::endpoint::make(|req: Request| async move {
            req.into_body().into_bytes().await.unwrap()
        });
        let req = Request::builder()
            .header(header::CONTENT_ENCODING, algo)
            .body(encoded);
        let resp = poem::EndpointExt::with(echo, poem::middleware::Compression::new())
            .call(req)
            .await
            .unwrap()
            .into_response();
        resp.into_body().into_bytes().await.unwrap()
    }

    #[tokio::test]
    async fn static_bodies_are_encoded_once_per_encoding() {
        let text = Bytes::from("a todo title, ".repeat(500));
        let ep = StaticBody::new("text/plain", text.clone()).immutable();
        for (accept, algo) in [("gzip, br", "br"), ("gzip", "gzip")] {
            let mut first = None;
            for _ in 0..2 {
                let req = Request::builder()
                    .header(header::ACCEPT_ENCODING, accept)
                    .finish();
                let resp = ep.call(req).await.unwrap();
                assert_eq!(resp.headers()[header::CONTENT_ENCODING], algo);
                assert_eq!(resp.headers()[header::VARY], "accept-encoding");
                let body = resp.into_body().into_bytes().await.unwrap();
                assert!(body.len() * 10 < text.len(), "{algo}: {} bytes", body.len());
                assert_eq!(decoded(algo, body.clone()).await, text, "{algo}");
                // The second answer shares the first one's buffer: encoded once.
                let at = *first.get_or_insert(body.as_ptr());
                assert_eq!(at, body.as_ptr(), "{algo} encoded again");
            }
        }
        let resp = ep.call(Request::builder().finish()).await.unwrap();
        assert!(!resp.headers().contains_key(header::CONTENT_ENCODING));
        assert_eq!(resp.into_body().into_bytes().await.unwrap(), text);
        let small = StaticBody::new("text/plain", "tiny");
        let req = Request::builder()
            .header(header::ACCEPT_ENCODING, "br")
            .finish();
        let resp = small.call(req).await.unwrap();
        assert!(!resp.headers().contains_key(header::CONTENT_ENCODING));
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
