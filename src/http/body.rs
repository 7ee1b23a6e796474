//! Strict JSON request bodies with field-precise validation errors.
//!
//! poem-openapi's own object parser reports failures as free text without the field
//! name, and stringifies numbers given for string fields. Bodies are therefore
//! declared with `Object` (for the spec) and parsed with serde by [`JsonBody`] (strict
//! types, error paths), so every failure maps to a catalog code with `details.field`.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;
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
                content_type: "application/json; charset=utf-8",
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
            Some(ct) if is_json(ct) => serde_json::from_slice(&bytes).map_err(|_| {
                ApiError::invalid(
                    ErrorCode::VALIDATION_004,
                    "body",
                    "The body is not valid JSON",
                )
            })?,
            _ => return Err(ApiError::UnsupportedMediaType.into()),
        };
        // A body that is present must be an object, even where the body is optional.
        parse_body(value, !absent).map(JsonBody).map_err(Into::into)
    }
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
