//! Start-up validation of the identity settings: each mistake is refused with a
//! message naming the variable and the fix.

use super::*;
use crate::config::Config;

fn read(vars: &[(&str, &str)]) -> anyhow::Result<ExternalSettings> {
    let map: std::collections::HashMap<_, _> = vars.iter().copied().collect();
    ExternalSettings::from_lookup(|k| map.get(k).map(|v| v.to_string()), false)
}

fn error(vars: &[(&str, &str)]) -> String {
    format!("{:#}", read(vars).expect_err("refused"))
}

const ISS: (&str, &str) = ("EXTERNAL_ISSUER", "https://auth.example.com");
const JWKS: (&str, &str) = (
    "EXTERNAL_JWKS_URL",
    "https://auth.example.com/api/auth/jwks",
);
const SECRET: (&str, &str) = (
    "EXTERNAL_JWT_SECRET",
    "an-external-secret-0123456789-abcdefghij",
);

#[test]
fn defaults_are_local_accounts_only() {
    let s = read(&[]).unwrap();
    assert!(s.local_auth && s.issuer.is_none());
}

#[test]
fn a_jwks_issuer_gets_the_default_algorithms_and_timings() {
    let s = read(&[ISS, JWKS]).unwrap();
    let iss = s.issuer.unwrap();
    assert_eq!(iss.issuer, "https://auth.example.com");
    assert_eq!(iss.clock_skew_secs, 30);
    assert_eq!(iss.refetch_interval, Duration::from_secs(10));
    let KeySource::Jwks { algorithms, .. } = iss.keys else {
        panic!("a JWKS source")
    };
    use Algorithm::*;
    assert_eq!(algorithms, vec![EdDSA, ES256, RS256, PS256]);
}

#[test]
fn the_issuer_needs_exactly_one_key_source() {
    assert!(error(&[ISS]).contains("neither EXTERNAL_JWKS_URL nor EXTERNAL_JWT_SECRET"));
    assert!(error(&[ISS, JWKS, SECRET]).contains("both set"));
    assert!(error(&[JWKS]).contains("EXTERNAL_JWKS_URL is set but EXTERNAL_ISSUER is not"));
    assert!(error(&[SECRET]).contains("EXTERNAL_JWT_SECRET is set but EXTERNAL_ISSUER"));
    let skew = ("EXTERNAL_CLOCK_SKEW_SECONDS", "5");
    assert!(error(&[skew]).contains("EXTERNAL_CLOCK_SKEW_SECONDS is set but"));
    read(&[("EXTERNAL_CLOCK_SKEW_SECONDS", "30")]).expect("its default changes nothing");
    let bad_url = ("EXTERNAL_JWKS_URL", "ftp://x/jwks");
    assert!(error(&[ISS, bad_url]).contains("http:// or https://"));
}

#[test]
fn algorithms_never_none_nor_hmac_with_a_jwks() {
    let with = |algs| error(&[ISS, JWKS, ("EXTERNAL_ALGORITHMS", algs)]);
    assert!(with("EdDSA,none").contains("`none`"));
    assert!(with("RS256,HS256").contains("key confusion"));
    assert!(with("ES512").contains("not supported"));
    assert!(with(" , ").contains("empty"));
    let secret_with_rs = error(&[ISS, SECRET, ("EXTERNAL_ALGORITHMS", "RS256")]);
    assert!(
        secret_with_rs.contains("only verifies HS256"),
        "{secret_with_rs}"
    );
    read(&[ISS, SECRET, ("EXTERNAL_ALGORITHMS", "HS256")]).unwrap();
}

#[test]
fn local_auth_off_needs_an_issuer_and_values_are_checked() {
    assert!(error(&[("LOCAL_AUTH", "disabled")]).contains("needs an external issuer"));
    assert!(error(&[("LOCAL_AUTH", "off")]).contains("enabled or disabled"));
    let off = read(&[("LOCAL_AUTH", "disabled"), ISS, JWKS]).unwrap();
    assert!(!off.local_auth);
    let skew = ("EXTERNAL_CLOCK_SKEW_SECONDS", "301");
    assert!(error(&[ISS, JWKS, skew]).contains("out of range"));
    let refetch = ("EXTERNAL_JWKS_REFETCH_SECONDS", "0");
    assert!(error(&[ISS, JWKS, refetch]).contains("out of range"));
}

#[test]
fn production_refuses_a_weak_shared_secret() {
    let map: std::collections::HashMap<_, _> = [ISS, ("EXTERNAL_JWT_SECRET", "short")]
        .into_iter()
        .collect();
    let e = ExternalSettings::from_lookup(|k| map.get(k).map(|v| v.to_string()), true);
    assert!(format!("{:#}", e.unwrap_err()).contains("too weak for production"));
}

#[test]
fn production_refuses_a_plain_http_jwks_url_off_loopback() {
    let read_in_production = |url: &str| {
        let map: std::collections::HashMap<_, _> =
            [ISS, ("EXTERNAL_JWKS_URL", url)].into_iter().collect();
        ExternalSettings::from_lookup(|k| map.get(k).map(|v| v.to_string()), true)
    };
    for url in [
        "http://auth.example.com/jwks",
        "http://10.0.0.7:3000/api/auth/jwks",
    ] {
        let e = format!("{:#}", read_in_production(url).expect_err(url));
        assert!(
            e.contains("EXTERNAL_JWKS_URL") && e.contains("https://"),
            "{e}"
        );
    }
    for url in [
        "https://auth.example.com/jwks",
        "http://127.0.0.1:3000/api/auth/jwks",
        "http://localhost:3000/api/auth/jwks",
        "http://[::1]:3000/jwks",
    ] {
        assert!(read_in_production(url).is_ok(), "{url}");
    }
    // Development keeps plain HTTP (a local auth server).
    assert!(read(&[ISS, ("EXTERNAL_JWKS_URL", "http://auth.internal/jwks")]).is_ok());
}

#[test]
fn the_service_key_and_issuer_are_never_the_external_ones() {
    let own = "own-signing-key-0123456789-abcdefghijklmnop";
    let config = |vars: &[(&str, &str)]| {
        let map: std::collections::HashMap<_, _> = vars.iter().copied().collect();
        Config::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    };
    let e = config(&[("JWT_SECRET_KEY", own), ISS, ("EXTERNAL_JWT_SECRET", own)]);
    assert!(format!("{:#}", e.unwrap_err()).contains("EXTERNAL_JWT_SECRET equals JWT_SECRET_KEY"));
    let e = config(&[("JWT_ISSUER", ISS.1), ISS, JWKS]);
    assert!(format!("{:#}", e.unwrap_err()).contains("EXTERNAL_ISSUER equals JWT_ISSUER"));
    config(&[("JWT_SECRET_KEY", own), ISS, SECRET]).unwrap();
}
