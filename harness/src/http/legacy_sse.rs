//! The client side of a long-lived `text/event-stream` response, as the legacy HTTP+SSE
//! transport uses one (a GET that stays open and carries every server message), and
//! the URI arithmetic that transport needs: the stream hands out a URI reference to
//! POST to, resolved against the stream's URL (RFC 3986 §5.2) and compared by origin.
//!
//! Bytes are decoded by the strict, bounded [`SseDecoder`], so every deviation it
//! reports (an event cut off by the end of the stream, invalid UTF-8, an oversized
//! line) reaches the caller as an item, in stream order.

use super::client::{BodyStream, HttpError, HttpResponse};
use crate::sse::{SseDecoder, SseItem, SseLimits};
use std::collections::VecDeque;
use std::time::Instant;

/// An open event stream read item by item, every wait under a deadline.
#[derive(Debug)]
pub struct EventStream {
    body: BodyStream,
    decoder: SseDecoder,
    ready: VecDeque<SseItem>,
    /// How the body ended, reported once the items before it are drained.
    ending: Option<Result<(), HttpError>>,
    ended: bool,
}

impl EventStream {
    /// Read `response`'s body as an event stream, whatever its media type says (the
    /// caller judges the type; a lenient reader still sees what was sent).
    pub fn new(response: HttpResponse, limits: SseLimits) -> Self {
        EventStream {
            body: response.into_stream(),
            decoder: SseDecoder::new(limits),
            ready: VecDeque::new(),
            ending: None,
            ended: false,
        }
    }

    /// The next event or problem by `deadline`; `Ok(None)` once the server ended the
    /// body (items cut off by the end come first). A timeout leaves the stream usable;
    /// a broken connection is reported once, after the items decoded before it.
    pub async fn next(&mut self, deadline: Instant) -> Result<Option<SseItem>, HttpError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            if let Some(ending) = self.ending.take() {
                self.ended = true;
                return ending.map(|()| None);
            }
            if self.ended {
                return Ok(None);
            }
            let mut items = Vec::new();
            match self.body.next_chunk(deadline).await {
                Ok(Some(chunk)) => self.decoder.push(&chunk, &mut items),
                Ok(None) => {
                    self.decoder.finish(&mut items);
                    self.ending = Some(Ok(()));
                }
                Err(e @ HttpError::Timeout { .. }) => return Err(e),
                Err(e) => {
                    self.decoder.finish(&mut items);
                    self.ending = Some(Err(e));
                }
            }
            self.ready.extend(items);
        }
    }

    /// Whether the body ended (or broke) and everything before that was read.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.body.received()
    }
}

/// Where a URL points, for same-origin comparisons: lowercase scheme and host, and
/// the port (the scheme's default when none is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The origin of an absolute URL with an authority, if it has a known default port
/// or names one.
pub fn origin_of(url: &str) -> Option<Origin> {
    let parts = UriParts::parse(url);
    let scheme = parts.scheme?.to_ascii_lowercase();
    let authority = parts.authority?;
    // Userinfo is not part of the origin.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        (
            format!("[{}]", v6.to_ascii_lowercase()),
            after.strip_prefix(':'),
        )
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (host_port.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) if !p.is_empty() => p.parse().ok()?,
        _ => match scheme.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => return None,
        },
    };
    Some(Origin { scheme, host, port })
}

/// Resolve `reference` (absolute, or relative such as `/messages?session=1`) against
/// the absolute URL `base`, following RFC 3986 §5.2.2 (strict: a reference with a
/// scheme is taken as absolute). The result has no fragment. Errors when `base` is
/// not absolute or the reference holds characters no URI may contain.
pub fn resolve_reference(base: &str, reference: &str) -> Result<String, String> {
    if let Some(bad) = reference
        .chars()
        .find(|c| c.is_ascii_whitespace() || c.is_ascii_control() || !c.is_ascii())
    {
        return Err(format!(
            "{reference:?} is not a URI reference (it contains {bad:?})"
        ));
    }
    let b = UriParts::parse(base);
    let Some(base_scheme) = b.scheme else {
        return Err(format!("{base:?} is not an absolute URL"));
    };
    let r = UriParts::parse(reference);
    let (scheme, authority, path, query);
    if let Some(s) = r.scheme {
        scheme = s;
        authority = r.authority;
        path = remove_dot_segments(r.path);
        query = r.query;
    } else {
        scheme = base_scheme;
        if r.authority.is_some() {
            authority = r.authority;
            path = remove_dot_segments(r.path);
            query = r.query;
        } else {
            authority = b.authority;
            if r.path.is_empty() {
                path = b.path.to_string();
                query = r.query.or(b.query);
            } else {
                path = if r.path.starts_with('/') {
                    remove_dot_segments(r.path)
                } else {
                    remove_dot_segments(&merge(b.authority.is_some(), b.path, r.path))
                };
                query = r.query;
            }
        }
    }
    let mut out = format!("{scheme}:");
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    out.push_str(&path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// The five components of RFC 3986 Appendix B (fragment dropped).
#[derive(Debug, Default, PartialEq, Eq)]
struct UriParts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    fn parse(text: &'a str) -> UriParts<'a> {
        let text = text.split_once('#').map_or(text, |(t, _)| t);
        let mut rest = text;
        let mut parts = UriParts::default();
        if let Some(colon) = rest.find(':') {
            let candidate = &rest[..colon];
            let is_scheme = candidate
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && candidate
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if is_scheme {
                parts.scheme = Some(candidate);
                rest = &rest[colon + 1..];
            }
        }
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            parts.authority = Some(&after[..end]);
            rest = &after[end..];
        }
        match rest.split_once('?') {
            Some((path, query)) => {
                parts.path = path;
                parts.query = Some(query);
            }
            None => parts.path = rest,
        }
        parts
    }
}

/// RFC 3986 §5.2.3.
fn merge(base_has_authority: bool, base_path: &str, reference_path: &str) -> String {
    if base_has_authority && base_path.is_empty() {
        return format!("/{reference_path}");
    }
    match base_path.rfind('/') {
        Some(i) => format!("{}{reference_path}", &base_path[..=i]),
        None => reference_path.to_string(),
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut output: Vec<&str> = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            output.pop();
        } else if input == "/.." {
            input = "/";
            output.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // Move the first segment (with its leading '/', if any) to the output.
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push(&input[..end]);
            input = &input[end..];
        }
    }
    output.concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpClient, HttpOptions, HttpRequest};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers one GET with `head` and then writes `chunks` (each
    /// flushed on its own, so they arrive as separate reads), then closes.
    async fn stream_of(head: &'static str, chunks: Vec<&'static str>) -> EventStream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            socket.write_all(head.as_bytes()).await.expect("head");
            for chunk in chunks {
                let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
                socket.write_all(framed.as_bytes()).await.expect("chunk");
                socket.flush().await.expect("flush");
            }
        });
        let client =
            HttpClient::new(&format!("http://{addr}/sse"), HttpOptions::default()).expect("client");
        let response = client
            .send(HttpRequest::get("").timeout(Duration::from_secs(5)))
            .await
            .expect("response");
        EventStream::new(response, SseLimits::default())
    }

    const HEAD: &str =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

    #[tokio::test]
    async fn events_split_across_reads_then_a_cut_off_event_then_a_broken_body() {
        let mut stream = stream_of(
            HEAD,
            vec![
                ": keep-alive\n\nevent: endpoint\nda",
                "ta: /m?s=1\n\n",
                "data: {\"half\"",
            ],
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = stream.next(deadline).await.expect("item").expect("event");
        let event = first.as_event().expect("an event");
        assert_eq!(
            (event.event_type.as_str(), event.data.as_str()),
            ("endpoint", "/m?s=1")
        );
        // The body ends without its last chunk: the event in progress is reported
        // first, then the broken connection, then nothing more.
        let cut = stream.next(deadline).await.expect("item").expect("problem");
        assert!(
            matches!(cut, SseItem::UnterminatedEventAtEof { .. }),
            "{cut:?}"
        );
        assert!(stream.next(deadline).await.is_err());
        assert!(matches!(stream.next(deadline).await, Ok(None)));
        assert!(stream.is_ended());
    }

    #[tokio::test]
    async fn a_quiet_stream_times_out_and_stays_usable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            socket.write_all(HEAD.as_bytes()).await.expect("head");
            let _ = go_rx.await;
            let event = "data: 1\n\n";
            let framed = format!("{:x}\r\n{event}\r\n0\r\n\r\n", event.len());
            socket.write_all(framed.as_bytes()).await.expect("event");
        });
        let client =
            HttpClient::new(&format!("http://{addr}/sse"), HttpOptions::default()).expect("client");
        let response = client.send(HttpRequest::get("")).await.expect("response");
        let mut stream = EventStream::new(response, SseLimits::default());
        let early = Instant::now() + Duration::from_millis(50);
        assert!(matches!(
            stream.next(early).await,
            Err(HttpError::Timeout { .. })
        ));
        go_tx.send(()).expect("server waiting");
        let deadline = Instant::now() + Duration::from_secs(5);
        let item = stream.next(deadline).await.expect("item").expect("event");
        assert_eq!(item.as_event().map(|e| e.data.as_str()), Some("1"));
        assert!(matches!(stream.next(deadline).await, Ok(None)));
    }

    #[test]
    fn rfc3986_normal_examples_resolve() {
        // RFC 3986 §5.4.1 (fragments are dropped by design).
        let base = "http://a/b/c/d;p?q";
        for (reference, want) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("./../g", "http://a/b/g"),
            ("g;x=1/../y", "http://a/b/c/y"),
        ] {
            assert_eq!(
                resolve_reference(base, reference).unwrap(),
                want,
                "{reference}"
            );
        }
    }

    #[test]
    fn endpoints_as_sdks_send_them() {
        let sse = "http://127.0.0.1:3001/sse";
        assert_eq!(
            resolve_reference(sse, "/message?sessionId=9f").unwrap(),
            "http://127.0.0.1:3001/message?sessionId=9f"
        );
        assert_eq!(
            resolve_reference(sse, "messages/?session_id=ab").unwrap(),
            "http://127.0.0.1:3001/messages/?session_id=ab"
        );
        assert_eq!(
            resolve_reference(sse, "http://localhost:3001/m").unwrap(),
            "http://localhost:3001/m"
        );
        assert!(resolve_reference(sse, "/m x").is_err());
        assert!(resolve_reference("/relative", "/m").is_err());
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = origin_of("http://127.0.0.1:8080/sse").unwrap();
        assert_eq!(a, origin_of("HTTP://127.0.0.1:8080/messages?x=1").unwrap());
        assert_ne!(a, origin_of("http://localhost:8080/sse").unwrap());
        assert_ne!(a, origin_of("http://127.0.0.1:8081/sse").unwrap());
        assert_eq!(origin_of("http://h/x").unwrap().port, 80);
        assert_eq!(origin_of("http://[::1]:7/").unwrap().host, "[::1]");
        assert_eq!(origin_of("http://u@h:9/").unwrap().host, "h");
        assert!(origin_of("/relative").is_none());
        assert!(origin_of("mailto:x@y").is_none());
        assert!(origin_of("http://h:port/").is_none());
    }
}
