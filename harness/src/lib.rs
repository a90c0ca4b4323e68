//! mcpspec-harness: bytes, processes and transports for driving an untrusted server.
//!
//! Nothing here knows about MCP. The harness delivers bytes in chosen shapes, decodes
//! what comes back with strict bounded parsers, and keeps a transcript of both.

pub mod delivery;
pub mod fuzzing;
pub mod http;
pub mod ndjson;
pub mod process;
pub mod sse;
pub mod transcript;

pub use delivery::{Delivery, Piece};
pub use http::{
    free_loopback_port, wait_until_listening, BodyFraming, BodyStream, FramingError,
    FramingErrorKind, Headers, HttpClient, HttpError, HttpOptions, HttpRequest, HttpResponse,
    HttpVersion, NotListening, RawError, RawEvent, RawHttp, RawOptions, RawResponse,
    ResponseDecoder, ResponseHead, ResponseItem, ResponseLimits,
};
pub use ndjson::{Frame, FrameError, NdjsonDecoder};
pub use process::{
    group_listening_sockets, kill_all_children, process_group_members, CommandSpec, ExitInfo,
    FrameReader, GroupSockets, ListeningSocket, ProcessControl, ProcessOptions, Recv,
    ServerProcess, Shutdown, ShutdownStep, SpawnError, StdinWriter, StdoutEvent,
};
pub use sse::{SseDecoder, SseEvent, SseItem, SseLimits};
pub use transcript::{escape_bytes, BoundedCapture, Direction, Transcript};
