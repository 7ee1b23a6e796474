//! Request strings deserialized strictly by serde and documented with their own schema.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromJSON, ParseResult, Type};
use serde_json::Value;

/// The schema of a [`SchemaString`].
pub trait StringSchema: Send + Sync + 'static {
    /// Unique name (used by poem-openapi to tell types apart).
    const NAME: &'static str;
    fn schema() -> MetaSchema;
}

/// `format: email`.
pub struct EmailFormat;
impl StringSchema for EmailFormat {
    const NAME: &'static str = "string_email";
    fn schema() -> MetaSchema {
        MetaSchema {
            max_length: Some(254),
            ..MetaSchema::new_with_format("string", "email")
        }
    }
}

/// `format: password` (Swagger UI masks it).
pub struct PasswordFormat;
impl StringSchema for PasswordFormat {
    const NAME: &'static str = "string_password";
    fn schema() -> MetaSchema {
        MetaSchema {
            max_length: Some(1024),
            ..MetaSchema::new_with_format("string", "password")
        }
    }
}

/// A tag name: 1 to 50 characters, not blank.
pub struct TagNameSchema;
impl StringSchema for TagNameSchema {
    const NAME: &'static str = "string_tag_name";
    fn schema() -> MetaSchema {
        MetaSchema {
            min_length: Some(1),
            max_length: Some(50),
            pattern: Some(r"^[^\u0000]*[^\s\u0000][^\u0000]*$".into()),
            ..MetaSchema::new("string")
        }
    }
}

/// A string deserialized strictly by serde, documented with the schema `S`. Its
/// `Debug` never shows the value, so passwords cannot leak through logs.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct SchemaString<S>(pub String, #[serde(skip)] std::marker::PhantomData<S>);

/// An email address in a request body.
pub type EmailString = SchemaString<EmailFormat>;
/// A password in a request body.
pub type PasswordString = SchemaString<PasswordFormat>;
/// A tag name in a request body.
pub type TagNameString = SchemaString<TagNameSchema>;

impl<S> SchemaString<S> {
    pub fn new(s: impl Into<String>) -> Self {
        SchemaString(s.into(), std::marker::PhantomData)
    }
}

impl<S> std::fmt::Debug for SchemaString<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaString(..)")
    }
}

impl<S: StringSchema> Type for SchemaString<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        S::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(S::schema()))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<S: StringSchema> ParseFromJSON for SchemaString<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(SchemaString::new(s)),
            other => Err(poem_openapi::types::ParseError::expected_type(
                other.unwrap_or_default(),
            )),
        }
    }
}

impl<S: StringSchema> poem_openapi::types::ToJSON for SchemaString<S> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}
