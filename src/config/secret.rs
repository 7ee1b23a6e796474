//! How weak a signing secret is: too short, a placeholder, too few distinct bytes, a
//! repeated pattern, or too little estimated entropy.

use std::fmt;

use super::MIN_SECRET_BYTES;

/// Why a secret is weak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    /// Fewer than [`MIN_SECRET_BYTES`] bytes (the count).
    TooShort(usize),
    /// Little but well-known words (`secret`, `changeme`, `password`, …).
    Placeholder,
    /// Fewer than [`MIN_DISTINCT_BYTES`] distinct bytes (the count).
    FewDistinct(usize),
    /// One shorter pattern repeated (the pattern's length).
    Repeated(usize),
    /// A Shannon-entropy estimate below [`MIN_ENTROPY_BITS`] (the estimate).
    LowEntropy(u32),
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weakness::TooShort(n) => write!(f, "{n} bytes, need at least {MIN_SECRET_BYTES}"),
            Weakness::Placeholder => {
                f.write_str("it is made of well-known words such as secret, changeme, password")
            }
            Weakness::FewDistinct(n) => write!(
                f,
                "only {n} distinct characters, need at least {MIN_DISTINCT_BYTES}"
            ),
            Weakness::Repeated(p) => write!(f, "it repeats a {p}-character pattern"),
            Weakness::LowEntropy(b) => write!(
                f,
                "about {b} bits of entropy, need at least {MIN_ENTROPY_BITS}"
            ),
        }
    }
}

/// Fewest distinct bytes of an acceptable secret. Random hex (16 symbols) of 32+
/// characters has at least 8 in practice (a bound of 16 would refuse a quarter of
/// `openssl rand -hex 32` outputs).
pub const MIN_DISTINCT_BYTES: usize = 8;

/// Least estimated entropy of an acceptable secret: length × the empirical Shannon
/// entropy per byte. It underestimates random text (32 random hex digits, 128 real bits,
/// estimate about 90..120), so the bound sits below that.
pub const MIN_ENTROPY_BITS: u32 = 80;

/// Words that make up placeholder secrets (`your-secret-key-change-me`, …).
const WELL_KNOWN_WORDS: &[&str] = &[
    "placeholder",
    "development",
    "production",
    "changeme",
    "password",
    "passw0rd",
    "insecure",
    "example",
    "letmein",
    "default",
    "replace",
    "signing",
    "secret",
    "sample",
    "change",
    "please",
    "qwerty",
    "dummy",
    "admin",
    "token",
    "super",
    "hello",
    "world",
    "your",
    "here",
    "test",
    "with",
    "todo",
    "key",
    "jwt",
    "api",
    "app",
    "dev",
    "the",
    "my",
    "me",
    "in",
];

/// Why `secret` is too weak to sign tokens with, or `None` when it looks random enough.
pub fn secret_weakness(secret: &[u8]) -> Option<Weakness> {
    if secret.len() < MIN_SECRET_BYTES {
        return Some(Weakness::TooShort(secret.len()));
    }
    if is_placeholder(secret) {
        return Some(Weakness::Placeholder);
    }
    let distinct = distinct_bytes(secret);
    if distinct < MIN_DISTINCT_BYTES {
        return Some(Weakness::FewDistinct(distinct));
    }
    let period = shortest_period(secret);
    if period <= secret.len() / 2 {
        return Some(Weakness::Repeated(period));
    }
    let bits = entropy_bits(secret);
    (bits < MIN_ENTROPY_BITS).then_some(Weakness::LowEntropy(bits))
}

/// Whether fewer than 16 letters and digits remain once the well-known words are removed.
fn is_placeholder(secret: &[u8]) -> bool {
    let mut rest: String = String::from_utf8_lossy(secret)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    for word in WELL_KNOWN_WORDS {
        rest = rest.replace(word, "");
    }
    rest.len() < 16
}

fn distinct_bytes(bytes: &[u8]) -> usize {
    let mut seen = [false; 256];
    bytes.iter().for_each(|&b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count()
}

/// The smallest `p` with `bytes[i] == bytes[i - p]` for every `i >= p` (the length when
/// nothing repeats).
fn shortest_period(bytes: &[u8]) -> usize {
    (1..bytes.len())
        .find(|&p| bytes[p..].iter().zip(bytes).all(|(a, b)| a == b))
        .unwrap_or(bytes.len())
}

/// Length × empirical Shannon entropy per byte, rounded down.
fn entropy_bits(bytes: &[u8]) -> u32 {
    let mut counts = [0u32; 256];
    bytes.iter().for_each(|&b| counts[usize::from(b)] += 1);
    let n = bytes.len() as f64;
    let per_byte: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    (per_byte * n) as u32
}
/// Whether two secrets are equal, in time independent of where they differ (the
/// lengths are not secret).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
