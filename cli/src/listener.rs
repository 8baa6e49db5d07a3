//! The listener of `nudge dev`. Each connection's request head is read and checked here
//! before hyper parses it. hyper answers an over-long path (414), an over-large header block
//! or too many headers (431) and bytes that are not HTTP (400) with a bare status line, and
//! waits forever for a head that never ends; here each of those gets a problem+json body like
//! every other answer, and a client that does not send its whole head within the read
//! timeout is answered 408 and dropped. The router answers `Connection: close`, so each
//! request comes on a connection of its own and passes through here (a local development
//! server loses nothing measurable by it).
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{StatusCode, Uri};
use nudge_http::{new_request_id, Problem, PROBLEM_JSON};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What a request head may be.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    /// The request line, headers and blank line together.
    pub max_head_bytes: usize,
    /// The request target (path and query).
    pub max_target_bytes: usize,
    pub max_headers: usize,
    /// How long a client has to send its whole head (and, to the router, its body).
    pub read_timeout: Duration,
}

impl HeadLimits {
    pub fn with_read_timeout(read_timeout: Duration) -> Self {
        HeadLimits {
            max_head_bytes: 16 * 1024,
            max_target_bytes: 8 * 1024,
            max_headers: 64,
            read_timeout,
        }
    }
}

/// Connections whose head passed the checks, with that head still to be read.
pub struct CheckedListener {
    checked: mpsc::Receiver<(Replayed, SocketAddr)>,
    local: SocketAddr,
}

impl CheckedListener {
    /// Accepts on `listener` from now on; each connection is checked in a task of its own, so
    /// a slow client holds up nobody else.
    pub fn new(listener: TcpListener, limits: HeadLimits) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (passed, checked) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let passing = passed.clone();
                tokio::spawn(async move {
                    if let Some(stream) = check(stream, limits).await {
                        // The server stopped accepting (shutdown): the connection is dropped.
                        let _ = passing.send((stream, peer)).await;
                    }
                });
                if passed.is_closed() {
                    return;
                }
            }
        });
        Ok(CheckedListener { checked, local })
    }
}

impl axum::serve::Listener for CheckedListener {
    type Io = Replayed;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Replayed, SocketAddr) {
        match self.checked.recv().await {
            Some(accepted) => accepted,
            None => {
                // Only a panic of the accepting task ends the channel while we listen.
                tracing::error!("the accepting task ended; no more connections are served");
                std::future::pending().await
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Reads and checks the head of `stream`'s request: the stream to serve, or None once the
/// client was answered (or went away).
async fn check(mut stream: TcpStream, limits: HeadLimits) -> Option<Replayed> {
    let refusal =
        match tokio::time::timeout(limits.read_timeout, read_head(&mut stream, limits)).await {
            Ok(Ok(head)) => {
                return Some(Replayed {
                    head,
                    read: 0,
                    stream,
                })
            }
            Ok(Err(Unread::Closed)) => return None,
            Ok(Err(Unread::Refused(problem))) => problem,
            Err(_) => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
            )
            .detail(format!(
                "the request head did not arrive within {} s",
                limits.read_timeout.as_secs()
            )),
        };
    // A client that does not read its answer does not hold the task either.
    let answer = problem_response(&refusal);
    let _ = tokio::time::timeout(limits.read_timeout, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
    None
}

enum Unread {
    /// The client closed the connection (or it failed) before its head was complete.
    Closed,
    Refused(Problem),
}

/// The bytes read up to the end of a complete, acceptable head (possibly with some of the
/// body after it).
async fn read_head(stream: &mut TcpStream, limits: HeadLimits) -> Result<Vec<u8>, Unread> {
    let mut read = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| Unread::Closed)?;
        if n == 0 {
            return Err(Unread::Closed);
        }
        read.extend_from_slice(&chunk[..n]);
        if let Some(verdict) = judge(&read, limits) {
            return verdict.map(|()| read).map_err(Unread::Refused);
        }
    }
}

/// Whether the head in `read` is complete and acceptable (`Some(Ok)`), refused
/// (`Some(Err)`), or not complete yet (`None`).
fn judge(read: &[u8], limits: HeadLimits) -> Option<Result<(), Problem>> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut request = httparse::Request::new(&mut headers);
    let parsed = request.parse(read);
    let target_too_long = || {
        Problem::new(StatusCode::URI_TOO_LONG, "uri-too-long", "URI too long").detail(format!(
            "the path and query are longer than {} bytes",
            limits.max_target_bytes
        ))
    };
    let head_too_large = || {
        Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request header fields too large",
        )
        .detail(format!(
            "the request head is larger than {} bytes or has more than {} headers",
            limits.max_head_bytes, limits.max_headers
        ))
    };
    match parsed {
        Ok(httparse::Status::Complete(head_len)) => {
            let target = request.path.unwrap_or_default();
            Some(if target.len() > limits.max_target_bytes {
                Err(target_too_long())
            } else if head_len > limits.max_head_bytes {
                Err(head_too_large())
            } else if target.parse::<Uri>().is_err() {
                Err(malformed("the request target is not a valid URI"))
            } else {
                Ok(())
            })
        }
        Ok(httparse::Status::Partial) if read.len() > limits.max_head_bytes => {
            // Still in the request line: it is the target that is too long.
            let in_request_line = !read.windows(2).any(|w| w == b"\r\n");
            Some(Err(if in_request_line {
                target_too_long()
            } else {
                head_too_large()
            }))
        }
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Err(head_too_large())),
        Err(err) => Some(Err(malformed(&format!(
            "the request is not HTTP/1.1: {err}"
        )))),
    }
}

fn malformed(detail: &str) -> Problem {
    Problem::bad_request("malformed-request", detail.to_string())
}

/// A whole HTTP/1.1 response carrying `problem` as problem+json, closing the connection.
fn problem_response(problem: &Problem) -> Vec<u8> {
    let request_id = new_request_id();
    let body = serde_json::to_string(&problem.body(&request_id)).unwrap_or_default();
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {PROBLEM_JSON}\r\nContent-Length: {}\r\n\
         X-Request-Id: {request_id}\r\nConnection: close\r\n\r\n{body}",
        problem.status.as_u16(),
        problem.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}

/// A connection whose first bytes (the head, read here) are read again before the rest.
pub struct Replayed {
    head: Vec<u8>,
    read: usize,
    stream: TcpStream,
}

impl AsyncRead for Replayed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read < this.head.len() {
            let rest = &this.head[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replayed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits() -> HeadLimits {
        HeadLimits::with_read_timeout(Duration::from_secs(1))
    }

    fn status(head: &[u8]) -> Option<u16> {
        judge(head, limits()).map(|v| v.map_or_else(|p| p.status.as_u16(), |()| 200))
    }

    #[test]
    fn heads_are_judged_as_hyper_would_but_with_a_problem() {
        assert_eq!(
            status(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(200)
        );
        assert_eq!(status(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"), None);
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
        assert_eq!(status(long.as_bytes()), Some(414));
        let unfinished = format!("GET /{}", "a".repeat(17000));
        assert_eq!(status(unfinished.as_bytes()), Some(414));
        let many: String = (0..65).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(
            status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Some(431)
        );
        let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n", "b".repeat(17000));
        assert_eq!(status(big.as_bytes()), Some(431));
        assert_eq!(status(b"GET /\xff HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(
            status(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            Some(400)
        );
    }

    #[test]
    fn a_refusal_is_a_whole_problem_json_response() {
        let answer = String::from_utf8(problem_response(&malformed("bad"))).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("Content-Type: application/problem+json"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["type"], "https://nudge.dev/problems/malformed-request");
        assert_eq!(body["status"], 400);
    }
}
