//! One generated input, executed: the call built from it, the outcome the contract pins
//! for it, the check of the answer against that outcome, and the upkeep of the refresh
//! chain.

use super::super::call::{Call, Outcome};
use super::super::input::{Body, Expect, Input, OpDef};
use super::World;

/// status, error_code (`VALIDATION_*`: any validation code), `details.field`, and why.
pub type Expected = (u16, Option<&'static str>, Option<&'static str>, String);

/// `VALIDATION_*` stands for any validation code (the contract pins the status only).
fn code_matches(want: Option<&str>, got: Option<&str>) -> bool {
    match (want, got) {
        (Some(w), Some(g)) => match w.strip_suffix('*') {
            Some(prefix) => g.starts_with(prefix),
            None => w == g,
        },
        (w, g) => w == g,
    }
}

/// `tags` is named by `tags` or by an element path such as `tags[0]`.
fn field_matches(want: &str, got: Option<&str>) -> bool {
    got.is_some_and(|g| {
        g == want
            || g.strip_prefix(want)
                .is_some_and(|rest| rest.starts_with(['[', '.']))
    })
}

/// The one outcome the contract pins for these dimensions: success when all are valid,
/// the error of the one invalid dimension, nothing when several are invalid or unknown.
fn expectation(dims: &[(&'static str, &Expect)], success: u16) -> Option<Expected> {
    let mut error = None;
    for (label, e) in dims {
        match e {
            Expect::Valid => {}
            Expect::Unknown => return None,
            Expect::Error(s, c, f) => {
                if error.is_some() {
                    return None;
                }
                error = Some((*s, Some(*c), *f, (*label).to_owned()));
            }
        }
    }
    Some(error.unwrap_or_else(|| (success, None, None, "all valid".to_owned())))
}

impl World<'_> {
    /// Resolves `input` for `def`, sends it, checks the answer and the expected outcome
    /// (`pinned` replaces the one the classes give).
    pub async fn execute(&self, def: &OpDef, input: &Input, pinned: Option<Option<Expected>>) {
        let success = self.spec.op(def.op).success();
        let call = self.build_call(def, input).await;
        let presented_refresh = match &call.body {
            Body::Json(v) => v["refresh_token"].as_str().map(str::to_owned),
            _ => None,
        };
        let expected = pinned.unwrap_or_else(|| expectation(&input.dimensions(), success));
        let out = self.send_call(&call).await;
        self.record_answer(def.op, input, &out);
        if let Some(expected) = expected {
            self.check_expected(&call, &out, expected);
        }
        if def.op == "refresh_token" && !self.limited {
            self.follow_chain(presented_refresh.as_deref(), &out).await;
        }
    }

    /// The request `input` stands for: tokens, id, `If-Match` and placeholders filled in.
    async fn build_call(&self, def: &OpDef, input: &Input) -> Call {
        let spec_op = self.spec.op(def.op);
        let p = self.principal(def.op).await;
        let mut call = Call::new(def.op, spec_op.method.clone(), spec_op.path.clone());
        if !def.tokens.is_empty() {
            call.authorization = self.authorization(&input.token.value, &p);
            call.token_label = input.token.label;
        }
        if call.path.contains("{id}") {
            let (id, own) = self.resolve_id(def.op, &input.id.value).await;
            if !def.if_match.is_empty() {
                call.if_match = self.if_match(&input.if_match.value, &id, own).await;
            }
            call.path = call.path.replace("{id}", &id);
        }
        call.query = input.query.value.clone();
        call.request_id = input.request_id.clone();
        call.template = match &input.body.value {
            Body::Json(v) => v.to_string(),
            Body::Form(f) => format!("{f:?}"),
            _ => String::new(),
        };
        call.body = self.resolve_body(&input.body.value, &p).await;
        call
    }

    /// Notes the answer to an input with at most one non-valid dimension, for
    /// `CONTRACT_VERBOSE=1`.
    fn record_answer(&self, op: &str, input: &Input, out: &Outcome) {
        let odd: Vec<&str> = input
            .dimensions()
            .into_iter()
            .filter(|(_, e)| !matches!(e, Expect::Valid))
            .map(|(l, _)| l)
            .collect();
        if odd.len() > 1 {
            return;
        }
        let class = odd.first().copied().unwrap_or("all valid");
        let answer = format!("{} {}", out.status, out.code.as_deref().unwrap_or(""));
        self.answers
            .borrow_mut()
            .entry(format!("{op}: {class}"))
            .or_default()
            .insert(answer.trim_end().to_owned());
    }

    /// A violation unless `out` is the `expected` status, code and field.
    fn check_expected(&self, call: &Call, out: &Outcome, expected: Expected) {
        let (status, code, field, why) = expected;
        let ok = out.status == status
            && code_matches(code, out.code.as_deref())
            && field.is_none_or(|f| field_matches(f, out.field.as_deref()));
        if ok {
            return;
        }
        let want = match (code, field) {
            (Some(c), Some(f)) => format!("{status} {c} (field {f})"),
            (Some(c), None) => format!("{status} {c}"),
            _ => format!("{status}"),
        };
        let got = format!(
            "{} {} (field {})",
            out.status,
            out.code.as_deref().unwrap_or("-"),
            out.field.as_deref().unwrap_or("-")
        );
        let what = format!("[{why}] expected {want}, got {got}");
        self.violation(call.op, what, call, &out.body.to_string());
    }

    /// Keeps the refresh chain alive: follows its rotation, logs in again if it broke.
    async fn follow_chain(&self, presented: Option<&str>, out: &Outcome) {
        let chain_refresh = self.chain.borrow().refresh.clone();
        if presented != Some(chain_refresh.as_str()) {
            return;
        }
        let next = if out.status == 200 {
            let mut c = self.chain.borrow().clone();
            c.access = out.body["access_token"].as_str().unwrap().to_owned();
            c.refresh = out.body["refresh_token"].as_str().unwrap().to_owned();
            c
        } else {
            self.session(&self.a).await
        };
        *self.chain.borrow_mut() = next;
    }
}
