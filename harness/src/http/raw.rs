//! The raw path: arbitrary bytes on a TCP connection, read back with the strict parser.
//!
//! For what no client library will send: a body in timed pieces, a body shorter than
//! its `Content-Length` followed by a half or full close, chunked framing cut at odd
//! places, several requests pipelined in one write, malformed requests.

use super::response::{FramingError, ResponseDecoder, ResponseHead, ResponseItem, ResponseLimits};
use super::Headers;
use crate::delivery::Delivery;
use crate::transcript::{Direction, Transcript};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
pub struct RawOptions {
    pub connect_timeout: Duration,
    /// Bound on each write: a server that stops reading cannot stall the harness.
    pub write_timeout: Duration,
    pub limits: ResponseLimits,
    pub transcript_limit: usize,
}

impl Default for RawOptions {
    fn default() -> Self {
        RawOptions {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            limits: ResponseLimits::default(),
            transcript_limit: 256 * 1024,
        }
    }
}

/// What reading the connection produced next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawEvent {
    Item(ResponseItem),
    /// The server closed its side; every later call returns this again.
    Closed,
    /// Reading failed (e.g. `ConnectionReset`); `Closed` follows.
    ReadError(io::ErrorKind),
    /// The deadline passed; the connection is still usable.
    Timeout,
}

/// One complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// 1xx responses that came before the final one.
    pub interim: Vec<ResponseHead>,
    pub head: ResponseHead,
    pub body: Vec<u8>,
    pub trailers: Headers,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.head.status
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RawError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error(
        "timed out waiting for a response (head received: {got_head}, {body_received} body bytes)"
    )]
    Timeout {
        got_head: bool,
        body_received: usize,
    },
    #[error("response framing: {0}")]
    Framing(FramingError),
    /// The server closed the connection before a response began.
    #[error("connection closed before a response")]
    Closed,
    #[error("reading the response failed: {0}")]
    Read(io::ErrorKind),
}

/// A TCP connection on which the caller writes exactly the bytes it wants.
#[derive(Debug)]
pub struct RawHttp {
    reader: OwnedReadHalf,
    writer: Option<OwnedWriteHalf>,
    decoder: ResponseDecoder,
    pending: VecDeque<RawEvent>,
    closed: bool,
    buf: Vec<u8>,
    options: RawOptions,
    transcript: Transcript,
    local: SocketAddr,
    peer: SocketAddr,
}

impl RawHttp {
    pub async fn connect(addr: SocketAddr, options: RawOptions) -> Result<Self, RawError> {
        let connect = TcpStream::connect(addr);
        let stream = match tokio::time::timeout(options.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(RawError::Connect {
                    addr,
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(RawError::Connect {
                    addr,
                    reason: format!("no answer within {:?}", options.connect_timeout),
                })
            }
        };
        // Each piece of a schedule must leave as its own segment, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().map_err(|e| RawError::Connect {
            addr,
            reason: e.to_string(),
        })?;
        let transcript = Transcript::new(options.transcript_limit);
        transcript.note(&format!("raw connection {local} -> {addr}"));
        let (reader, writer) = stream.into_split();
        Ok(RawHttp {
            reader,
            writer: Some(writer),
            decoder: ResponseDecoder::new(options.limits),
            pending: VecDeque::new(),
            closed: false,
            buf: vec![0; 64 * 1024],
            options,
            transcript,
            local,
            peer: addr,
        })
    }

    /// Record into `transcript` from now on.
    pub fn with_transcript(mut self, transcript: Transcript) -> Self {
        self.transcript = transcript;
        self
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the writing side is still open (no half-close yet).
    pub fn can_write(&self) -> bool {
        self.writer.is_some()
    }

    /// One write of exactly these bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let writer = self.writer.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::BrokenPipe, "writing side already closed")
        })?;
        self.transcript.record(Direction::Sent, bytes);
        let write = async {
            writer.write_all(bytes).await?;
            writer.flush().await
        };
        match tokio::time::timeout(self.options.write_timeout, write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "server stopped reading (write timed out)",
            )),
        }
    }

    /// Deliver a schedule: each piece is its own write after its delay. The delays are
    /// the stimulus under test (the server's reads see separate pieces).
    pub async fn deliver(&mut self, delivery: &Delivery) -> io::Result<()> {
        for piece in delivery.pieces() {
            if !piece.delay_before.is_zero() {
                tokio::time::sleep(piece.delay_before).await;
            }
            self.write(&piece.bytes).await?;
        }
        Ok(())
    }

    /// Half-close: send FIN so the server reads end-of-stream, keep reading responses.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        self.transcript
            .note("half-closed the connection (FIN sent, still reading)");
        match tokio::time::timeout(self.options.write_timeout, writer.shutdown()).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "shutdown timed out",
            )),
        }
    }

    /// Full close: both directions, as a client that goes away.
    pub fn close(self) {
        self.transcript.note("closed the connection");
    }

    /// Abortive close: RST instead of FIN, as a client that crashed.
    pub fn reset(self) {
        // Zero linger makes the close send RST; it never blocks.
        let _ = self.reader.as_ref().set_zero_linger();
        self.transcript.note("reset the connection (RST)");
    }

    /// The next thing read from the connection, waiting until `deadline`.
    pub async fn next_event(&mut self, deadline: Instant) -> RawEvent {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event;
            }
            if self.closed {
                return RawEvent::Closed;
            }
            let read = self.reader.read(&mut self.buf);
            let mut items = Vec::new();
            match tokio::time::timeout_at(deadline.into(), read).await {
                Err(_) => return RawEvent::Timeout,
                Ok(Ok(0)) => {
                    self.transcript.note("server closed the connection");
                    self.decoder.finish(&mut items);
                    self.closed = true;
                }
                Ok(Ok(n)) => {
                    self.transcript.record(Direction::Received, &self.buf[..n]);
                    self.decoder.push(&self.buf[..n], &mut items);
                }
                Ok(Err(e)) => {
                    self.transcript.note(&format!("read failed: {e}"));
                    self.decoder.finish(&mut items);
                    self.closed = true;
                    self.pending.extend(items.drain(..).map(RawEvent::Item));
                    self.pending.push_back(RawEvent::ReadError(e.kind()));
                }
            }
            self.pending.extend(items.into_iter().map(RawEvent::Item));
        }
    }

    /// Read one complete response (after any 1xx ones), waiting until `deadline`.
    pub async fn read_response(&mut self, deadline: Instant) -> Result<RawResponse, RawError> {
        let mut interim = Vec::new();
        let mut head = None;
        let mut body = Vec::new();
        loop {
            match self.next_event(deadline).await {
                RawEvent::Item(ResponseItem::Head(h)) if h.is_interim() => interim.push(h),
                RawEvent::Item(ResponseItem::Head(h)) => head = Some(h),
                // Bounded by the parser's body limit.
                RawEvent::Item(ResponseItem::Body(bytes)) => body.extend_from_slice(&bytes),
                RawEvent::Item(ResponseItem::End { trailers }) => {
                    if let Some(head) = head.take() {
                        return Ok(RawResponse {
                            interim,
                            head,
                            body,
                            trailers,
                        });
                    }
                }
                RawEvent::Item(ResponseItem::Error(e)) => return Err(RawError::Framing(e)),
                RawEvent::Closed => return Err(RawError::Closed),
                RawEvent::ReadError(kind) => return Err(RawError::Read(kind)),
                RawEvent::Timeout => {
                    return Err(RawError::Timeout {
                        got_head: head.is_some(),
                        body_received: body.len(),
                    })
                }
            }
        }
    }
}
