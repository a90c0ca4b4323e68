//! The ordinary path: a small HTTP/1.1 client on hyper, one connection per request.
//!
//! One connection per request keeps requests independent (a stalled SSE stream never
//! holds up a POST) and makes dropping a streamed body a real disconnect, which is
//! what a client going away looks like to the server. Every byte read or written on
//! the socket is recorded in the transcript as it crosses, so failures show the wire.

use super::Headers;
use crate::transcript::{Direction, Transcript};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

/// Bounds and deadlines for an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Default time allowed for connecting and receiving the response head.
    pub timeout: Duration,
    /// Largest body [`HttpResponse::read_body`] accepts.
    pub max_body: usize,
    /// Largest total a streamed body may deliver before the stream is cut.
    pub max_stream: u64,
    /// Largest response head (hyper's read buffer; at least 8 KiB).
    pub max_head: usize,
    pub max_headers: usize,
    pub transcript_limit: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            max_body: 16 * 1024 * 1024,
            max_stream: 256 * 1024 * 1024,
            max_head: 64 * 1024,
            max_headers: 128,
            transcript_limit: 256 * 1024,
        }
    }
}

/// A request as the caller wants it sent. Any header is allowed, including ones a
/// well-behaved MCP client would never send (a foreign `Origin`, a wrong
/// `Content-Type`); only bytes HTTP itself forbids are refused (use the raw path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// `/path?query` on the client's server, a full `http://` URL, or empty for the
    /// client's base URL itself.
    pub target: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// Overrides [`HttpOptions::timeout`] for this request.
    pub timeout: Option<Duration>,
}

impl HttpRequest {
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        HttpRequest {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    pub fn get(target: impl Into<String>) -> Self {
        Self::new("GET", target)
    }

    pub fn post(target: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", target).body(body)
    }

    pub fn delete(target: impl Into<String>) -> Self {
        Self::new("DELETE", target)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("timed out waiting for the {waiting_for}")]
    Timeout { waiting_for: &'static str },
    /// hyper could not parse what the server sent.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The server closed the connection before the response was complete.
    #[error("connection closed before the response was complete: {0}")]
    Incomplete(String),
    #[error("response body exceeds {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("connection error: {0}")]
    Connection(String),
}

/// Status, headers and a body still to be read.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Names lowercased by hyper; order is by name, not arrival (the raw path keeps
    /// arrival order).
    pub headers: Headers,
    body: BodyStream,
}

impl HttpResponse {
    /// The first value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        super::header(&self.headers, name)
    }

    /// The first value of header `name`, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.header(name)?).ok()
    }

    /// Read the whole body, at most [`HttpOptions::max_body`] bytes, by `deadline`.
    pub async fn read_body(self, deadline: Instant) -> Result<Vec<u8>, HttpError> {
        let mut stream = self.body;
        stream.max = stream.max.min(stream.max_body as u64);
        let mut body = Vec::new();
        while let Some(chunk) = stream.next_chunk(deadline).await? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The body as a stream of chunks as they arrive (for SSE). Dropping the stream
    /// before its end closes the connection.
    pub fn into_stream(self) -> BodyStream {
        self.body
    }
}

/// A response body read chunk by chunk, with the connection open until it ends or the
/// stream is dropped.
pub struct BodyStream {
    body: Incoming,
    connection: ConnectionGuard,
    received: u64,
    max: u64,
    max_body: usize,
    done: bool,
    transcript: Transcript,
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream")
            .field("received", &self.received)
            .field("done", &self.done)
            .finish()
    }
}

impl BodyStream {
    /// The next chunk of body bytes by `deadline`; `None` at the end of the body. A
    /// timeout leaves the stream usable: call again with a later deadline.
    pub async fn next_chunk(&mut self, deadline: Instant) -> Result<Option<Bytes>, HttpError> {
        while !self.done {
            let frame = match tokio::time::timeout_at(deadline.into(), self.body.frame()).await {
                Err(_) => {
                    self.transcript.note("timed out waiting for body bytes");
                    return Err(HttpError::Timeout {
                        waiting_for: "response body",
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    self.done = true;
                    return Err(map_hyper(&e));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers carry no body bytes; they are in the transcript.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            self.received += data.len() as u64;
            if self.received > self.max {
                self.done = true;
                self.connection
                    .close(&self.transcript, "body over its bound");
                return Err(HttpError::BodyTooLarge { limit: self.max });
            }
            return Ok(Some(data));
        }
        self.done = true;
        Ok(None)
    }

    /// Body bytes delivered so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether the body ended (or failed).
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        if !self.done {
            self.connection.close(
                &self.transcript,
                "client closed the connection before the body ended",
            );
        }
    }
}

/// Ends the connection task (and so closes the socket) when the response goes away.
#[derive(Debug)]
struct ConnectionGuard(Option<AbortHandle>);

impl ConnectionGuard {
    fn close(&mut self, transcript: &Transcript, why: &str) {
        if let Some(handle) = self.0.take() {
            handle.abort();
            transcript.note(why);
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

/// A small HTTP/1.1 client for one server (its base URL).
#[derive(Debug, Clone)]
pub struct HttpClient {
    base: http::Uri,
    options: HttpOptions,
    transcript: Transcript,
}

impl HttpClient {
    /// `base_url` is `http://host:port[/path]`; TLS is deliberately not supported.
    pub fn new(base_url: &str, options: HttpOptions) -> Result<Self, HttpError> {
        let base = parse_http_url(base_url)?;
        let transcript = Transcript::new(options.transcript_limit);
        Ok(HttpClient {
            base,
            options,
            transcript,
        })
    }

    /// Record into `transcript` instead (e.g. the one of the server process).
    pub fn with_transcript(mut self, transcript: Transcript) -> Self {
        self.transcript = transcript;
        self
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Send `request` and wait for the response head, within the request's timeout.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let timeout = request.timeout.unwrap_or(self.options.timeout);
        self.send_until(request, Instant::now() + timeout).await
    }

    /// Send `request` and wait for the response head until `deadline`.
    pub async fn send_until(
        &self,
        request: HttpRequest,
        deadline: Instant,
    ) -> Result<HttpResponse, HttpError> {
        let uri = match request.target.as_str() {
            "" => self.base.clone(),
            t if t.starts_with('/') => {
                let mut parts = self.base.clone().into_parts();
                parts.path_and_query = Some(t.parse().map_err(invalid)?);
                http::Uri::from_parts(parts).map_err(invalid)?
            }
            t => parse_http_url(t)?,
        };
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let hyper_request = build_request(&request, &uri, &authority)?;

        let stream = match tokio::time::timeout_at(deadline.into(), connect(&authority)).await {
            Err(_) => {
                self.transcript
                    .note(&format!("timed out connecting to {authority}"));
                return Err(HttpError::Timeout {
                    waiting_for: "connection",
                });
            }
            Ok(result) => result?,
        };
        self.transcript.note(&format!(
            "connected to {authority} for {} {}",
            request.method,
            uri.path_and_query().map_or("/", |p| p.as_str())
        ));
        let exchange = self.exchange(stream, hyper_request);
        match tokio::time::timeout_at(deadline.into(), exchange).await {
            Err(_) => {
                self.transcript
                    .note("timed out waiting for the response head");
                Err(HttpError::Timeout {
                    waiting_for: "response head",
                })
            }
            Ok(result) => result,
        }
    }

    async fn exchange(
        &self,
        stream: TcpStream,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<HttpResponse, HttpError> {
        let io = TokioIo::new(Recorded {
            inner: stream,
            transcript: self.transcript.clone(),
        });
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(self.options.max_head.max(8192))
            .max_headers(self.options.max_headers)
            .handshake(io)
            .await
            .map_err(|e| map_hyper(&e))?;
        // Connection errors surface through the request and body; nothing to do here.
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        // If this future is dropped (deadline), the guard closes the connection.
        let guard = ConnectionGuard(Some(task.abort_handle()));
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| map_hyper(&e))?;
        drop(sender); // no second request on this connection: it closes after the body
        let (parts, body) = response.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.as_bytes().to_vec()))
            .collect();
        Ok(HttpResponse {
            status: parts.status.as_u16(),
            headers,
            body: BodyStream {
                body,
                connection: guard,
                received: 0,
                max: self.options.max_stream,
                max_body: self.options.max_body,
                done: false,
                transcript: self.transcript.clone(),
            },
        })
    }
}

fn invalid(e: impl fmt::Display) -> HttpError {
    HttpError::InvalidRequest(e.to_string())
}

fn parse_http_url(url: &str) -> Result<http::Uri, HttpError> {
    let uri: http::Uri = url.parse().map_err(|e| invalid(format!("{url:?}: {e}")))?;
    match uri.scheme_str() {
        Some("http") if uri.authority().is_some() => Ok(uri),
        Some("http") => Err(invalid(format!("{url:?} has no host"))),
        Some(other) => Err(invalid(format!(
            "{url:?}: scheme {other} is not supported (loopback HTTP only)"
        ))),
        None => Err(invalid(format!("{url:?} is not an http:// URL"))),
    }
}

fn build_request(
    request: &HttpRequest,
    uri: &http::Uri,
    authority: &str,
) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(invalid)?;
    // HTTP/1.1 to an origin server wants origin-form (`/path?query`) on the wire.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = hyper::Request::builder().method(method).uri(path);
    let has_host = request
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("host"));
    if !has_host {
        builder = builder.header(http::header::HOST, authority);
    }
    for (name, value) in &request.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(invalid)?;
        let value = http::HeaderValue::from_bytes(value).map_err(invalid)?;
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(invalid)
}

async fn connect(authority: &str) -> Result<TcpStream, HttpError> {
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let connect_error = |reason: String| HttpError::Connect {
        addr: target.clone(),
        reason,
    };
    let addrs = tokio::net::lookup_host(&target)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Requests are small and the timing of each write matters to tests.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(connect_error(last))
}

fn map_hyper(e: &hyper::Error) -> HttpError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    // A body cut short shows up as an UnexpectedEof underneath a body error.
    let mut cut_short = false;
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cut_short |= s
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::UnexpectedEof);
        source = s.source();
    }
    if e.is_parse() || e.is_parse_status() {
        HttpError::Malformed(text)
    } else if e.is_incomplete_message() || cut_short {
        HttpError::Incomplete(text)
    } else {
        HttpError::Connection(text)
    }
}

/// The socket, with every byte that crosses it recorded as it does.
struct Recorded {
    inner: TcpStream,
    transcript: Transcript,
}

impl AsyncRead for Recorded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let fresh = &buf.filled()[before..];
            if fresh.is_empty() {
                this.transcript.note("server closed the connection");
            } else {
                this.transcript.record(Direction::Received, fresh);
            }
        }
        result
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.transcript.record(Direction::Sent, &buf[..n]);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
