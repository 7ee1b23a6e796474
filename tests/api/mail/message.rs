//! Messages as the SMTP sink received them, and what the tests read from them: the
//! headers, the plain-text part (quoted-printable or base64 decoded) and link tokens.

/// One message: its envelope and its data (headers and body, CRLF line ends).
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

impl Received {
    pub fn is_to(&self, address: &str) -> bool {
        self.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(address))
    }

    /// The value of the first header `name` of the message itself.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let prefix = format!("{}:", name.to_ascii_lowercase());
        head.split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    /// The decoded body of the part whose `Content-Type` starts with `content_type`.
    pub fn part(&self, content_type: &str) -> String {
        for part in self.data.split("\r\n--") {
            let Some((head, body)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let head = head.to_ascii_lowercase();
            if !head.contains(&format!("content-type: {content_type}")) {
                continue;
            }
            let body = body.split("\r\n--").next().unwrap_or(body);
            return if head.contains("content-transfer-encoding: quoted-printable") {
                decode_qp(body)
            } else if head.contains("content-transfer-encoding: base64") {
                decode_base64(body)
            } else {
                body.to_owned()
            };
        }
        panic!("no {content_type} part in:\n{}", self.data)
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        self.part("text/plain")
    }

    /// The token of the `{APP_URL}{path}?token=…` link in the plain-text body.
    pub fn link_token(&self, app_url: &str, path: &str) -> String {
        let text = self.text();
        let prefix = format!("{app_url}{path}?token=");
        let start = text
            .find(&prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"))
            + prefix.len();
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// Quoted-printable (RFC 2045 §6.7): soft line breaks joined, `=XX` decoded.
fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_base64(body: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in body.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn quoted_printable_and_base64_decode() {
    assert_eq!(decode_qp("a=3Db=\r\nc =C3=A9"), "a=bc é");
    assert_eq!(decode_base64("aGVsbG8g\r\nd29ybGQ="), "hello world");
}
