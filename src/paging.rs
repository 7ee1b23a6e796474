//! Paging shared by every list (todos, tags): `skip` and `limit` rules.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::wire::MAX_LIMIT;

/// `limit` when the request gives none.
pub const DEFAULT_LIMIT: i64 = 20;

/// Checks `skip` (≥ 0) and `limit` (1..=[`MAX_LIMIT`], default [`DEFAULT_LIMIT`])
/// (VALIDATION_009).
pub fn page(skip: Option<i64>, limit: Option<i64>) -> ApiResult<(i64, i64)> {
    let skip = skip.unwrap_or(0);
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if skip < 0 {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_009,
            "skip",
            "`skip` must be 0 or more",
        ));
    }
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_009,
            "limit",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((skip, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_bounds() {
        assert_eq!(page(None, None).unwrap(), (0, 20));
        assert_eq!(page(Some(5), Some(100)).unwrap(), (5, 100));
        assert!(page(Some(-1), None).is_err());
        assert!(page(None, Some(0)).is_err());
        assert!(page(None, Some(101)).is_err());
    }
}
