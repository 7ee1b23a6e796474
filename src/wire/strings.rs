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

/// Longest email address, in characters (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest display name, in characters.
pub const MAX_NAME: usize = 100;
/// Shortest and longest new password, in characters.
pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;
/// Longest password accepted where one is checked, not set (login, current password).
pub const MAX_PASSWORD_INPUT: usize = 1024;
/// Longest todo title and description, in characters.
pub const MAX_TITLE: usize = 255;
pub const MAX_DESCRIPTION: usize = 10_000;
/// Longest search text (`q`), in characters.
pub const MAX_SEARCH: usize = 255;
/// Longest tag name, in characters.
pub const MAX_TAG_NAME: usize = 50;
/// Most tag names on one todo.
pub const MAX_TAGS: usize = 50;

/// No NUL character (neither database stores one faithfully).
pub const NO_NUL: &str = r"^[^\u0000]*$";
/// Not blank and no NUL character.
pub const NOT_BLANK: &str = r"^[^\u0000]*[^\s\u0000][^\u0000]*$";

/// Declares a [`StringSchema`] marker: `name`, optional `format`, length bounds, pattern.
macro_rules! string_schema {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $format:expr, $min:expr, $max:expr, $pattern:expr) => {
        $(#[$doc])*
        pub struct $ty;
        impl StringSchema for $ty {
            const NAME: &'static str = $name;
            fn schema() -> MetaSchema {
                let format: Option<&'static str> = $format;
                let min: Option<usize> = $min;
                let pattern: Option<&str> = $pattern;
                MetaSchema {
                    min_length: min,
                    max_length: Some($max),
                    pattern: pattern.map(Into::into),
                    ..match format {
                        Some(f) => MetaSchema::new_with_format("string", f),
                        None => MetaSchema::new("string"),
                    }
                }
            }
        }
    };
}

string_schema!(
    /// `format: email`, at most [`MAX_EMAIL`] characters.
    EmailFormat, "string_email", Some("email"), None, MAX_EMAIL, None
);
string_schema!(
    /// `format: password` (Swagger UI masks it): a password being checked.
    PasswordFormat, "string_password", Some("password"), None, MAX_PASSWORD_INPUT, None
);
/// A password being set: [`MIN_PASSWORD`] to [`MAX_PASSWORD`] characters matching
/// [`password_policy`], so that a schema-valid password is a strong one.
pub struct NewPasswordFormat;
impl StringSchema for NewPasswordFormat {
    const NAME: &'static str = "string_new_password";
    fn schema() -> MetaSchema {
        MetaSchema {
            min_length: Some(MIN_PASSWORD),
            max_length: Some(MAX_PASSWORD),
            pattern: Some(password_policy().to_owned()),
            ..MetaSchema::new_with_format("string", "password")
        }
    }
}

/// The character classes a new password needs one of each: an ASCII upper-case
/// letter, an ASCII lower-case letter, a digit, and anything else (a special character).
pub const PASSWORD_CLASSES: [&str; 4] = ["[A-Z]", "[a-z]", "[0-9]", "[^A-Za-z0-9]"];

/// The password policy as one regular expression that ECMAScript, Python's `re` and
/// Rust's `regex` all read alike (no look-ahead): the four [`PASSWORD_CLASSES`] in some
/// order, anything between them. Unanchored, as JSON Schema's `pattern` is.
pub fn password_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut orders = Vec::new();
        permutations(&mut PASSWORD_CLASSES.to_vec(), 0, &mut orders);
        orders.join("|")
    });
    &POLICY
}

/// Appends every ordering of `classes[k..]` (after `classes[..k]`), joined by "anything".
fn permutations(classes: &mut Vec<&'static str>, k: usize, out: &mut Vec<String>) {
    if k == classes.len() {
        out.push(classes.join(r"[\s\S]*"));
        return;
    }
    for i in k..classes.len() {
        classes.swap(k, i);
        permutations(classes, k + 1, out);
        classes.swap(k, i);
    }
}

/// Longest `If-Match` header value read, in characters.
pub const MAX_IF_MATCH: usize = 1024;
/// An `If-Match` / `If-None-Match` value: `*`, or a list of this API's entity tags
/// (`"<version>"` with at most 18 digits, so that every one fits the version's `i64`;
/// weak ones as `W/"<version>"`), separated by commas.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]{1,18}"([ \t]*,[ \t]*(W/)?"[0-9]{1,18}")*)$"#;
/// Longest token accepted in a body (`refresh_token`): far above the service's own.
pub const MAX_TOKEN: usize = 4096;
/// Longest OAuth2 `scope` read (it is ignored).
pub const MAX_SCOPE: usize = 1024;

string_schema!(
    /// The `If-Match` header: [`IF_MATCH_PATTERN`], at most [`MAX_IF_MATCH`] characters.
    IfMatchSchema, "string_if_match", None, Some(1), MAX_IF_MATCH, Some(IF_MATCH_PATTERN)
);
/// The OAuth2 `grant_type`: the enum `[password]` (the service names the field when
/// it is anything else, VALIDATION_006).
pub struct GrantTypeSchema;
impl StringSchema for GrantTypeSchema {
    const NAME: &'static str = "string_grant_type";
    fn schema() -> MetaSchema {
        MetaSchema {
            enum_items: vec![Value::String("password".into())],
            ..MetaSchema::new("string")
        }
    }
}

string_schema!(
    /// A refresh token in a request body: 1 to [`MAX_TOKEN`] characters.
    TokenSchema, "string_token", None, Some(1), MAX_TOKEN, None
);
string_schema!(
    /// A refresh token to end with a logout: at most [`MAX_TOKEN`] characters (an empty
    /// or unknown one is ignored, so there is no lower bound).
    LogoutTokenSchema, "string_logout_token", None, None, MAX_TOKEN, None
);
string_schema!(
    /// The OAuth2 `username` (an email address, checked as credentials).
    UsernameSchema, "string_username", None, None, MAX_EMAIL, None
);
string_schema!(
    /// The OAuth2 `scope` (ignored): at most [`MAX_SCOPE`] characters.
    ScopeSchema, "string_scope", None, None, MAX_SCOPE, None
);
string_schema!(
    /// A display name: at most [`MAX_NAME`] characters, no NUL.
    NameSchema, "string_name", None, None, MAX_NAME, Some(NO_NUL)
);
string_schema!(
    /// An account's email address as the API returns it.
    UserEmailSchema, "string_user_email", None, None, MAX_EMAIL, None
);
string_schema!(
    /// An account's display name as the API returns it.
    UserNameSchema, "string_user_name", None, None, MAX_NAME, None
);
string_schema!(
    /// A todo title: 1 to [`MAX_TITLE`] characters, not blank.
    TitleSchema, "string_title", None, Some(1), MAX_TITLE, Some(NOT_BLANK)
);
string_schema!(
    /// A todo description: at most [`MAX_DESCRIPTION`] characters, no NUL.
    DescriptionSchema, "string_description", None, None, MAX_DESCRIPTION, Some(NO_NUL)
);
string_schema!(
    /// The `q` filter: at most [`MAX_SEARCH`] characters, no NUL.
    SearchSchema, "string_search", None, None, MAX_SEARCH, Some(NO_NUL)
);
string_schema!(
    /// The `tag` filter: at most [`MAX_TAG_NAME`] characters, no NUL.
    TagFilterSchema, "string_tag_filter", None, None, MAX_TAG_NAME, Some(NO_NUL)
);
string_schema!(
    /// A tag name: 1 to [`MAX_TAG_NAME`] characters, not blank.
    TagNameSchema, "string_tag_name", None, Some(1), MAX_TAG_NAME, Some(NOT_BLANK)
);

/// A string deserialized strictly by serde, documented with the schema `S`. Its
/// `Debug` never shows the value, so passwords cannot leak through logs.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct SchemaString<S>(pub String, #[serde(skip)] std::marker::PhantomData<S>);

/// An email address in a request body.
pub type EmailString = SchemaString<EmailFormat>;
/// A password to check, in a request body.
pub type PasswordString = SchemaString<PasswordFormat>;
/// A password to set, in a request body.
pub type NewPasswordString = SchemaString<NewPasswordFormat>;
/// The `If-Match` header.
pub type IfMatchString = SchemaString<IfMatchSchema>;
/// The OAuth2 `grant_type`.
pub type GrantTypeString = SchemaString<GrantTypeSchema>;
/// A refresh token in a request body.
pub type TokenString = SchemaString<TokenSchema>;
/// The refresh token of a logout.
pub type LogoutTokenString = SchemaString<LogoutTokenSchema>;
/// The OAuth2 `username`.
pub type UsernameString = SchemaString<UsernameSchema>;
/// The OAuth2 `scope`.
pub type ScopeString = SchemaString<ScopeSchema>;
/// A display name in a request body.
pub type NameString = SchemaString<NameSchema>;
/// An account's email address in a response.
pub type UserEmail = SchemaString<UserEmailSchema>;
/// An account's display name in a response.
pub type UserName = SchemaString<UserNameSchema>;
/// A todo title in a request body.
pub type TitleString = SchemaString<TitleSchema>;
/// A todo description in a request body.
pub type DescriptionString = SchemaString<DescriptionSchema>;
/// The `q` query parameter.
pub type Search = SchemaString<SearchSchema>;
/// The `tag` query parameter.
pub type TagFilter = SchemaString<TagFilterSchema>;
/// A tag name in a request body.
pub type TagNameString = SchemaString<TagNameSchema>;

impl<S> SchemaString<S> {
    pub fn new(s: impl Into<String>) -> Self {
        SchemaString(s.into(), std::marker::PhantomData)
    }
}

impl<S> Clone for SchemaString<S> {
    fn clone(&self) -> Self {
        SchemaString::new(self.0.clone())
    }
}

impl<S> std::ops::Deref for SchemaString<S> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
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
