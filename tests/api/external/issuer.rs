//! A test issuer: signing keys the test generates (Ed25519, P-256, RSA), tokens signed
//! with them, and a real HTTP JWKS endpoint (a small poem server on a loopback port)
//! whose key set the test can change, take down, and count fetches of.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The `iss` of the test issuer's tokens.
pub const ISSUER: &str = "https://auth.test.example";

/// A signing key of the test issuer with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    /// A fresh key for `alg` (EdDSA, ES256, RS256 or PS256), with a random `kid`.
    pub fn generate(alg: Algorithm) -> TestKey {
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&ed25519_pkcs8(rand::random())),
            Algorithm::ES256 => {
                use p256::pkcs8::EncodePrivateKey;
                let key = p256::SecretKey::random(&mut rand08::rngs::OsRng);
                EncodingKey::from_ec_der(key.to_pkcs8_der().unwrap().as_bytes())
            }
            Algorithm::RS256 | Algorithm::PS256 => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                let key = rsa::RsaPrivateKey::new(&mut rand08::rngs::OsRng, 2048).unwrap();
                EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes())
            }
            other => panic!("no test key for {other:?}"),
        };
        let kid = format!("kid-{}", uuid::Uuid::new_v4().simple());
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&encoding, alg).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        TestKey {
            kid,
            alg,
            encoding,
            jwk,
        }
    }

    /// `claims` signed with this key, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(claims, &self.kid)
    }

    /// `claims` signed with this key but naming `kid`.
    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// The public key's `x` (OKP/EC) or `n` (RSA) bytes, as a key-confusion attacker
    /// would use them as an HMAC secret.
    pub fn public_bytes(&self) -> Vec<u8> {
        let field = self.jwk.get("x").or(self.jwk.get("n")).unwrap();
        field.as_str().unwrap().as_bytes().to_vec()
    }
}

/// PKCS#8 DER of the Ed25519 private key `seed` (RFC 8410: a fixed 16-byte prefix).
fn ed25519_pkcs8(seed: [u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    der
}

/// Claims as an OIDC provider or Better Auth sends them, `exp` `exp_in` seconds away.
pub fn claims(sub: &str, exp_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER,
        "sub": sub,
        "iat": now - 5,
        "exp": now + exp_in,
        "email": format!("{sub}@people.example"),
        "name": format!("Person {sub}"),
        "email_verified": true,
    })
}

/// A real HTTP JWKS endpoint on a loopback port.
pub struct JwksServer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    up: Arc<AtomicBool>,
    _stop: oneshot::Sender<()>,
}

impl JwksServer {
    /// Serves `keys` at `http://127.0.0.1:<port>/jwks`.
    pub async fn start(keys: &[&TestKey]) -> JwksServer {
        use poem::listener::{Acceptor, Listener};
        let state = (
            Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect())),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(true)),
        );
        let (k, f, u) = (state.0.clone(), state.1.clone(), state.2.clone());
        let endpoint = poem::endpoint::make_sync(move |_req| {
            f.fetch_add(1, Ordering::SeqCst);
            if !u.load(Ordering::SeqCst) {
                return poem::Response::builder()
                    .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
                    .body("down");
            }
            let body = json!({ "keys": *k.lock().unwrap() }).to_string();
            poem::Response::builder()
                .content_type("application/json")
                .body(body)
        });
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let (tx, rx) = oneshot::channel::<()>();
        let app = poem::Route::new().at("/jwks", endpoint);
        tokio::spawn(
            poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async {
                    let _ = rx.await;
                },
                None,
            ),
        );
        JwksServer {
            url: format!("http://127.0.0.1:{port}/jwks"),
            keys: state.0,
            fetches: state.1,
            up: state.2,
            _stop: tx,
        }
    }

    /// Replaces the published keys.
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    /// `false`: every fetch gets 503 (the issuer is down).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Fetches served so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The settings of a server trusting the test issuer at `jwks`.
pub fn jwks_vars(jwks: &JwksServer) -> Vec<(&'static str, String)> {
    vec![
        ("EXTERNAL_ISSUER", ISSUER.to_owned()),
        ("EXTERNAL_JWKS_URL", jwks.url.clone()),
    ]
}
