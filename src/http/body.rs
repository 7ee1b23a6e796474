//! Strict JSON request bodies with field-precise validation errors.
//!
//! poem-openapi's own object parser reports failures as free text without the field
//! name, and stringifies numbers given for string fields. Bodies are therefore
//! declared with `Object` (for the spec) and parsed with serde by [`JsonBody`] (strict
//! types, error paths), so every failure maps to a catalog code with `details.field`.
//! The JSON text itself is read by [`parse_json`], which also refuses repeated keys.

use std::fmt;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};

/// A JSON request body parsed strictly with serde. Extraction fails with the catalog
/// error (VALIDATION_004/006/009 naming the field, or 415 for another content type).
/// When `T` is an `Option`, an absent body (no `Content-Type`, no bytes) is `None`.
pub struct JsonBody<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<'a, T: Type + DeserializeOwned> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: T::IS_REQUIRED,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes().await.map_err(|_| {
            ApiError::invalid(
                ErrorCode::VALIDATION_004,
                "body",
                "The body could not be read",
            )
        })?;
        let absent = bytes.is_empty() && !T::IS_REQUIRED;
        let value = match request.content_type() {
            _ if absent => Value::Null,
            Some(ct) if is_json(ct) => parse_json(&bytes)?,
            _ => return Err(ApiError::UnsupportedMediaType.into()),
        };
        // A body that is present must be an object, even where the body is optional.
        parse_body(value, !absent).map(JsonBody).map_err(Into::into)
    }
}

/// A JSON value whose objects have no repeated key, at any depth. serde_json keeps
/// the last of repeated keys; a body like `{"password":"x","password":"y"}` is
/// refused instead, so no two readers of one body can see different values.
struct UniqueKeys(Value);

/// The message of a repeated key; [`parse_json`] reads the key back from it.
const DUPLICATE: &str = "duplicate key `";

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}`")));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses a JSON body: VALIDATION_004 on `body` when it is not JSON, or naming the
/// path of a key repeated in one object (`password`, `extra.a`, `tags[1].name`).
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let not_json = || {
        ApiError::invalid(
            ErrorCode::VALIDATION_004,
            "body",
            "The body is not valid JSON",
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let e = match serde_path_to_error::deserialize::<_, UniqueKeys>(&mut de) {
        Ok(UniqueKeys(value)) => return de.end().map(|()| value).map_err(|_| not_json()),
        Err(e) => e,
    };
    let message = e.inner().to_string();
    // serde_json appends the position: "duplicate key `k` at line 1 column 9".
    let Some(key) = message.strip_prefix(DUPLICATE).and_then(|rest| {
        rest.rsplit_once("` at line ")
            .map(|(key, _)| key)
            .or_else(|| rest.strip_suffix('`'))
    }) else {
        return Err(not_json());
    };
    let field = match e.path().to_string().as_str() {
        "." => key.to_owned(),
        parent => format!("{parent}.{key}"),
    };
    let message = format!("`{field}` appears more than once");
    Err(ApiError::invalid(ErrorCode::VALIDATION_004, field, message))
}

/// Deserializes a body that must be a JSON object (or absent, when not `required`).
pub fn parse_body<T: DeserializeOwned>(value: Value, required: bool) -> Result<T, ApiError> {
    match &value {
        Value::Object(_) => {}
        Value::Null if !required => {}
        _ => {
            return Err(ApiError::invalid(
                ErrorCode::VALIDATION_004,
                "body",
                "The body must be a JSON object",
            ))
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| serde_error(e.path().to_string(), &e.into_inner().to_string()))
}

/// For optional fields that may be absent but not `null` (their schema is not nullable).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Maps a serde message about `field` (a path, `.` for the root) to a catalog error.
pub fn serde_error(field: String, message: &str) -> ApiError {
    if let Some(missing) = between(message, "missing field `", "`") {
        let field = if field == "." {
            missing.to_owned()
        } else {
            format!("{field}.{missing}")
        };
        let msg = format!("`{field}` is required");
        return ApiError::invalid(ErrorCode::VALIDATION_004, field, msg);
    }
    let field = if field == "." {
        "body".to_owned()
    } else {
        field
    };
    if message.starts_with("invalid type") || message.starts_with("invalid length") {
        let expected = message
            .split(", expected ")
            .nth(1)
            .unwrap_or("another type");
        let msg = format!("`{field}` has the wrong type: expected {expected}");
        ApiError::invalid(ErrorCode::VALIDATION_004, field, msg)
    } else if message.starts_with("unknown variant") {
        let expected = message
            .split(", expected ")
            .nth(1)
            .unwrap_or("a documented value");
        let msg = format!("`{field}` must be {expected}");
        ApiError::invalid(ErrorCode::VALIDATION_006, field, msg)
    } else {
        let msg = format!("`{field}` has an invalid value");
        ApiError::invalid(ErrorCode::VALIDATION_009, field, msg)
    }
}

/// The text between `start` and the next `end` in `s`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, poem_openapi::Object)]
    struct Sample {
        title: String,
        #[serde(default)]
        n: Option<u32>,
    }

    fn parse(v: Value) -> Result<Sample, ApiError> {
        parse_body(v, true)
    }

    fn code_and_field(e: ApiError) -> (ErrorCode, String) {
        match e {
            ApiError::Validation { code, field, .. } => (code, field),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn json_field(text: &str) -> Option<(ErrorCode, String)> {
        parse_json(text.as_bytes()).err().map(code_and_field)
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        let dup = |f: &str| Some((ErrorCode::VALIDATION_004, f.to_owned()));
        assert_eq!(
            json_field(r#"{"password":"x","password":"y"}"#),
            dup("password")
        );
        assert_eq!(json_field(r#"{"a":{"b":1,"b":2}}"#), dup("a.b"));
        assert_eq!(
            json_field(r#"{"a":[1,{"b":[{"c":0,"c":0}]}]}"#),
            dup("a[1].b[0].c")
        );
        assert_eq!(json_field(r#"{"a`b":1,"a`b":2}"#), dup("a`b"));
        assert_eq!(
            json_field(r#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#),
            None
        );
        let body = dup("body");
        for bad in ["", "{", "{\"a\":1,}", "[1] 2", "nul"] {
            assert_eq!(json_field(bad), body, "{bad}");
        }
        let value =
            parse_json(br#"{"n":-1,"u":18446744073709551615,"f":1.5,"s":"x","z":null,"t":[true]}"#);
        assert_eq!(
            value.unwrap(),
            serde_json::json!({"n":-1,"u":18446744073709551615u64,"f":1.5,"s":"x","z":null,"t":[true]})
        );
    }

    #[test]
    fn missing_and_wrong_types_name_the_field() {
        let (c, f) = code_and_field(parse(serde_json::json!({})).unwrap_err());
        assert_eq!((c, f.as_str()), (ErrorCode::VALIDATION_004, "title"));
        let (c, f) = code_and_field(parse(serde_json::json!({"title": 5})).unwrap_err());
        assert_eq!((c, f.as_str()), (ErrorCode::VALIDATION_004, "title"));
        let (c, f) = code_and_field(parse(serde_json::json!([1])).unwrap_err());
        assert_eq!((c, f.as_str()), (ErrorCode::VALIDATION_004, "body"));
        let (c, f) = code_and_field(parse(serde_json::json!({"title": "x", "n": -1})).unwrap_err());
        assert_eq!((c, f.as_str()), (ErrorCode::VALIDATION_009, "n"));
        assert_eq!(parse(serde_json::json!({"title": "x"})).unwrap().title, "x");
    }
}
