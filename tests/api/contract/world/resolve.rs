//! Filling in a request: tokens of every kind, `@@…@@` placeholders, path ids.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

use super::super::input::{Body, IdKind, IfMatch, Tok};
use super::{Principal, World};

const WRONG_SECRET: &[u8] = b"not-the-server-secret-0123456789abcdef";

pub fn user_id(access: &str) -> String {
    claims(access)["sub"]
        .as_str()
        .expect("sub claim")
        .to_owned()
}

/// The token's claims re-signed with a wrong secret.
fn resign(token: &str) -> String {
    sign(&claims(token), jsonwebtoken::Algorithm::HS256, WRONG_SECRET)
}

/// The token's claims under another `alg`: none (0), HS384 (1), HS512 (2).
fn forge_alg(token: &str, which: u8) -> String {
    let c = claims(token);
    let secret = TEST_JWT_SECRET.as_bytes();
    match which {
        0 => hand_built_token(&json!({"alg": "none", "typ": "JWT"}), &c, ""),
        1 => sign(&c, jsonwebtoken::Algorithm::HS384, secret),
        _ => sign(&c, jsonwebtoken::Algorithm::HS512, secret),
    }
}

/// A token like `token` (same user and session) of `kind` that expired `ago` seconds ago.
fn expired(token: &str, kind: &str, ago: i64) -> String {
    let c = claims(token);
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    sign_valid(&make_claims(&s("sub"), &s("email"), &s("sid"), kind, -ago))
}

/// Replaces every string of a JSON value through `f`.
fn map_strings(v: &Value, f: &mut dyn FnMut(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), map_strings(x, f)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A principal with well-formed tokens for a user that does not exist.
pub fn forged_principal() -> Principal {
    let id = Uuid::new_v4().to_string();
    let email = "nobody@example.com".to_owned();
    let sid = Uuid::new_v4().to_string();
    Principal {
        access: sign_valid(&make_claims(&id, &email, &sid, "access", 3600)),
        refresh: sign_valid(&make_claims(&id, &email, &sid, "refresh", 3600)),
        id,
        email,
        password: STRONG_PASSWORD.to_owned(),
    }
}

impl World<'_> {
    async fn resolve_strings(&self, p: &Principal, texts: &[&str]) -> Vec<(String, String)> {
        let all = texts.concat();
        let mut vars: Vec<(String, String)> = vec![];
        let mut add = |k: &str, v: &dyn Fn() -> String| {
            if all.contains(k) {
                vars.push((k.to_owned(), v()));
            }
        };
        add("@@email@@", &|| p.email.clone());
        add("@@EMAIL@@", &|| p.email.to_uppercase());
        add("@@password@@", &|| p.password.clone());
        add("@@refresh@@", &|| p.refresh.clone());
        add("@@access@@", &|| p.access.clone());
        add("@@expired_refresh@@", &|| {
            expired(&p.refresh, "refresh", 3600)
        });
        add("@@badsig_refresh@@", &|| resign(&p.refresh));
        add("@@alg_refresh@@", &|| forge_alg(&p.refresh, 1));
        add("@@revoked_refresh@@", &|| self.revoked.refresh.clone());
        add("@@deleted_refresh@@", &|| self.deleted.refresh.clone());
        let n = self.counter.get();
        add("@@tag@@", &|| {
            let name = &self.a_tag.1;
            match n % 3 {
                0 => name.to_uppercase(),
                1 => name.to_lowercase(),
                _ => format!("  {name} "),
            }
        });
        if all.contains("@@reused_refresh@@") {
            vars.push(("@@reused_refresh@@".into(), self.reused_refresh().await));
        }
        if all.contains("@@reset_token@@") {
            vars.push(("@@reset_token@@".into(), self.reset_token().await));
        }
        if all.contains("@@used_reset_token@@") {
            vars.push(("@@used_reset_token@@".into(), self.used_reset_token().await));
        }
        if all.contains("@@verify_token@@") {
            vars.push(("@@verify_token@@".into(), self.verify_token().await));
        }
        if all.contains("@@used_verify_token@@") {
            vars.push((
                "@@used_verify_token@@".into(),
                self.used_verify_token().await,
            ));
        }
        vars
    }

    pub(super) async fn resolve_body(&self, body: &Body, p: &Principal) -> Body {
        let texts: Vec<String> = match body {
            Body::Json(v) => vec![v.to_string()],
            Body::Raw(_, t) => vec![t.clone()],
            Body::Form(f) => f.iter().map(|(_, v)| v.clone()).collect(),
            Body::None | Body::TooLarge(..) => vec![],
        };
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vars = self.resolve_strings(p, &refs).await;
        let mut fill = |s: &str| {
            let mut s = s.to_owned();
            for (k, v) in &vars {
                s = s.replace(k, v);
            }
            while s.contains("@@unique@@") {
                s = s.replacen("@@unique@@", &self.unique(), 1);
            }
            s
        };
        match body {
            Body::Json(v) => Body::Json(map_strings(v, &mut fill)),
            Body::Raw(ct, t) => Body::Raw(ct, fill(t)),
            Body::Form(f) => Body::Form(f.iter().map(|(k, v)| (k.clone(), fill(v))).collect()),
            other => other.clone(),
        }
    }

    pub(super) fn authorization(&self, tok: &Tok, p: &Principal) -> Option<String> {
        let token = match tok {
            Tok::Valid => p.access.clone(),
            Tok::Missing => return None,
            Tok::Garbage(g) => g.clone(),
            Tok::Header(h) => return Some(h.clone()),
            Tok::WrongAlg(k) => forge_alg(&p.access, *k),
            Tok::Expired(ago) => expired(&p.access, "access", *ago),
            Tok::RefreshAsAccess => p.refresh.clone(),
            Tok::WrongSignature => resign(&p.access),
            Tok::Revoked => self.revoked.access.clone(),
            Tok::DeletedUser => self.deleted.access.clone(),
        };
        Some(format!("Bearer {token}"))
    }

    /// The id to put in the path (and whether it is the caller's own resource).
    pub(super) async fn resolve_id(&self, op: &str, kind: &IdKind) -> (String, bool) {
        let todo = matches!(
            op,
            "get_todo" | "replace_todo" | "update_todo" | "delete_todo" | "toggle_todo"
        );
        let own = || async {
            match op {
                "delete_todo" => self.create_todo(&self.a.access).await,
                "delete_tag" | "update_tag" => self.create_tag(&self.a.access).await.0,
                _ if todo => self.a_todo.clone(),
                _ => self.a_tag.0.clone(),
            }
        };
        if op == "delete_session" {
            return self.resolve_session_id(kind).await;
        }
        match kind {
            IdKind::Own => (own().await, true),
            IdKind::OwnUpperCase => (own().await.to_uppercase(), true),
            IdKind::Other if todo => (self.b_todo.clone(), false),
            IdKind::Other => (self.b_tag.clone(), false),
            IdKind::Unknown(n) => (Uuid::from_u128(*n).to_string(), false),
            IdKind::Malformed(s) => (s.clone(), false),
        }
    }

    /// A session id: a fresh session of the caller (ending it leaves the caller's token
    /// alone), or `b`'s.
    async fn resolve_session_id(&self, kind: &IdKind) -> (String, bool) {
        let own = || async {
            let fresh = self.session(&self.sessions_user).await;
            session_id(&fresh.access).to_string()
        };
        match kind {
            IdKind::Own => (own().await, true),
            IdKind::OwnUpperCase => (own().await.to_uppercase(), true),
            IdKind::Other => (self.b_session.clone(), false),
            IdKind::Unknown(n) => (Uuid::from_u128(*n).to_string(), false),
            IdKind::Malformed(s) => (s.clone(), false),
        }
    }

    /// The `If-Match` header for the todo `id` (whose current version is read when it is
    /// the caller's own).
    pub(super) async fn if_match(&self, kind: &IfMatch, id: &str, own: bool) -> Option<String> {
        let v = match (kind, own) {
            (IfMatch::Absent, _) => return None,
            (_, true) => self.version_of(&id.to_lowercase()).await,
            (_, false) => 1,
        };
        Some(match kind {
            IfMatch::Absent => unreachable!("no header"),
            IfMatch::Current => format!("\"{v}\""),
            IfMatch::Any => "*".into(),
            IfMatch::ListWithCurrent(k) => format!("\"{}\", \"{v}\"", v + k),
            IfMatch::Weak => format!("W/\"{v}\""),
            IfMatch::Stale(k) => format!("\"{}\"", v + k),
            IfMatch::Garbage(g) => g.clone(),
        })
    }
}
