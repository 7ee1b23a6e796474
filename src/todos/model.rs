//! Todo bodies, list parameters and their enums.

use chrono::{DateTime, Utc};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object};
use serde::Deserialize;
use uuid::Uuid;

use crate::wire::Timestamp;

use super::store::TodoOrder;
use crate::tags::model::Tag;
use crate::wire::{DescriptionString, TagNameString, TagNames, TitleString};

/// How urgent a todo is; sorts low < medium < high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Enum, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    /// The stored rank (1..=3), which is also the sort order.
    pub fn rank(self) -> i32 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
        }
    }

    pub fn from_rank(rank: i32) -> Self {
        match rank {
            1 => Priority::Low,
            3 => Priority::High,
            _ => Priority::Medium,
        }
    }
}

/// Field a todo list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SortBy {
    CreatedAt,
    UpdatedAt,
    CompletedAt,
    Title,
    DueDate,
    Priority,
}

impl From<SortBy> for TodoOrder {
    fn from(s: SortBy) -> Self {
        match s {
            SortBy::CreatedAt => TodoOrder::CreatedAt,
            SortBy::UpdatedAt => TodoOrder::UpdatedAt,
            SortBy::CompletedAt => TodoOrder::CompletedAt,
            SortBy::Title => TodoOrder::Title,
            SortBy::DueDate => TodoOrder::DueDate,
            SortBy::Priority => TodoOrder::Priority,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// A todo of the authenticated user.
#[derive(Debug, Clone, Object)]
pub struct Todo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub is_completed: bool,
    pub priority: Priority,
    #[oai(nullable)]
    pub due_date: Option<Timestamp>,
    /// Sorted by name; at most 50.
    #[oai(validator(max_items = 50))]
    pub tags: Vec<Tag>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when the todo became completed; null while open.
    #[oai(nullable)]
    pub completed_at: Option<Timestamp>,
    /// Starts at 1, increments on every change; the ETag is `"<version>"`.
    pub version: i64,
}

/// A todo to create, or the full replacement of one (absent fields take their defaults).
#[derive(Debug, Deserialize, Object)]
#[oai(example)]
pub struct TodoInput {
    /// 1 to 255 characters; surrounding whitespace is trimmed.
    pub title: TitleString,
    #[oai(nullable)]
    #[serde(default)]
    pub description: Option<DescriptionString>,
    /// Defaults to `medium`.
    #[serde(default, deserialize_with = "crate::http::body::present")]
    pub priority: Option<Priority>,
    #[oai(nullable)]
    #[serde(default)]
    pub due_date: Option<DateTime<Utc>>,
    /// Defaults to false.
    #[serde(default, deserialize_with = "crate::http::body::present")]
    pub is_completed: Option<bool>,
    /// Tag names; unknown ones are created, duplicates (ignoring case) collapse.
    #[serde(default, deserialize_with = "crate::http::body::present")]
    pub tags: Option<TagNames>,
}

impl poem_openapi::types::Example for TodoInput {
    fn example() -> Self {
        TodoInput {
            title: TitleString::new("Buy milk"),
            description: Some(DescriptionString::new("Two litres, semi-skimmed")),
            priority: Some(Priority::High),
            due_date: None,
            is_completed: Some(false),
            tags: Some(TagNames(vec![TagNameString::new("errands")])),
        }
    }
}

/// A partial update: absent fields stay; `null` clears `description` and `due_date`.
#[derive(Debug, Deserialize, Object)]
pub struct TodoPatch {
    #[serde(default)]
    pub title: MaybeUndefined<TitleString>,
    #[oai(nullable)]
    #[serde(default)]
    pub description: MaybeUndefined<DescriptionString>,
    #[serde(default)]
    pub priority: MaybeUndefined<Priority>,
    #[oai(nullable)]
    #[serde(default)]
    pub due_date: MaybeUndefined<DateTime<Utc>>,
    #[serde(default)]
    pub is_completed: MaybeUndefined<bool>,
    /// Replaces the todo's tags when present.
    #[serde(default)]
    pub tags: MaybeUndefined<TagNames>,
}

/// One page of todos.
#[derive(Debug, Clone, Object)]
pub struct TodoPage {
    /// At most `limit` (so at most 100) items.
    #[oai(validator(max_items = 100))]
    pub items: Vec<Todo>,
    /// Todos matching the filters, over all pages.
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
    pub has_more: bool,
}

/// A parsed `If-Match` or `If-None-Match` header: `*` or a list of entity tags of this
/// API's form (`"<version>"`, optionally weak: `W/"<version>"`), the grammar of
/// [`crate::wire::IF_MATCH_PATTERN`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityTags {
    /// `*`: any current version.
    Any,
    /// The listed tags: `(version, weak)`.
    Tags(Vec<(i64, bool)>),
}

/// The `If-Match` precondition of a write.
pub type IfMatch = EntityTags;

impl EntityTags {
    /// Parses the header value; `None` when it is not of the documented form.
    pub fn parse(header: &str) -> Option<Self> {
        let header = header.trim_matches([' ', '\t']);
        if header == "*" {
            return Some(EntityTags::Any);
        }
        let tags = header
            .split(',')
            .map(|tag| {
                let tag = tag.trim_matches([' ', '\t']);
                let (weak, tag) = match tag.strip_prefix("W/") {
                    Some(rest) => (true, rest),
                    None => (false, tag),
                };
                let digits = tag.strip_prefix('"')?.strip_suffix('"')?;
                let ok =
                    (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
                Some((digits.parse().ok().filter(|_| ok)?, weak))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(EntityTags::Tags(tags))
    }

    /// Whether the todo at `version` satisfies `If-Match`: strong comparison, so weak
    /// tags match nothing (RFC 9110 §13.1.1).
    pub fn matches(&self, version: i64) -> bool {
        match self {
            EntityTags::Any => true,
            EntityTags::Tags(t) => t.contains(&(version, false)),
        }
    }

    /// Whether `If-None-Match` with these tags fails for the todo at `version` (the
    /// client's copy is current): weak comparison (RFC 9110 §13.1.2).
    pub fn matches_weakly(&self, version: i64) -> bool {
        match self {
            EntityTags::Any => true,
            EntityTags::Tags(t) => t.iter().any(|(v, _)| *v == version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_parsing() {
        let parse = |s: &str| IfMatch::parse(s);
        assert_eq!(parse("*"), Some(IfMatch::Any));
        assert_eq!(parse(r#""3""#), Some(IfMatch::Tags(vec![(3, false)])));
        let both = parse(r#"W/"3" ,	"5""#).unwrap();
        assert_eq!(both, IfMatch::Tags(vec![(3, true), (5, false)]));
        assert!(!both.matches(3) && both.matches(5) && both.matches_weakly(3));
        for bad in [
            "",
            "3",
            "\"\"",
            "\"a\"",
            "\"1\",",
            "W/3",
            "\"1234567890123456789\"",
            "*, \"1\"",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    /// The hand-written parser and the documented pattern agree.
    #[test]
    fn if_match_parser_follows_the_pattern() {
        let re = regex::Regex::new(crate::wire::IF_MATCH_PATTERN).unwrap();
        for s in [
            "*",
            "\"1\"",
            "W/\"1\"",
            "\"1\", W/\"22\"",
            "\"1\" ,\t\"2\"",
            "",
            "\"\"",
            "W/\"x\"",
            "\"1\",,\"2\"",
            "**",
            "\"123456789012345678\"",
            "\"1234567890123456789\"",
        ] {
            assert_eq!(re.is_match(s), IfMatch::parse(s).is_some(), "{s:?}");
        }
    }
}
