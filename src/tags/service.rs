//! The rules of tags: per-user names (unique ignoring case), colors, ownership.

use std::sync::Arc;

use poem_openapi::types::MaybeUndefined;
use uuid::Uuid;

use super::model::{NewTag, Tag, TagPage, TagPatch};
use super::store::{TagName, TagRecord, TagStore};
use crate::db::{now, StoreError};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::text::required_text;
use crate::wire::MAX_TAG_NAME;

/// Trims and checks a tag name given in `field`; returns it with its lower-cased key.
pub fn tag_name(field: &str, raw: &str) -> ApiResult<TagName> {
    let name = required_text(field, raw, MAX_TAG_NAME)?;
    Ok(TagName {
        key: name.to_lowercase(),
        name,
    })
}

/// Checks a `#RRGGBB` color (VALIDATION_009).
fn color(raw: String) -> ApiResult<String> {
    let ok =
        raw.len() == 7 && raw.starts_with('#') && raw[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(raw)
    } else {
        Err(ApiError::invalid(
            ErrorCode::VALIDATION_009,
            "color",
            "`color` must look like #RRGGBB",
        ))
    }
}

/// Tag rules over the store.
pub struct TagService {
    store: Arc<dyn TagStore>,
}

impl TagService {
    pub fn new(store: Arc<dyn TagStore>) -> Self {
        TagService { store }
    }

    /// Creates a tag (CONFLICT_001 when the user already has that name).
    pub async fn create(&self, user_id: Uuid, input: NewTag) -> ApiResult<Tag> {
        let name = tag_name("name", &input.name)?;
        let color = input.color.map(color).transpose()?;
        let at = now();
        let tag = TagRecord {
            id: Uuid::now_v7(),
            user_id,
            name: name.name,
            color,
            created_at: at,
            updated_at: at,
        };
        match self.store.insert_tag(&tag, &name.key).await {
            Ok(()) => Ok(tag.into()),
            Err(StoreError::UniqueViolation) => Err(ApiError::TagNameConflict),
            Err(e) => Err(e.into()),
        }
    }

    /// The tag `id` if the user owns it (404 RESOURCE_002 / 403 AUTHZ_001).
    async fn owned(&self, user_id: Uuid, id: Uuid) -> ApiResult<TagRecord> {
        match self.store.tag_by_id(id).await? {
            None => Err(ApiError::TagNotFound),
            Some(t) if t.user_id != user_id => Err(ApiError::Forbidden),
            Some(t) => Ok(t),
        }
    }

    pub async fn get(&self, user_id: Uuid, id: Uuid) -> ApiResult<Tag> {
        Ok(self.owned(user_id, id).await?.into())
    }

    pub async fn list(&self, user_id: Uuid, skip: i64, limit: i64) -> ApiResult<TagPage> {
        let (rows, total) = self.store.list_tags(user_id, skip, limit).await?;
        let has_more = skip + (rows.len() as i64) < total;
        Ok(TagPage {
            items: rows.into_iter().map(Tag::from).collect(),
            total,
            skip,
            limit,
            has_more,
        })
    }

    /// Renames and/or recolors a tag; `color: null` clears it.
    pub async fn update(&self, user_id: Uuid, id: Uuid, patch: TagPatch) -> ApiResult<Tag> {
        let mut tag = self.owned(user_id, id).await?;
        let mut key = tag.name.to_lowercase();
        match patch.name {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                return Err(ApiError::invalid(
                    ErrorCode::VALIDATION_004,
                    "name",
                    "`name` cannot be null",
                ))
            }
            MaybeUndefined::Value(raw) => {
                let name = tag_name("name", &raw)?;
                tag.name = name.name;
                key = name.key;
            }
        }
        match patch.color {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => tag.color = None,
            MaybeUndefined::Value(c) => tag.color = Some(color(c)?),
        }
        tag.updated_at = now();
        match self.store.update_tag(&tag, &key).await {
            Ok(()) => Ok(tag.into()),
            Err(StoreError::UniqueViolation) => Err(ApiError::TagNameConflict),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a tag; it disappears from the user's todos (their versions stay).
    pub async fn delete(&self, user_id: Uuid, id: Uuid) -> ApiResult<()> {
        self.owned(user_id, id).await?;
        if self.store.delete_tag(id, user_id).await? {
            Ok(())
        } else {
            Err(ApiError::TagNotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_colors() {
        let n = tag_name("name", "  Work  ").unwrap();
        assert_eq!((n.name.as_str(), n.key.as_str()), ("Work", "work"));
        assert!(matches!(
            tag_name("name", "   "),
            Err(ApiError::Validation {
                code: ErrorCode::VALIDATION_004,
                ..
            })
        ));
        assert!(matches!(
            tag_name("name", &"x".repeat(51)),
            Err(ApiError::Validation {
                code: ErrorCode::VALIDATION_005,
                ..
            })
        ));
        assert_eq!(
            tag_name("name", &"é".repeat(50))
                .unwrap()
                .name
                .chars()
                .count(),
            50
        );
        assert!(color("#a1B2c3".into()).is_ok());
        for bad in ["a1b2c3", "#a1b2c", "#a1b2cg", "#ééé"] {
            assert!(color(bad.into()).is_err(), "{bad}");
        }
    }
}
