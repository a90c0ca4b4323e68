//! Client and raw-path tests against tiny servers written here on raw tokio sockets, so
//! each server can misbehave exactly as a test needs. Every server binds 127.0.0.1:0
//! and every wait in it is bounded.

use super::*;
use crate::delivery::Delivery;
use crate::sse::{SseDecoder, SseItem, SseLimits};
use crate::transcript::Direction;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bound on any wait inside a test server; far above what a passing test needs.
const WAIT: Duration = Duration::from_secs(10);

fn soon() -> Instant {
    Instant::now() + WAIT
}

/// A loopback server that accepts one connection and runs `handler` on it.
async fn serve_once<F, Fut, T>(handler: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let (stream, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("a client connects in time")
            .expect("accept");
        handler(stream).await
    });
    (addr, task)
}

async fn join<T>(task: JoinHandle<T>) -> T {
    tokio::time::timeout(WAIT, task)
        .await
        .expect("server finishes in time")
        .expect("server did not panic")
}

/// Read until `count` request heads are complete; returns everything read.
async fn read_heads(stream: &mut TcpStream, count: usize) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while count_heads(&data) < count {
        assert!(data.len() < 64 * 1024, "request head too large");
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("request in time")
            .expect("read");
        assert!(n > 0, "client closed before its request head");
        data.extend_from_slice(&buf[..n]);
    }
    data
}

fn count_heads(data: &[u8]) -> usize {
    data.windows(4).filter(|w| w == b"\r\n\r\n").count()
}

fn head_end(data: &[u8]) -> usize {
    data.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4
}

/// Read one request with a Content-Length body: (head, body).
async fn read_request(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut data = read_heads(stream, 1).await;
    let end = head_end(&data);
    let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().expect("numeric length"));
    let mut buf = [0u8; 4096];
    while data.len() < end + length {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("body in time")
            .expect("read");
        assert!(n > 0, "client closed inside its body");
        data.extend_from_slice(&buf[..n]);
    }
    (head, data[end..].to_vec())
}

/// Every read until the client closes (bounded): the pieces as the server saw them.
async fn read_until_eof(stream: &mut TcpStream) -> Vec<Vec<u8>> {
    let mut reads = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("client closes in time")
            .unwrap_or(0); // a reset ends the stream too
        if n == 0 {
            return reads;
        }
        reads.push(buf[..n].to_vec());
        assert!(reads.len() < 10_000, "unbounded request");
    }
}

fn client(addr: SocketAddr) -> HttpClient {
    HttpClient::new(&format!("http://{addr}/mcp"), HttpOptions::default()).expect("valid url")
}

fn sent_text(transcript: &crate::Transcript) -> String {
    transcript
        .entries()
        .iter()
        .filter(|e| e.direction == Direction::Sent)
        .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
        .collect()
}

fn events(items: &[SseItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i.as_event().map(|e| e.data.clone()))
        .collect()
}

#[tokio::test]
async fn client_sends_any_headers_and_reads_a_json_response() {
    let (addr, server) = serve_once(|mut stream| async move {
        let request = read_request(&mut stream).await;
        let body = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream
            .write_all(&[head.as_bytes(), body].concat())
            .await
            .expect("write");
        request
    })
    .await;
    let client = client(addr);
    let request = HttpRequest::post("", br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec())
        .header("Content-Type", "application/json")
        .header("Origin", "http://evil.example");
    let response = client.send(request).await.expect("response");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header_str("content-type"),
        Some("application/json")
    );
    let body = response.read_body(soon()).await.expect("body");
    assert_eq!(body, br#"{"jsonrpc":"2.0","id":1,"result":{}}"#);

    let (head, sent_body) = join(server).await;
    assert!(head.starts_with("post /mcp http/1.1\r\n"), "{head}");
    assert!(head.contains("origin: http://evil.example\r\n"), "{head}");
    assert!(head.contains(&format!("host: {addr}\r\n")), "{head}");
    assert_eq!(sent_body, br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
    // The transcript holds the wire bytes both ways.
    let sent = sent_text(client.transcript());
    assert!(
        sent.contains("POST /mcp HTTP/1.1") && sent.contains("\"method\":\"ping\""),
        "{sent}"
    );
    assert!(client
        .transcript()
        .entries()
        .iter()
        .any(|e| e.direction == Direction::Received
            && String::from_utf8_lossy(&e.bytes).contains("\"result\"")));
}

#[tokio::test]
async fn sse_body_is_fed_to_the_decoder_while_the_connection_stays_open() {
    let (decoded_first, first_seen) = oneshot::channel::<()>();
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .expect("write head");
        stream.write_all(b"13\r\nid: 1\ndata: first\n\n\r\n").await.expect("write");
        // The second event is sent only once the client has decoded the first, which
        // proves the body was consumed incrementally.
        tokio::time::timeout(WAIT, first_seen)
            .await
            .expect("client decodes the first event in time")
            .expect("signal");
        stream
            .write_all(b"14\r\nid: 2\ndata: second\n\n\r\n0\r\n\r\n")
            .await
            .expect("write");
    })
    .await;
    let response = client(addr)
        .send(HttpRequest::get("/mcp").header("Accept", "text/event-stream"))
        .await
        .expect("response");
    assert_eq!(
        response.header_str("content-type"),
        Some("text/event-stream")
    );
    let mut stream = response.into_stream();
    let mut decoder = SseDecoder::new(SseLimits::default());
    let mut items = Vec::new();
    let mut signal = Some(decoded_first);
    while let Some(chunk) = stream.next_chunk(soon()).await.expect("chunk") {
        decoder.push(&chunk, &mut items);
        if !items.is_empty() {
            if let Some(tx) = signal.take() {
                tx.send(()).expect("server waits");
            }
        }
    }
    decoder.finish(&mut items);
    assert_eq!(events(&items), vec!["first", "second"]);
    assert!(items.iter().all(|i| !i.is_problem()), "{items:?}");
    join(server).await;
}

#[tokio::test]
async fn server_closing_mid_event_is_an_unterminated_event() {
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        // Close-delimited body: the close itself ends the body, cleanly for HTTP.
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: whole\n\ndata: cut")
            .await
            .expect("write");
    })
    .await;
    let mut stream = client(addr)
        .send(HttpRequest::get("/mcp"))
        .await
        .expect("response")
        .into_stream();
    let mut decoder = SseDecoder::new(SseLimits::default());
    let mut items = Vec::new();
    while let Some(chunk) = stream.next_chunk(soon()).await.expect("chunk") {
        decoder.push(&chunk, &mut items);
    }
    decoder.finish(&mut items);
    assert_eq!(events(&items), vec!["whole"]);
    assert_eq!(
        items.last(),
        Some(&SseItem::UnterminatedEventAtEof {
            data: String::new(),
            partial_line: 9
        })
    );
    join(server).await;
}

#[tokio::test]
async fn chunked_body_cut_by_a_close_is_incomplete() {
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
            .await
            .expect("write");
    })
    .await;
    let response = client(addr)
        .send(HttpRequest::get("/"))
        .await
        .expect("head");
    join(server).await; // the server's socket is closed now
    let err = response
        .read_body(soon())
        .await
        .expect_err("incomplete body");
    assert!(matches!(err, HttpError::Incomplete(_)), "{err}");
}

#[tokio::test]
async fn dropping_the_body_stream_disconnects_the_client() {
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n")
            .await
            .expect("write");
        // The client never sends more, so the next read can only end in its close.
        read_until_eof(&mut stream).await
    })
    .await;
    let client = client(addr);
    let mut stream = client
        .send(HttpRequest::get("/mcp"))
        .await
        .expect("response")
        .into_stream();
    let chunk = stream
        .next_chunk(soon())
        .await
        .expect("chunk")
        .expect("data");
    assert_eq!(&chunk[..], b"data: a\n\n");
    drop(stream);
    assert!(join(server).await.is_empty());
    let notes: Vec<String> = client
        .transcript()
        .entries()
        .iter()
        .filter(|e| e.direction == Direction::Event)
        .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("before the body ended")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn deadlines_fire_on_a_server_that_never_answers() {
    let (release, released) = oneshot::channel::<()>();
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        // Hold the connection open without answering until the test is done.
        let _ = tokio::time::timeout(WAIT, released).await;
    })
    .await;
    let started = Instant::now();
    let err = client(addr)
        .send(HttpRequest::get("/mcp").timeout(Duration::from_millis(200)))
        .await
        .expect_err("no answer");
    assert_eq!(
        err,
        HttpError::Timeout {
            waiting_for: "response head"
        }
    );
    assert!(started.elapsed() < WAIT);
    let _ = release.send(());
    join(server).await;
}

#[tokio::test]
async fn body_deadline_fires_on_a_stalled_body() {
    let (release, released) = oneshot::channel::<()>();
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .expect("write");
        let _ = tokio::time::timeout(WAIT, released).await;
    })
    .await;
    let mut stream = client(addr)
        .send(HttpRequest::get("/"))
        .await
        .expect("head")
        .into_stream();
    let chunk = stream
        .next_chunk(soon())
        .await
        .expect("chunk")
        .expect("data");
    assert_eq!(&chunk[..], b"abc");
    let deadline = Instant::now() + Duration::from_millis(200);
    let err = stream.next_chunk(deadline).await.expect_err("stalled");
    assert_eq!(
        err,
        HttpError::Timeout {
            waiting_for: "response body"
        }
    );
    let _ = release.send(());
    join(server).await;
}

#[tokio::test]
async fn a_response_hyper_cannot_parse_is_malformed() {
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 two hundred OK\r\n\r\n").await;
    })
    .await;
    let err = client(addr)
        .send(HttpRequest::get("/"))
        .await
        .expect_err("malformed");
    assert!(matches!(err, HttpError::Malformed(_)), "{err}");
    join(server).await;
}

#[tokio::test]
async fn read_body_is_bounded() {
    let (addr, server) = serve_once(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .await;
        let _ = stream.write_all(&[b'x'; 100]).await;
    })
    .await;
    let options = HttpOptions {
        max_body: 10,
        ..HttpOptions::default()
    };
    let client = HttpClient::new(&format!("http://{addr}"), options).expect("url");
    let response = client.send(HttpRequest::get("/")).await.expect("head");
    let err = response.read_body(soon()).await.expect_err("too large");
    assert_eq!(err, HttpError::BodyTooLarge { limit: 10 });
    join(server).await;
}

#[tokio::test]
async fn requests_the_client_cannot_express_are_refused_up_front() {
    let client = HttpClient::new("http://127.0.0.1:9/", HttpOptions::default()).expect("url");
    for request in [
        HttpRequest::get("/").header("X-Bad", b"a\r\nb".to_vec()),
        HttpRequest::new("BAD METHOD", "/"),
        HttpRequest::get("https://127.0.0.1/"),
    ] {
        let err = client.send(request).await.expect_err("refused");
        assert!(matches!(err, HttpError::InvalidRequest(_)), "{err}");
    }
    assert!(HttpClient::new("https://127.0.0.1/", HttpOptions::default()).is_err());
}

#[tokio::test]
async fn raw_writer_delivers_a_body_in_timed_pieces() {
    let (addr, server) = serve_once(|mut stream| async move {
        let reads = read_until_eof(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
            .await;
        reads
    })
    .await;
    let head = b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n".to_vec();
    let body = b"{\"a\":\"\xC3\xBC\"}\n\n".to_vec(); // cut inside the two-byte character
    let gap = Duration::from_millis(100);
    let delivery = Delivery::whole(head.clone()).then(gap, Delivery::split_at(&body, &[3, 7], gap));
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.deliver(&delivery).await.expect("deliver");
    raw.shutdown_write().await.expect("half-close");
    let response = raw.read_response(soon()).await.expect("response");
    assert_eq!(response.status(), 202);

    let reads = join(server).await;
    assert_eq!(reads.concat(), delivery.payload());
    // Every cut in the schedule is a boundary between the server's reads.
    let mut boundaries = std::collections::BTreeSet::new();
    let mut at = 0;
    for read in &reads {
        at += read.len();
        boundaries.insert(at);
    }
    for cut in [head.len(), head.len() + 3, head.len() + 7] {
        assert!(
            boundaries.contains(&cut),
            "cut {cut} not seen; reads: {reads:?}"
        );
    }
}

/// The server's view of a request whose body came up short.
async fn short_body_server(mut stream: TcpStream) -> (usize, Vec<u8>) {
    let data = read_heads(&mut stream, 1).await;
    let end = head_end(&data);
    let rest = read_until_eof(&mut stream).await.concat();
    let received = data.len() - end + rest.len();
    // Half-closed clients still read this; fully closed ones make it fail.
    let _ = stream
        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort body")
        .await;
    (received, data[..end].to_vec())
}

#[tokio::test]
async fn truncated_body_then_half_close_still_gets_the_answer() {
    let (addr, server) = serve_once(short_body_server).await;
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.write(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .expect("write");
    raw.shutdown_write().await.expect("half-close");
    assert!(!raw.can_write());
    let response = raw.read_response(soon()).await.expect("response");
    assert_eq!(
        (response.status(), &response.body[..]),
        (400, &b"short body"[..])
    );
    assert_eq!(raw.next_event(soon()).await, RawEvent::Closed);
    assert_eq!(join(server).await.0, 10);
}

#[tokio::test]
async fn truncated_body_then_full_close_is_seen_by_the_server() {
    let (addr, server) = serve_once(short_body_server).await;
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.write(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .expect("write");
    raw.close();
    assert_eq!(join(server).await.0, 10);
}

#[tokio::test]
async fn chunked_framing_with_odd_boundaries_both_ways() {
    let (addr, server) = serve_once(|mut stream| async move {
        let mut data = read_heads(&mut stream, 1).await;
        let end = head_end(&data);
        // Decode the request's chunked body with the response parser behind a
        // synthetic head: the framing rules are the same.
        let mut decoder = ResponseDecoder::new(ResponseLimits::default());
        let mut items = Vec::new();
        decoder.push(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            &mut items,
        );
        decoder.push(&data.split_off(end), &mut items);
        let mut buf = [0u8; 1024];
        while !items
            .iter()
            .any(|i| matches!(i, ResponseItem::End { .. } | ResponseItem::Error(_)))
        {
            let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
                .await
                .expect("body in time")
                .expect("read");
            assert!(n > 0, "client closed inside the chunked body");
            decoder.push(&buf[..n], &mut items);
        }
        let body: Vec<u8> = items
            .iter()
            .filter_map(|i| match i {
                ResponseItem::Body(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        // Answer with the same body in odd chunks, written in odd pieces.
        let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for piece in [&body[..1], &body[1..12], &body[12..]] {
            response.extend_from_slice(format!("{:x};n=v\r\n", piece.len()).as_bytes());
            response.extend_from_slice(piece);
            response.extend_from_slice(b"\r\n");
        }
        response.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
        for piece in response.chunks(5) {
            stream.write_all(piece).await.expect("write");
        }
        body
    })
    .await;
    let body = b"{\"jsonrpc\":\"2.0\",\"method\":\"x\"}";
    let mut wire = b"POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let body_start = wire.len();
    wire.extend_from_slice(
        b"1\r\n{\r\nA;ext=1\r\n\"jsonrpc\":\r\n13\r\n\"2.0\",\"method\":\"x\"}\r\n0\r\n\r\n",
    );
    // Cuts inside a chunk-size line, between CR and LF, and inside chunk data.
    let cuts = [
        body_start + 1,
        body_start + 3,
        body_start + 5,
        body_start + 9,
        body_start + 20,
    ];
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.deliver(&Delivery::split_at(&wire, &cuts, Duration::from_millis(5)))
        .await
        .expect("deliver");
    let response = raw.read_response(soon()).await.expect("response");
    assert_eq!(response.head.framing, BodyFraming::Chunked);
    assert_eq!(response.body, body);
    assert_eq!(
        response.trailers,
        vec![("X-Trailer".to_string(), b"t".to_vec())]
    );
    assert_eq!(join(server).await, body);
}

#[tokio::test]
async fn pipelined_requests_get_responses_in_order() {
    let (addr, server) = serve_once(|mut stream| async move {
        let data = read_heads(&mut stream, 2).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 404 Not Found\r\nContent-Length: 6\r\n\r\nsecond")
            .await
            .expect("write");
        data
    })
    .await;
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.deliver(&Delivery::coalesced([
        &b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    ]))
    .await
    .expect("deliver");
    let first = raw.read_response(soon()).await.expect("first");
    let second = raw.read_response(soon()).await.expect("second");
    assert_eq!((first.status(), &first.body[..]), (200, &b"first"[..]));
    assert_eq!((second.status(), &second.body[..]), (404, &b"second"[..]));
    assert_eq!(count_heads(&join(server).await), 2);
}

#[tokio::test]
async fn raw_read_reports_framing_errors_timeouts_and_closes() {
    let (release, released) = oneshot::channel::<()>();
    let (addr, server) = serve_once(|mut stream| async move {
        read_heads(&mut stream, 1).await;
        let _ = tokio::time::timeout(WAIT, released).await;
    })
    .await;
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let err = raw
        .read_response(Instant::now() + Duration::from_millis(200))
        .await
        .expect_err("no answer");
    assert_eq!(
        err,
        RawError::Timeout {
            got_head: false,
            body_received: 0
        }
    );
    let _ = release.send(());
    join(server).await;
    assert_eq!(raw.read_response(soon()).await, Err(RawError::Closed));

    let (addr, server) = serve_once(|mut stream| async move {
        read_heads(&mut stream, 1).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let mut raw = RawHttp::connect(addr, RawOptions::default())
        .await
        .expect("connect");
    raw.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let err = raw.read_response(soon()).await.expect_err("bare LF");
    assert_eq!(
        err,
        RawError::Framing(FramingError {
            at: 15,
            kind: FramingErrorKind::BareLf
        })
    );
    join(server).await;
}

#[tokio::test]
async fn free_port_and_waiting_for_a_listener() {
    let port = free_loopback_port().expect("a free port");
    assert_ne!(port, 0);
    // Nothing listens on a just-freed port: the wait gives up at its deadline.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let err = wait_until_listening(addr, Instant::now() + Duration::from_millis(150))
        .await
        .expect_err("nothing listening");
    assert!(err.attempts >= 1);
    assert_eq!(err.last_error, Some(std::io::ErrorKind::ConnectionRefused));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let attempts = wait_until_listening(addr, soon()).await.expect("listening");
    assert_eq!(attempts, 1);
}
