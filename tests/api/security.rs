//! The contract's security rules (`Security rules (v3)`): what every response carries,
//! TLS and plain HTTP behind a proxy, keep-alive after early answers, required token
//! claims, canonical emails, strict bodies and queries, and the malformed requests the
//! HTTP parser answers below the service.

mod bodies;
mod emails;
mod framing;
mod headers;
mod keepalive;
mod raw;
mod tls;
mod tokens;
