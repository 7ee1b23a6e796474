//! Inputs: the dimensions of a request (token, path id, `If-Match`, query, body,
//! `X-Request-ID`), each drawn from labelled classes that say what they lead to.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::Value;

use super::strategies::request_id;

/// What one class of one dimension leads to when every other dimension is valid.
#[derive(Clone, Debug)]
pub enum Expect {
    Valid,
    /// status, error_code (`VALIDATION_*`: any validation code), `details.field` (when
    /// the class pins it)
    Error(u16, &'static str, Option<&'static str>),
    /// Several answers are acceptable (the contract does not pin this one).
    Unknown,
}

pub fn err(status: u16, code: &'static str) -> Expect {
    Expect::Error(status, code, None)
}

pub fn field_err(status: u16, code: &'static str, field: &'static str) -> Expect {
    Expect::Error(status, code, Some(field))
}

/// A value drawn from a class, with the class's label and expectation.
#[derive(Clone, Debug)]
pub struct Pick<T> {
    pub label: &'static str,
    pub expect: Expect,
    pub value: T,
}

pub struct Class<T> {
    pub label: &'static str,
    pub expect: Expect,
    pub strategy: BoxedStrategy<T>,
}

pub fn class<T, S>(label: &'static str, expect: Expect, strategy: S) -> Class<T>
where
    T: Clone + Debug + 'static,
    S: Strategy<Value = T> + 'static,
{
    Class {
        label,
        expect,
        strategy: strategy.boxed(),
    }
}

/// A token to present.
#[derive(Clone, Debug)]
pub enum Tok {
    Valid,
    Missing,
    /// Sent as `Bearer <garbage>`.
    Garbage(String),
    /// A whole `Authorization` header value of another scheme or shape.
    Header(String),
    /// The principal's claims with `alg` none (0), HS384 (1) or HS512 (2).
    WrongAlg(u8),
    /// An access token expired this many seconds ago.
    Expired(i64),
    RefreshAsAccess,
    WrongSignature,
    /// A logged-out session's access token.
    Revoked,
    /// The access token of a user whose row was deleted.
    DeletedUser,
}

#[derive(Clone, Debug)]
pub enum IdKind {
    Own,
    OwnUpperCase,
    Other,
    Unknown(u128),
    Malformed(String),
}

#[derive(Clone, Debug)]
pub enum IfMatch {
    Absent,
    Current,
    Any,
    /// `"<stale>", "<current>"`
    ListWithCurrent(i64),
    Weak,
    Stale(i64),
    Garbage(String),
}

pub type Query = Vec<(String, String)>;

/// A request body (strings may hold `@@…@@` placeholders, filled in when sent).
#[derive(Clone, Debug)]
pub enum Body {
    None,
    Json(Value),
    Raw(&'static str, String),
    Form(Query),
    /// A JSON (or form) body of this many bytes, over the 1 MiB limit.
    TooLarge(usize, bool),
}

#[derive(Clone, Debug)]
pub struct Input {
    pub token: Pick<Tok>,
    pub id: Pick<IdKind>,
    pub if_match: Pick<IfMatch>,
    pub query: Pick<Query>,
    pub body: Pick<Body>,
    pub request_id: Option<String>,
}

impl Input {
    /// Each dimension's label and expectation.
    pub fn dimensions(&self) -> [(&'static str, &Expect); 5] {
        [
            (self.token.label, &self.token.expect),
            (self.id.label, &self.id.expect),
            (self.if_match.label, &self.if_match.expect),
            (self.query.label, &self.query.expect),
            (self.body.label, &self.body.expect),
        ]
    }
}

/// An operation's input dimensions (an empty list: the dimension does not apply).
pub struct OpDef {
    pub op: &'static str,
    pub tokens: Vec<Class<Tok>>,
    pub ids: Vec<Class<IdKind>>,
    pub if_match: Vec<Class<IfMatch>>,
    pub query: Vec<Class<Query>>,
    pub body: Vec<Class<Body>>,
}

fn none<T: Clone>(value: T) -> Pick<T> {
    Pick {
        label: "-",
        expect: Expect::Valid,
        value,
    }
}

/// One class drawn with the fuzzing weights: valid classes as likely as all invalid ones.
fn dimension<T: Clone + Debug + 'static>(
    classes: &[Class<T>],
    default: T,
) -> BoxedStrategy<Pick<T>> {
    if classes.is_empty() {
        return Just(none(default)).boxed();
    }
    let valid = classes
        .iter()
        .filter(|c| matches!(c.expect, Expect::Valid))
        .count() as u32;
    let invalid = classes.len() as u32 - valid;
    let arms: Vec<(u32, BoxedStrategy<Pick<T>>)> = classes
        .iter()
        .map(|c| {
            let weight = match c.expect {
                Expect::Valid => (invalid / valid.max(1)).max(1),
                _ => 1,
            };
            let (label, expect) = (c.label, c.expect.clone());
            let arm = c
                .strategy
                .clone()
                .prop_map(move |value| Pick {
                    label,
                    expect: expect.clone(),
                    value,
                })
                .boxed();
            (weight, arm)
        })
        .collect();
    Union::new_weighted(arms).boxed()
}

fn sample<T: Clone + Debug>(c: &Class<T>, sampler: &mut TestRunner) -> Pick<T> {
    Pick {
        label: c.label,
        expect: c.expect.clone(),
        value: c
            .strategy
            .new_tree(sampler)
            .expect("a value can be drawn")
            .current(),
    }
}

/// A value of the first class, which must be a valid one (or `default` without classes).
fn first<T: Clone + Debug>(classes: &[Class<T>], default: T, s: &mut TestRunner) -> Pick<T> {
    match classes.first() {
        None => none(default),
        Some(c) => {
            assert!(
                matches!(c.expect, Expect::Valid),
                "{}: first class is valid",
                c.label
            );
            sample(c, s)
        }
    }
}

/// `base` with one dimension (set by `set`) drawn from each class after the first.
fn vary<T: Clone + Debug>(
    out: &mut Vec<Input>,
    base: &Input,
    classes: &[Class<T>],
    sampler: &mut TestRunner,
    set: impl Fn(&mut Input, Pick<T>),
) {
    for c in classes.iter().skip(1) {
        let mut x = base.clone();
        set(&mut x, sample(c, sampler));
        out.push(x);
    }
}

impl OpDef {
    pub fn strategy(&self) -> impl Strategy<Value = Input> {
        (
            dimension(&self.tokens, Tok::Missing),
            dimension(&self.ids, IdKind::Own),
            dimension(&self.if_match, IfMatch::Absent),
            dimension(&self.query, vec![]),
            dimension(&self.body, Body::None),
            request_id(),
        )
            .prop_map(|(token, id, if_match, query, body, request_id)| Input {
                token,
                id,
                if_match,
                query,
                body,
                request_id,
            })
    }

    /// The all-valid input, then every class of every dimension once, the rest valid.
    pub fn sweep(&self, sampler: &mut TestRunner) -> Vec<Input> {
        let base = Input {
            token: first(&self.tokens, Tok::Missing, sampler),
            id: first(&self.ids, IdKind::Own, sampler),
            if_match: first(&self.if_match, IfMatch::Absent, sampler),
            query: first(&self.query, vec![], sampler),
            body: first(&self.body, Body::None, sampler),
            request_id: None,
        };
        let mut out = vec![base.clone()];
        vary(&mut out, &base, &self.tokens, sampler, |x, p| x.token = p);
        vary(&mut out, &base, &self.ids, sampler, |x, p| x.id = p);
        vary(&mut out, &base, &self.if_match, sampler, |x, p| {
            x.if_match = p
        });
        vary(&mut out, &base, &self.query, sampler, |x, p| x.query = p);
        vary(&mut out, &base, &self.body, sampler, |x, p| x.body = p);
        for rid in ["contract-sweep.1_A-z", "not valid/id"] {
            let mut x = base.clone();
            x.request_id = Some(rid.to_owned());
            out.push(x);
        }
        out
    }
}
