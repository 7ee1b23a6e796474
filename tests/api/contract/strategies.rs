//! Value strategies shared by the property tests: text, passwords, emails, dates,
//! arbitrary JSON, valid todo bodies, and the deterministic runner.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// `PROPTEST_CASES`, or `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A runner with a fixed seed (ChaCha) and no failure persistence, so every run draws
/// the same inputs; without `shrink` a failure is reported as drawn.
pub fn runner(cases: u32, shrink: bool) -> TestRunner {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if !shrink {
        config.max_shrink_iters = 0;
    }
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Text with no NUL: ASCII, accents, Cyrillic, CJK, emoji, quotes, `%`, `_`, newlines.
pub fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => proptest::char::range('A', 'Z'),
            1 => Just(' '),
            1 => prop::sample::select(vec![
                '%', '_', '\\', '\'', '"', 'é', 'É', 'ж', 'Ж', '中', '😀', '\n', '<', '&',
            ]),
        ],
        min..=max,
    )
    .prop_map(|c| c.into_iter().collect())
}

/// Starts with a letter, so never blank.
pub fn non_blank(max: usize) -> impl Strategy<Value = String> {
    (proptest::char::range('a', 'z'), text(0, max - 1)).prop_map(|(c, rest)| format!("{c}{rest}"))
}

/// Exactly `len` characters, multi-byte ones included (lengths count characters).
pub fn chars(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    len.prop_flat_map(|n| {
        proptest::collection::vec(prop::sample::select(vec!['a', 'é', 'ж', '中', 'Z']), n)
            .prop_map(|c| c.into_iter().collect::<String>())
    })
}

pub fn blank() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(vec![' ', '\t', '\n', '\r']), 0..4)
        .prop_map(|c| c.into_iter().collect())
}

/// 8..=60 characters with an upper-case and a lower-case letter, a digit and a special.
pub fn strong_password() -> impl Strategy<Value = String> {
    (
        proptest::char::range('A', 'Z'),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
        prop::sample::select(vec![
            '#', '!', '%', '&', '*', '-', '_', '@', '?', '~', ' ', 'ß',
        ]),
        "[A-Za-z0-9#!%&*@?~-]{4,56}",
    )
        .prop_map(|(u, l, d, s, rest)| {
            let mut v: Vec<char> = vec![u, l, d, s];
            v.extend(rest.chars());
            v
        })
        .prop_shuffle()
        .prop_map(|v| v.into_iter().collect())
}

pub fn weak_password() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9#!]{1,7}",
        "[a-z0-9#!]{8,30}",
        "[A-Z0-9#!]{8,30}",
        "[A-Za-z#!]{8,30}",
        "[A-Za-z0-9]{8,30}",
        "[A-Z][a-z][0-9]#[A-Za-z0-9]{125,140}",
    ]
}

/// A fresh, valid address (`@@unique@@` makes it unique).
pub fn email() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9]{1,10}(\\.[a-z0-9]{1,5})?(\\+[a-z]{1,4})?",
        prop::sample::select(vec!["example.com", "Example.ORG", "mail.example.co.uk"]),
    )
        .prop_map(|(local, domain)| format!("{local}-@@unique@@@{domain}"))
}

pub fn malformed_email() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.]{1,20}",
        "[a-z]{1,8}@",
        "@[a-z]{1,8}\\.com",
        "[a-z]{1,5} [a-z]{1,5}@example\\.com",
        "[a-z]{1,5}@@example\\.com",
        Just(String::new()),
    ]
}

pub fn due_date() -> impl Strategy<Value = Value> {
    (
        0i64..4_102_444_800,
        0u32..1_000_000,
        prop::sample::select(vec![0, 19_800, -18_000]),
    )
        .prop_map(|(secs, micros, offset)| {
            let t = chrono::DateTime::from_timestamp(secs, micros * 1000).unwrap();
            let t = t.with_timezone(&chrono::FixedOffset::east_opt(offset).unwrap());
            json!(t.to_rfc3339())
        })
}

pub fn bad_date() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tomorrow".to_owned()),
        Just("2030-01-01".to_owned()),
        Just("2030-02-30T00:00:00Z".to_owned()),
        Just("2030-01-01 10:00".to_owned()),
        Just("2030-13-01T00:00:00Z".to_owned()),
        "[a-z]{1,10}",
    ]
}

pub fn priority() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["low", "medium", "high"])
}

pub fn not_in(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,12}", Just("HIGH".to_owned()), Just(String::new())]
        .prop_filter("not an allowed value", move |v| {
            !values.contains(&v.as_str())
        })
}

/// Visible ASCII, as a header value can carry.
pub fn header_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[!-~]([ -~]{{0,{max}}}[!-~])?")).unwrap()
}

pub fn request_id() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        2 => "[A-Za-z0-9._-]{1,128}".prop_map(Some),
        1 => "[A-Za-z0-9._-]{129,160}".prop_map(Some),
        1 => "[A-Za-z0-9]{1,10}[ /+:@!~,;][A-Za-z0-9]{1,10}".prop_map(Some),
    ]
}

pub fn request_id_well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// Arbitrary JSON, biased towards objects with the API's field names.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text(0, 30).prop_map(Value::from),
        ".{0,300}".prop_map(Value::from),
        Just(json!("2030-01-01T00:00:00Z")),
        Just(json!("#A0B1C2")),
        Just(json!("a\u{0}b")),
    ];
    let keys = prop::sample::select(vec![
        "title",
        "description",
        "priority",
        "due_date",
        "is_completed",
        "tags",
        "name",
        "color",
        "email",
        "password",
        "refresh_token",
        "current_password",
        "new_password",
        "user_id",
        "id",
        "version",
        "extra",
    ]);
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// Sets `key` in a JSON object body.
pub fn with(body: Value, key: &str, value: Value) -> Value {
    let mut body = body;
    body.as_object_mut()
        .expect("an object body")
        .insert(key.to_owned(), value);
    body
}

pub fn without(body: Value, key: &str) -> Value {
    let mut body = body;
    body.as_object_mut().expect("an object body").remove(key);
    body
}

/// A valid `TodoInput` (`patch`: a valid `TodoPatch`), at times with `id`, `user_id` and
/// `version` fields, which the service never takes from a body.
pub fn todo_input(patch: bool) -> BoxedStrategy<Value> {
    let title: BoxedStrategy<Option<String>> = if patch {
        proptest::option::of(non_blank(255)).boxed()
    } else {
        non_blank(255).prop_map(Some).boxed()
    };
    (
        title,
        proptest::option::of(prop_oneof![
            text(0, 300).prop_map(Value::from),
            Just(Value::Null)
        ]),
        proptest::option::of(priority()),
        proptest::option::of(prop_oneof![due_date(), Just(Value::Null)]),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::collection::vec(non_blank(50), 0..4)),
        proptest::option::weighted(0.2, (any::<u128>(), 0i64..100)),
    )
        .prop_map(
            move |(title, description, priority, due, done, tags, ignored)| {
                let title = title.or((!patch).then(|| "untitled".to_owned()));
                let fields = [
                    ("title", title.map(Value::from)),
                    ("description", description),
                    ("priority", priority.map(Value::from)),
                    ("due_date", due),
                    ("is_completed", done.map(Value::from)),
                    ("tags", tags.map(|t| json!(t))),
                ];
                let mut b: Map<String, Value> = fields
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
                    .collect();
                if let Some((id, version)) = ignored {
                    // Never trusted: changes nothing.
                    b.insert("id".into(), json!(Uuid::from_u128(id)));
                    b.insert("user_id".into(), json!(Uuid::from_u128(!id)));
                    b.insert("version".into(), json!(version));
                }
                Value::Object(b)
            },
        )
        .boxed()
}
