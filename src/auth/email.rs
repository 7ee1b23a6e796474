//! Canonical email addresses: one account per address, however it is spelled.
//!
//! The mapping follows RFC 8265's UsernameCaseMapped profile: fullwidth and halfwidth
//! forms become their plain forms, the text is lower-cased and put in NFC. The domain
//! then takes its IDNA ASCII form (UTS #46 with the STD3 and DNS-length rules), so
//! `exämple.com` and `xn--exmple-cua.com` are one domain. Addresses with characters
//! that are invisible or make look-alikes (control and format characters such as
//! zero-width characters, bidi controls, the soft hyphen and the BOM; other default
//! ignorable characters; unassigned and private-use code points) are refused.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::{ApiError, ErrorCode};
use crate::wire::MAX_EMAIL;

/// An email address in canonical form: what is stored, compared and put in tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why an address is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    /// Not `local@domain` with a valid DNS domain, or white space inside.
    Malformed,
    /// A control, format or other invisible character.
    Invisible,
    /// Longer than [`MAX_EMAIL`] characters once canonical.
    TooLong,
}

/// Default-ignorable code points outside the format (Cf) and unassigned categories:
/// invisible, so they make look-alikes (combining grapheme joiner, Hangul fillers,
/// Khmer inherent vowels, Mongolian and other variation selectors).
const IGNORABLE: &[(char, char)] = &[
    ('\u{034F}', '\u{034F}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{E0100}', '\u{E01EF}'),
];

/// Whether `c` is refused anywhere in an address.
fn is_invisible(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Other
        || IGNORABLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// RFC 8265's width mapping: a fullwidth or halfwidth form becomes its plain form
/// (their compatibility decomposition is exactly that mapping).
fn push_width_mapped(out: &mut String, c: char) {
    if ('\u{FF01}'..='\u{FFEE}').contains(&c) {
        out.extend(std::iter::once(c).nfkc());
    } else {
        out.push(c);
    }
}

impl Email {
    /// Canonicalizes `raw` (surrounding white space is ignored).
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let raw = raw.trim();
        if raw.chars().any(is_invisible) {
            return Err(EmailError::Invisible);
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(EmailError::Malformed);
        }
        let mut mapped = String::with_capacity(raw.len());
        raw.chars().for_each(|c| push_width_mapped(&mut mapped, c));
        let mapped: String = mapped.to_lowercase().nfc().collect();
        let (local, domain) = mapped.rsplit_once('@').ok_or(EmailError::Malformed)?;
        if local.is_empty() || local.contains('@') {
            return Err(EmailError::Malformed);
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| EmailError::Malformed)?;
        let labels_ok = domain.contains('.') && domain.split('.').all(|l| !l.is_empty());
        if !labels_ok {
            return Err(EmailError::Malformed);
        }
        let email = format!("{local}@{domain}");
        if email.chars().count() > MAX_EMAIL {
            return Err(EmailError::TooLong);
        }
        Ok(Email(email))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<EmailError> for ApiError {
    fn from(e: EmailError) -> Self {
        let message = match e {
            EmailError::Malformed => "Not a valid email address",
            EmailError::Invisible => {
                "The email address contains invisible, control or format characters"
            }
            EmailError::TooLong => "The email address is too long",
        };
        ApiError::invalid(ErrorCode::VALIDATION_001, "email", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> String {
        Email::parse(raw)
            .unwrap_or_else(|e| panic!("{raw:?}: {e:?}"))
            .into_string()
    }

    #[test]
    fn spellings_of_one_address_have_one_canonical_form() {
        let forms = [
            "josé@xn--exmple-cua.com",
            "José@Exämple.com",
            "JOSÉ@EXÄMPLE.COM",
            "jose\u{301}@exa\u{308}mple.com",
            "ｊｏｓé@ｅｘäｍｐｌｅ．ｃｏｍ",
            "  josé@XN--EXMPLE-CUA.com\t",
        ];
        for raw in forms {
            assert_eq!(canonical(raw), "josé@xn--exmple-cua.com", "{raw:?}");
        }
        assert_eq!(
            canonical("Ada.Lovelace+x@Example.CO.UK"),
            "ada.lovelace+x@example.co.uk"
        );
        // Halfwidth katakana become their plain (fullwidth) forms, voiced marks composed.
        assert_eq!(canonical("ｶﾞ@example.com"), "ガ@example.com");
        // Fullwidth symbols map too; the ASCII result is kept as it is.
        assert_eq!(canonical("a＋b@example.com"), "a+b@example.com");
        // IDN domains in other scripts.
        assert_eq!(canonical("user@пример.рф"), "user@xn--e1afmkfd.xn--p1ai");
    }

    #[test]
    fn invisible_characters_are_refused() {
        for c in [
            '\u{0000}',
            '\u{0007}',
            '\u{007F}',
            '\u{0085}',
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{034F}',
            '\u{FE0F}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{E0001}',
            '\u{E0100}',
            '\u{E000}',
            '\u{0378}',
        ] {
            for raw in [format!("a{c}b@example.com"), format!("ab@exa{c}mple.com")] {
                assert_eq!(Email::parse(&raw), Err(EmailError::Invisible), "{c:?}");
            }
        }
        assert_eq!(
            Email::parse("\u{FEFF}ab@example.com"),
            Err(EmailError::Invisible),
            "not trimmed away"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for raw in [
            "",
            "plain",
            "a@b",
            "@example.com",
            "a@",
            "a b@example.com",
            "a\u{3000}b@example.com",
            "a@example..com",
            "a@.example.com",
            "a@example.com.",
            "a@@example.com",
            "a@exa_mple.com",
            "a@-example.com",
            "a@[127.0.0.1]",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Malformed), "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL - 11));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        assert!(Email::parse(&long[1..]).is_ok());
    }

    #[test]
    fn refusals_are_validation_001_on_email() {
        for e in [
            EmailError::Malformed,
            EmailError::Invisible,
            EmailError::TooLong,
        ] {
            match ApiError::from(e) {
                ApiError::Validation { code, field, .. } => {
                    assert_eq!((code, field.as_str()), (ErrorCode::VALIDATION_001, "email"))
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
