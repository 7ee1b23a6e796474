//! Tag bodies and page parameters.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::super::input::*;
use super::super::strategies::*;
use super::{framing_classes, json_body};

fn color() -> impl Strategy<Value = Value> {
    prop_oneof!["#[0-9A-Fa-f]{6}".prop_map(Value::from), Just(Value::Null)]
}

/// A valid `NewTag` (`patch`: `TagPatch`); names are unique (`@@unique@@`).
fn tag_input(patch: bool) -> BoxedStrategy<Value> {
    (
        if patch {
            proptest::option::of(non_blank(30)).boxed()
        } else {
            non_blank(30).prop_map(Some).boxed()
        },
        proptest::option::of(color()),
    )
        .prop_map(|(name, color)| {
            let mut b = Map::new();
            if let Some(n) = name {
                b.insert("name".into(), json!(format!("{n} @@unique@@")));
            }
            if let Some(c) = color {
                b.insert("color".into(), c);
            }
            Value::Object(b)
        })
        .boxed()
}

/// `NewTag` (`patch`: `TagPatch`) bodies: valid, then each way to be wrong.
pub fn tag_body_classes(patch: bool) -> Vec<Class<Body>> {
    let valid = tag_input(patch);
    let v = || valid.clone();
    let mut classes = vec![
        class("valid tag", Expect::Valid, json_body(v())),
        class(
            "name taken (any case)",
            err(409, "CONFLICT_001"),
            v().prop_map(|b| Body::Json(with(b, "name", json!("@@tag@@")))),
        ),
    ];
    if !patch {
        classes.push(class(
            "name missing",
            field_err(422, "VALIDATION_004", "name"),
            v().prop_map(|b| Body::Json(without(b, "name"))),
        ));
    }
    classes.extend(tag_name_classes(&valid));
    classes.extend(tag_color_classes(&valid));
    classes.extend(framing_classes(v()));
    classes
}

/// Names that are blank, of the wrong type, too long or hold a NUL.
fn tag_name_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "blank name",
            field_err(422, "VALIDATION_004", "name"),
            (v(), blank()).prop_map(|(b, n)| Body::Json(with(b, "name", json!(n)))),
        ),
        class(
            "name not a string",
            field_err(422, "VALIDATION_004", "name"),
            (
                v(),
                prop_oneof![Just(json!(5)), Just(json!(true)), Just(json!(["x"]))],
            )
                .prop_map(|(b, n)| Body::Json(with(b, "name", n))),
        ),
        class(
            "name too long",
            field_err(422, "VALIDATION_005", "name"),
            (v(), chars(51..=70)).prop_map(|(b, n)| Body::Json(with(b, "name", json!(n)))),
        ),
        class(
            "NUL in name",
            field_err(422, "VALIDATION_*", "name"),
            (v(), text(0, 5))
                .prop_map(|(b, n)| Body::Json(with(b, "name", json!(format!("a{n}\u{0}"))))),
        ),
    ]
}

/// Colors that are not `#RRGGBB` strings.
fn tag_color_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "bad color",
            field_err(422, "VALIDATION_009", "color"),
            (
                v(),
                prop_oneof![
                    Just("red".to_owned()),
                    Just("#12345".to_owned()),
                    Just("#GGGGGG".to_owned()),
                    Just("123456".to_owned()),
                    Just("#1234567".to_owned()),
                    "[a-z]{1,8}",
                ],
            )
                .prop_map(|(b, c)| Body::Json(with(b, "color", json!(c)))),
        ),
        class(
            "color not a string",
            field_err(422, "VALIDATION_004", "color"),
            (v(), prop_oneof![Just(json!(5)), Just(json!(true))])
                .prop_map(|(b, c)| Body::Json(with(b, "color", c))),
        ),
    ]
}

pub fn query_text_pair(
    key: &'static str,
    s: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<(String, String)> {
    s.prop_map(move |v| (key.to_owned(), v)).boxed()
}

/// Valid `skip` and `limit` (each may be absent).
pub fn page_params() -> BoxedStrategy<Query> {
    (
        proptest::option::of(0i64..60),
        proptest::option::of(1i64..=100),
    )
        .prop_map(|(skip, limit)| {
            let mut q = vec![];
            if let Some(s) = skip {
                q.push(("skip".to_owned(), s.to_string()));
            }
            if let Some(l) = limit {
                q.push(("limit".to_owned(), l.to_string()));
            }
            q
        })
        .boxed()
}

/// Page parameters: valid, then out of range or not numbers.
pub fn page_classes() -> Vec<Class<Query>> {
    vec![
        class("valid page", Expect::Valid, page_params()),
        class(
            "negative skip",
            field_err(422, "VALIDATION_009", "skip"),
            (page_params(), -1000i64..0).prop_map(|(mut q, s)| {
                q.retain(|(k, _)| k != "skip");
                q.push(("skip".into(), s.to_string()));
                q
            }),
        ),
        class(
            "limit out of range",
            field_err(422, "VALIDATION_009", "limit"),
            (
                page_params(),
                prop_oneof![Just(0i64), 101i64..10_000, -50i64..0],
            )
                .prop_map(|(mut q, l)| {
                    q.retain(|(k, _)| k != "limit");
                    q.push(("limit".into(), l.to_string()));
                    q
                }),
        ),
        class(
            "non-numeric skip/limit",
            Expect::Unknown,
            (
                prop::sample::select(vec!["skip", "limit"]),
                prop_oneof!["[a-z]{1,5}", Just("1.5".to_owned()), Just(String::new())],
            )
                .prop_map(|(k, v)| vec![(k.to_owned(), v)]),
        ),
    ]
}
