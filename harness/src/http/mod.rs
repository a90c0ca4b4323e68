//! HTTP/1.1 client pieces for driving a server over loopback, at the transport level.
//!
//! Two paths, because they test different things:
//! - [`HttpClient`] is an ordinary, well-behaved client (hyper underneath) for sending
//!   requests as a real MCP client would, with bodies read whole (bounded) or streamed
//!   chunk by chunk (for SSE), every wait under a deadline and every byte recorded.
//! - [`RawHttp`] writes arbitrary bytes on a TCP connection following a [`Delivery`]
//!   schedule (split bodies, short bodies, odd chunk boundaries, pipelining, half-close)
//!   and reads responses with a strict parser ([`ResponseDecoder`]) that reports the
//!   exact framing rule a server broke.
//!
//! Plus [`free_loopback_port`] and [`wait_until_listening`] for starting a foreign server.
//!
//! [`Delivery`]: crate::Delivery

mod client;
pub mod legacy_sse;
mod net;
mod raw;
mod response;

#[cfg(test)]
mod tests;

pub use client::{BodyStream, HttpClient, HttpError, HttpOptions, HttpRequest, HttpResponse};
pub use net::{free_loopback_port, wait_until_listening, NotListening};
pub use raw::{RawError, RawEvent, RawHttp, RawOptions, RawResponse};
pub use response::{
    BodyFraming, FramingError, FramingErrorKind, HttpVersion, ResponseDecoder, ResponseHead,
    ResponseItem, ResponseLimits, RESPONSE_EVIDENCE_BYTES,
};

/// Header fields in arrival order: names as sent, values as raw bytes (a value need not
/// be UTF-8).
pub type Headers = Vec<(String, Vec<u8>)>;

/// The first value of header `name` (ASCII case-insensitive).
pub fn header<'h>(headers: &'h Headers, name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}
