//! Typed query parameters and lists whose schema comes from the same constants the
//! services check them with (the paging bounds, the search and tag filter lengths,
//! the number of tags on a todo).

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use super::strings::{SchemaString, StringSchema, TagNameString, MAX_TAGS};

impl<S: StringSchema> ParseFromParameter for SchemaString<S> {
    /// Any text: its length and characters are the service's to check, so that the
    /// error names the parameter and the limit.
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(SchemaString::new(value))
    }
}

/// The range of an [`IntParam`].
pub trait IntRange: Send + Sync + 'static {
    const NAME: &'static str;
    const MIN: i64;
    const MAX: Option<i64>;
}

/// An `int64` query parameter documented with its range; the range itself is checked
/// by the service (VALIDATION_009 naming the parameter and the range).
pub struct IntParam<R>(pub i64, PhantomData<R>);

impl<R: IntRange> Type for IntParam<R> {
    const IS_REQUIRED: bool = true;
    type RawValueType = i64;
    type RawElementValueType = i64;

    fn name() -> Cow<'static, str> {
        R::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(R::MIN as f64),
            maximum: R::MAX.map(|m| m as f64),
            ..MetaSchema::new_with_format("integer", "int64")
        }))
    }

    fn as_raw_value(&self) -> Option<&i64> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a i64> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<R: IntRange> ParseFromParameter for IntParam<R> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value
            .parse()
            .map(|n| IntParam(n, PhantomData))
            .map_err(|_| ParseError::custom("not an integer"))
    }
}

/// `skip`: 0 or more.
pub struct SkipRange;
impl IntRange for SkipRange {
    const NAME: &'static str = "integer_skip";
    const MIN: i64 = 0;
    const MAX: Option<i64> = None;
}

/// `limit`: 1 to [`crate::paging`]'s maximum.
pub struct LimitRange;
impl IntRange for LimitRange {
    const NAME: &'static str = "integer_limit";
    const MIN: i64 = 1;
    const MAX: Option<i64> = Some(MAX_LIMIT);
}

/// Largest page size (`limit`).
pub const MAX_LIMIT: i64 = 100;

/// The `skip` query parameter.
pub type Skip = IntParam<SkipRange>;
/// The `limit` query parameter.
pub type Limit = IntParam<LimitRange>;

/// The tag names of a todo: at most [`MAX_TAGS`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct TagNames(pub Vec<TagNameString>);

impl Type for TagNames {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = <TagNameString as Type>::RawValueType;

    fn name() -> Cow<'static, str> {
        "[string_tag_name]".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            items: Some(Box::new(TagNameString::schema_ref())),
            max_items: Some(MAX_TAGS),
            ..MetaSchema::new("array")
        }))
    }

    fn register(registry: &mut Registry) {
        TagNameString::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.0.iter().filter_map(|t| t.as_raw_value()))
    }
}

impl ParseFromJSON for TagNames {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Vec::<TagNameString>::parse_from_json(value)
            .map(TagNames)
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for TagNames {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}
