//! One raw HTTP/1.1 connection that stays open across requests, for what reqwest hides:
//! whether the server keeps a connection usable, and answers the HTTP parser sends.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// A parsed response: status, lower-cased headers, body bytes.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Whether the server announced that it closes the connection.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

pub struct RawConn {
    rd: OwnedReadHalf,
    wr: Option<OwnedWriteHalf>,
    buf: Vec<u8>,
}

/// Longest wait for anything on the wire: a guard against hangs, not a measurement.
pub const GUARD: Duration = Duration::from_secs(20);

impl RawConn {
    pub async fn open(port: u16) -> RawConn {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (rd, wr) = stream.into_split();
        RawConn {
            rd,
            wr: Some(wr),
            buf: Vec::new(),
        }
    }

    /// Writes `request` while reading the answer (the server may answer before it has
    /// read everything). `None`: the connection ended without a full response.
    pub async fn exchange(&mut self, request: Vec<u8>) -> Option<Reply> {
        // A write that failed before (the server closed) leaves nothing to write on.
        let mut wr = self.wr.take()?;
        let writer = tokio::spawn(async move {
            let ok = wr.write_all(&request).await.is_ok() && wr.flush().await.is_ok();
            (wr, ok)
        });
        let reply = self.reply().await;
        if let Ok(Ok((wr, true))) = tokio::time::timeout(GUARD, writer).await {
            self.wr = Some(wr);
        }
        reply
    }

    /// Reads one response; `None` when the connection ends first.
    pub async fn reply(&mut self) -> Option<Reply> {
        let read = async {
            let mut chunk = [0u8; 16 * 1024];
            loop {
                if let Some((reply, used)) = parse(&self.buf) {
                    self.buf.drain(..used);
                    return Some(reply);
                }
                match self.rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        };
        tokio::time::timeout(GUARD, read)
            .await
            .expect("no response and no close within the guard time")
    }

    /// Whether the server closes the connection (EOF or reset) with nothing more to say.
    pub async fn ends(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        let read = tokio::time::timeout(GUARD, self.rd.read(&mut chunk)).await;
        matches!(read, Ok(Ok(0)) | Ok(Err(_)))
    }
}

/// A complete response at the start of `buf`, and how many bytes it took.
fn parse(buf: &[u8]) -> Option<(Reply, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    assert!(
        !headers.contains_key("transfer-encoding"),
        "chunked responses are not expected here: {head}"
    );
    let len: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().expect("a numeric Content-Length"));
    let body = buf.get(end + 4..end + 4 + len)?.to_vec();
    Some((
        Reply {
            status,
            headers,
            body,
        },
        end + 4 + len,
    ))
}

/// A request with `Content-Length: body_len` and that many bytes of JSON whitespace.
pub fn request(method: &str, path: &str, body_len: usize) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    r.extend(std::iter::repeat_n(b' ', body_len));
    r
}

/// `GET path` without a body.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}
