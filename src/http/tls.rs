//! TLS served directly (`TLS_CERT_FILE` + `TLS_KEY_FILE`, PEM), with rustls through
//! poem's `rustls` listener.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use poem::listener::{Acceptor, RustlsCertificate, RustlsConfig};

/// The PEM files of the certificate chain (leaf first) and of its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both `TLS_CERT_FILE` and `TLS_KEY_FILE` (TLS), or neither (plain HTTP).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        match (var("TLS_CERT_FILE"), var("TLS_KEY_FILE")) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            })),
            (Some(_), None) => {
                bail!("TLS_CERT_FILE is set but TLS_KEY_FILE is not: set both, or neither")
            }
            (None, Some(_)) => {
                bail!("TLS_KEY_FILE is set but TLS_CERT_FILE is not: set both, or neither")
            }
        }
    }

    /// Reads both files into poem's rustls configuration (checked when it is bound).
    pub fn rustls_config(&self) -> anyhow::Result<RustlsConfig> {
        let read = |path: &PathBuf, var: &str| {
            std::fs::read(path).with_context(|| format!("{var}: cannot read {}", path.display()))
        };
        let cert = read(&self.cert, "TLS_CERT_FILE")?;
        let key = read(&self.key, "TLS_KEY_FILE")?;
        if !String::from_utf8_lossy(&cert).contains("-----BEGIN CERTIFICATE-----") {
            bail!(
                "TLS_CERT_FILE: {} holds no PEM certificate",
                self.cert.display()
            );
        }
        let certificate = RustlsCertificate::new().cert(cert).key(key);
        Ok(RustlsConfig::new().fallback(certificate))
    }
}

/// Makes poem's rustls acceptor load its configuration before the first client.
///
/// It loads it inside `accept`, racing the listening socket (`select!`), and drops a
/// connection that wins that race ("no valid tls config"). Polling `accept` once,
/// right after binding, loads it while no client knows the port yet (tests bind port
/// 0); a client that does connect in that instant is dropped, as it would have been.
pub async fn load_config_now(acceptor: &mut impl Acceptor) {
    for _ in 0..4 {
        if tokio::time::timeout(Duration::ZERO, acceptor.accept())
            .await
            .is_err()
        {
            return; // Nothing was pending: the configuration is loaded.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> anyhow::Result<Option<TlsFiles>> {
        TlsFiles::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn both_files_or_neither() {
        assert_eq!(lookup(&[]).unwrap(), None);
        let both = lookup(&[("TLS_CERT_FILE", "c.pem"), ("TLS_KEY_FILE", "k.pem")]).unwrap();
        assert_eq!(both.map(|f| f.cert), Some(PathBuf::from("c.pem")));
        let err = lookup(&[("TLS_CERT_FILE", "c.pem")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS_KEY_FILE"), "{err}");
        let err = lookup(&[("TLS_KEY_FILE", "k.pem")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS_CERT_FILE"), "{err}");
    }
}
