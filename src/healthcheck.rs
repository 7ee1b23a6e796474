//! `todo-api healthcheck`: `GET /health/live` on the local server within 2 s, for
//! container HEALTHCHECKs. Reads only `HOST`, `PORT` and `TLS_CERT_FILE`: with TLS on,
//! the probe speaks TLS and trusts exactly the server's own certificate (it connects to
//! a loopback address, which the certificate does not name).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Probes the server; `Ok(url)` when it answered 200, else a one-line reason.
pub async fn run() -> Result<String, String> {
    let addr = target()?;
    let cert = std::env::var("TLS_CERT_FILE")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let scheme = if cert.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}/health/live");
    let probe = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        match cert {
            None => exchange(tcp, addr, &url).await,
            Some(file) => exchange(tls(tcp, &file).await?, addr, &url).await,
        }
    };
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(())) => Ok(url),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("{url}: no answer within 2 s")),
    }
}

/// `HOST` (resolved like `serve` does; an unspecified address means loopback) and
/// `PORT` (default 8000).
fn target() -> Result<SocketAddr, String> {
    let var = |name: &str| std::env::var(name).ok();
    let env = crate::config::Lookup::new(&var, crate::config::SETTINGS);
    let port: u16 = env.parse("PORT").map_err(|e| e.to_string())?;
    let host = crate::config::resolve_host(&env.text("HOST")).map_err(|e| e.to_string())?;
    let host = match host {
        IpAddr::V4(ip) if ip.is_unspecified() => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(ip) if ip.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    Ok(SocketAddr::new(host, port))
}

/// Sends the request and reads the status line (until its CRLF, 4 KiB, or EOF).
async fn exchange(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    addr: SocketAddr,
    url: &str,
) -> Result<(), String> {
    let request = format!(
        "GET /health/live HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: todo-api-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("cannot read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or("").trim();
    match status_line.split_whitespace().nth(1) {
        Some("200") if status_line.starts_with("HTTP/1.") => Ok(()),
        _ if status_line.is_empty() => Err(format!("{url}: empty response")),
        _ => Err(format!("{url} answered {status_line:?}")),
    }
}

/// The TLS handshake, accepting only the first certificate of `cert_file`.
async fn tls(
    tcp: tokio::net::TcpStream,
    cert_file: &str,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let pinned = CertificateDer::from_pem_file(cert_file)
        .map_err(|e| format!("TLS_CERT_FILE {cert_file}: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(Pinned {
        cert: pinned,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::IpAddress(tcp.peer_addr().map_err(|e| e.to_string())?.ip().into());
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))
}

/// Trusts one certificate, whatever name it carries; signatures are still checked.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the certificate of TLS_CERT_FILE".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
