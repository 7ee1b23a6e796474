//! Todo bodies and list filters.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::super::input::*;
use super::super::strategies::*;
use super::tags::{page_classes, page_params, query_text_pair};
use super::{framing_classes, json_body};

/// `TodoInput` (`patch`: `TodoPatch`) bodies: valid, then each way to be wrong.
pub fn todo_body_classes(patch: bool) -> Vec<Class<Body>> {
    let valid = todo_input(patch);
    let v = || valid.clone();
    let mut classes = vec![class("valid todo", Expect::Valid, json_body(v()))];
    if !patch {
        classes.push(class(
            "title missing",
            field_err(422, "VALIDATION_004", "title"),
            v().prop_map(|b| Body::Json(without(b, "title"))),
        ));
    }
    classes.extend(todo_type_classes(&valid));
    classes.extend(todo_limit_classes(&valid));
    classes.extend(todo_nul_classes(&valid));
    if patch {
        classes.push(class(
            "title null",
            Expect::Unknown,
            v().prop_map(|b| Body::Json(with(b, "title", Value::Null))),
        ));
    }
    classes.extend(framing_classes(v()));
    classes
}

/// Fields of the wrong JSON type, or a blank title.
// Over 50 lines: a table, one entry per field.
fn todo_type_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "blank title",
            field_err(422, "VALIDATION_004", "title"),
            (v(), blank()).prop_map(|(b, t)| Body::Json(with(b, "title", json!(t)))),
        ),
        class(
            "title not a string",
            field_err(422, "VALIDATION_004", "title"),
            (
                v(),
                prop_oneof![
                    Just(json!(5)),
                    Just(json!(false)),
                    Just(json!(["a"])),
                    Just(json!({}))
                ],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "title", t))),
        ),
        class(
            "is_completed not a boolean",
            field_err(422, "VALIDATION_004", "is_completed"),
            (
                v(),
                prop_oneof![Just(json!("yes")), Just(json!("true")), Just(json!(1))],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "is_completed", t))),
        ),
        class(
            "tags not a list of strings",
            field_err(422, "VALIDATION_004", "tags"),
            (
                v(),
                prop_oneof![
                    Just(json!("errands")),
                    Just(json!([1])),
                    Just(json!({"a": 1}))
                ],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "tags", t))),
        ),
        class(
            "description not a string",
            field_err(422, "VALIDATION_004", "description"),
            (
                v(),
                prop_oneof![Just(json!(5)), Just(json!(true)), Just(json!([]))],
            )
                .prop_map(|(b, t)| Body::Json(with(b, "description", t))),
        ),
    ]
}

/// Values over a length limit or outside their enum or format.
fn todo_limit_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "title too long",
            field_err(422, "VALIDATION_005", "title"),
            (v(), chars(256..=300)).prop_map(|(b, t)| Body::Json(with(b, "title", json!(t)))),
        ),
        class(
            "description too long",
            field_err(422, "VALIDATION_005", "description"),
            (v(), chars(10_001..=10_050))
                .prop_map(|(b, t)| Body::Json(with(b, "description", json!(t)))),
        ),
        class(
            "tag name too long",
            err(422, "VALIDATION_005"),
            (v(), chars(51..=80)).prop_map(|(b, t)| Body::Json(with(b, "tags", json!(["ok", t])))),
        ),
        class(
            "bad priority",
            field_err(422, "VALIDATION_006", "priority"),
            (v(), not_in(&["low", "medium", "high"]))
                .prop_map(|(b, p)| Body::Json(with(b, "priority", json!(p)))),
        ),
        class(
            "bad due_date",
            field_err(422, "VALIDATION_009", "due_date"),
            (v(), bad_date()).prop_map(|(b, d)| Body::Json(with(b, "due_date", json!(d)))),
        ),
    ]
}

/// NUL characters, which no stored text may hold, and more tags than a todo may have.
fn todo_nul_classes(valid: &BoxedStrategy<Value>) -> Vec<Class<Body>> {
    let v = || valid.clone();
    vec![
        class(
            "NUL in title",
            field_err(422, "VALIDATION_*", "title"),
            (v(), text(0, 5))
                .prop_map(|(b, t)| Body::Json(with(b, "title", json!(format!("a{t}\u{0}"))))),
        ),
        class(
            "51 tags",
            field_err(422, "VALIDATION_*", "tags"),
            v().prop_map(|b| {
                let tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
                Body::Json(with(b, "tags", json!(tags)))
            }),
        ),
        class(
            "NUL in description",
            field_err(422, "VALIDATION_*", "description"),
            (v(), text(0, 5))
                .prop_map(|(b, t)| Body::Json(with(b, "description", json!(format!("{t}\u{0}x"))))),
        ),
        class(
            "NUL in a tag name",
            field_err(422, "VALIDATION_*", "tags"),
            (v(), text(0, 5))
                .prop_map(|(b, t)| Body::Json(with(b, "tags", json!([format!("a{t}\u{0}")])))),
        ),
    ]
}

const PRIORITIES: &[&str] = &["low", "medium", "high"];
const SORT_BY: &[&str] = &[
    "created_at",
    "updated_at",
    "completed_at",
    "title",
    "due_date",
    "priority",
];
const SORT_ORDERS: &[&str] = &["asc", "desc"];

/// Valid `list_todos` filters (any subset), with a page.
fn todo_query() -> BoxedStrategy<Query> {
    let pairs: Vec<BoxedStrategy<(String, String)>> = vec![
        query_text_pair(
            "is_completed",
            prop::sample::select(vec!["true", "false"]).prop_map(String::from),
        ),
        query_text_pair("priority", priority().prop_map(String::from)),
        query_text_pair("tag", non_blank(20)),
        query_text_pair("q", text(0, 20)),
        query_text_pair(
            "due_before",
            due_date().prop_map(|v| v.as_str().unwrap().to_owned()),
        ),
        query_text_pair(
            "due_after",
            due_date().prop_map(|v| v.as_str().unwrap().to_owned()),
        ),
        query_text_pair(
            "sort_by",
            prop::sample::select(SORT_BY.to_vec()).prop_map(String::from),
        ),
        query_text_pair(
            "sort_order",
            prop::sample::select(SORT_ORDERS.to_vec()).prop_map(String::from),
        ),
        query_text_pair("unknown_param", "[a-z]{0,5}"),
    ];
    let optional: Vec<BoxedStrategy<Option<(String, String)>>> = pairs
        .into_iter()
        .map(|p| proptest::option::weighted(0.3, p).boxed())
        .collect();
    (page_params(), optional)
        .prop_map(|(mut q, extra)| {
            q.extend(extra.into_iter().flatten());
            q
        })
        .boxed()
}

/// `todo_query()` with `key` set to a value drawn from `s`.
fn replacing(key: &'static str, s: BoxedStrategy<String>) -> BoxedStrategy<Query> {
    (todo_query(), s)
        .prop_map(move |(mut q, v)| {
            q.retain(|(k, _)| k != key);
            q.push((key.to_owned(), v));
            q
        })
        .boxed()
}

/// `list_todos` filters: valid, then each way to be wrong.
pub fn todo_query_classes() -> Vec<Class<Query>> {
    let mut classes = vec![class("valid filters", Expect::Valid, todo_query())];
    classes.extend(todo_query_value_classes());
    classes.extend(todo_query_text_classes());
    classes.extend(page_classes().into_iter().skip(1).map(|c| {
        Class {
            label: c.label,
            expect: c.expect,
            strategy: (todo_query(), c.strategy)
                .prop_map(|(mut q, bad)| {
                    q.retain(|(k, _)| !bad.iter().any(|(b, _)| b == k));
                    q.extend(bad);
                    q
                })
                .boxed(),
        }
    }));
    classes
}

/// Enum and date filters outside their values.
fn todo_query_value_classes() -> Vec<Class<Query>> {
    let mut classes = vec![];
    for (key, label, allowed) in [
        ("priority", "bad priority", PRIORITIES),
        ("sort_by", "bad sort_by", SORT_BY),
        ("sort_order", "bad sort_order", SORT_ORDERS),
    ] {
        let wrong = replacing(key, not_in(allowed).boxed());
        classes.push(class(label, field_err(422, "VALIDATION_006", key), wrong));
    }
    for (key, label) in [
        ("due_before", "bad due_before"),
        ("due_after", "bad due_after"),
    ] {
        let wrong = replacing(key, bad_date().boxed());
        classes.push(class(label, field_err(422, "VALIDATION_009", key), wrong));
    }
    let not_bool = prop_oneof!["[a-z]{1,6}", Just("2".to_owned())].boxed();
    let not_bool = replacing("is_completed", not_bool);
    classes.push(class("bad is_completed", Expect::Unknown, not_bool));
    classes
}

/// Over-long and NUL-holding search texts.
fn todo_query_text_classes() -> Vec<Class<Query>> {
    let mut classes = vec![
        class(
            "q too long",
            Expect::Unknown,
            replacing("q", chars(256..=300).boxed()),
        ),
        class(
            "tag too long",
            Expect::Unknown,
            replacing("tag", chars(51..=60).boxed()),
        ),
    ];
    for (key, label) in [("q", "NUL in q"), ("tag", "NUL in tag")] {
        let nul = text(0, 5).prop_map(|t| format!("a{t}\u{0}")).boxed();
        classes.push(class(
            label,
            field_err(422, "VALIDATION_*", key),
            replacing(key, nul),
        ));
    }
    classes
}
