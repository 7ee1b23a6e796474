//! Checks shared by every free-text field of a request.

use crate::error::{ApiError, ApiResult, ErrorCode};

/// At most `max` characters (VALIDATION_005) and no NUL character, which neither
/// database can store faithfully (VALIDATION_009).
pub fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_005,
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_009,
            field,
            format!("`{field}` must not contain NUL characters"),
        ));
    }
    Ok(())
}

/// [`check_text`], then trimmed; blank is VALIDATION_004.
pub fn required_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    check_text(field, value, max)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid(
            ErrorCode::VALIDATION_004,
            field,
            format!("`{field}` must not be blank"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: ApiResult<String>) -> ErrorCode {
        r.unwrap_err().code()
    }

    #[test]
    fn lengths_count_characters_and_nul_is_refused() {
        assert_eq!(required_text("t", " é ", 3).unwrap(), "é");
        assert_eq!(code(required_text("t", "ab", 1)), ErrorCode::VALIDATION_005);
        assert_eq!(code(required_text("t", "  ", 5)), ErrorCode::VALIDATION_004);
        assert_eq!(
            code(required_text("t", "a\0b", 5)),
            ErrorCode::VALIDATION_009
        );
        assert!(check_text("t", &"ж".repeat(10), 10).is_ok());
    }
}
