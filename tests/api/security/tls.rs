//! TLS served directly: `TLS_CERT_FILE` + `TLS_KEY_FILE` (PEM).
//!
//! `tests/fixtures/tls/` holds a test CA (`ca.pem`) and a server certificate for
//! `localhost` and `127.0.0.1` signed by it (`cert.pem`, key `key.pem`, P-256, valid
//! until 2126), made once with:
//!
//! ```sh
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
//!   -out ca.pem -days 36500 -subj "/CN=todo-api test CA" \
//!   -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
//! openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem \
//!   -out server.csr -subj "/CN=localhost"
//! printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
//! extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" > ext.cnf
//! openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem \
//!   -days 36500 -extfile ext.cnf
//! ```

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::sdk_helpers::*;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A client that trusts only the test CA.
fn https_client() -> reqwest::Client {
    let ca = std::fs::read(fixture("ca.pem")).expect("read the test CA");
    let ca = reqwest::Certificate::from_pem(&ca).expect("a PEM certificate");
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .build()
        .expect("build the HTTPS client")
}

both_backends! {
    async fn tls_is_served_with_the_configured_certificate(backend: Backend) {
        let (cert, key) = (fixture("cert.pem"), fixture("key.pem"));
        let vars = [
            ("TLS_CERT_FILE", cert.as_str()),
            ("TLS_KEY_FILE", key.as_str()),
            ("APP_ENV", "production"),
            ("MAIL_ENABLED", "false"),
        ];
        let app = TestApp::spawn_with(backend, &vars).await;
        let client = https_client();
        let base = format!("https://127.0.0.1:{}", app.port);

        let live = client.get(format!("{base}/health/live")).send().await.expect("an HTTPS answer");
        assert_eq!(live.status(), StatusCode::OK);
        let hsts = live.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(hsts.as_deref(), Some("max-age=31536000"));

        let email = unique_email();
        let body = json!({"email": email, "password": STRONG_PASSWORD});
        let resp = client.post(format!("{base}/api/v1/auth/register")).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let resp = client.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.unwrap();
        raw_tokens(resp).await;
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);

        // Plain HTTP on the TLS port gets no HTTP answer.
        let plain = app.client.get(app.url("/health/live")).send().await;
        assert!(plain.is_err(), "plain HTTP answered on the TLS port: {plain:?}");
    }

    /// Half a TLS configuration, or unreadable files, stop the start-up with a reason.
    async fn a_broken_tls_configuration_refuses_to_start(backend: Backend) {
        let database = TestDatabase::create(backend).await;
        let (cert, key) = (fixture("cert.pem"), fixture("key.pem"));
        let missing = fixture("missing.pem");
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[("TLS_CERT_FILE", &cert)], "TLS_KEY_FILE"),
            (&[("TLS_KEY_FILE", &key)], "TLS_CERT_FILE"),
            (&[("TLS_CERT_FILE", &missing), ("TLS_KEY_FILE", &key)], "TLS_CERT_FILE"),
            (&[("TLS_CERT_FILE", &key), ("TLS_KEY_FILE", &cert)], "TLS"),
        ];
        for (vars, named) in cases {
            let mut env: HashMap<&str, &str> = [
                ("DATABASE_URL", database.url.as_str()),
                ("PORT", "0"),
                ("JWT_SECRET_KEY", TEST_JWT_SECRET),
            ]
            .into_iter()
            .collect();
            env.extend(vars.iter().copied());
            let built = match todo_api::config::Config::from_lookup(|k| env.get(k).map(|v| v.to_string())) {
                Err(e) => Err(e),
                Ok(config) => todo_api::app::App::build(config).await.map(drop),
            };
            let err = format!("{:#}", built.expect_err("a broken TLS configuration is refused"));
            assert!(err.contains(named), "{vars:?}: {err}");
        }
    }
}

/// Runs `todo-api healthcheck` against `port` with `vars` (nothing else of ours set).
async fn healthcheck(port: u16, vars: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-api"));
    cmd.arg("healthcheck")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .env_remove("TLS_CERT_FILE")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run todo-api healthcheck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

both_backends! {
    /// The image's HEALTHCHECK (`todo-api healthcheck`) speaks TLS when the server does,
    /// trusting exactly the server's certificate.
    async fn the_healthcheck_probe_speaks_tls(backend: Backend) {
        let (cert, key) = (fixture("cert.pem"), fixture("key.pem"));
        let vars = [("TLS_CERT_FILE", cert.as_str()), ("TLS_KEY_FILE", key.as_str())];
        let app = TestApp::spawn_with(backend, &vars).await;
        let (ok, out) = healthcheck(app.port, &[("TLS_CERT_FILE", &cert)]).await;
        assert!(ok, "{out}");
        assert!(out.contains(&format!("https://127.0.0.1:{}/health/live answered 200", app.port)), "{out}");
        // Plain HTTP to the TLS port, or another certificate: unhealthy.
        let (ok, out) = healthcheck(app.port, &[]).await;
        assert!(!ok, "{out}");
        let (ok, out) = healthcheck(app.port, &[("TLS_CERT_FILE", &fixture("ca.pem"))]).await;
        assert!(!ok && out.contains("TLS_CERT_FILE"), "{out}");
        // A plain server is probed over plain HTTP, as before.
        let plain = TestApp::spawn(backend).await;
        let (ok, out) = healthcheck(plain.port, &[]).await;
        assert!(ok && out.contains("http://127.0.0.1"), "{out}");
    }
}
