//! Tag bodies.

use poem_openapi::types::MaybeUndefined;
use poem_openapi::Object;
use serde::Deserialize;
use uuid::Uuid;

use crate::wire::{TagNameString, Timestamp};

use super::store::TagRecord;

/// A label of the user's, attachable to todos.
#[derive(Debug, Clone, Object)]
pub struct Tag {
    pub id: Uuid,
    pub name: String,
    /// `#RRGGBB`, or null when unset.
    #[oai(nullable)]
    pub color: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<TagRecord> for Tag {
    fn from(t: TagRecord) -> Self {
        Tag {
            id: t.id,
            name: t.name,
            color: t.color,
            created_at: t.created_at.into(),
            updated_at: t.updated_at.into(),
        }
    }
}

/// A new tag. Names are trimmed and unique per user, ignoring case.
#[derive(Debug, Deserialize, Object)]
pub struct NewTag {
    pub name: TagNameString,
    #[oai(nullable, validator(pattern = "^#[0-9A-Fa-f]{6}$"))]
    #[serde(default)]
    pub color: Option<String>,
}

/// Changes to a tag: absent fields stay; `color: null` clears the color.
#[derive(Debug, Deserialize, Object)]
pub struct TagPatch {
    #[serde(default)]
    pub name: MaybeUndefined<TagNameString>,
    #[oai(nullable, validator(pattern = "^#[0-9A-Fa-f]{6}$"))]
    #[serde(default)]
    pub color: MaybeUndefined<String>,
}

/// One page of tags, sorted by name.
#[derive(Debug, Clone, Object)]
pub struct TagPage {
    /// At most `limit` (so at most 100) items.
    #[oai(validator(max_items = 100))]
    pub items: Vec<Tag>,
    pub total: i64,
    pub skip: i64,
    pub limit: i64,
    pub has_more: bool,
}
