//! mcpspec-harness: bytes, processes and transports for driving an untrusted server.
//!
//! Nothing here knows about MCP. The harness delivers bytes in chosen shapes, decodes
//! what comes back with strict bounded parsers, and keeps a transcript of both.

pub mod delivery;
pub mod fuzzing;
pub mod ndjson;
pub mod process;
pub mod transcript;

pub use delivery::{Delivery, Piece};
pub use ndjson::{Frame, FrameError, NdjsonDecoder};
pub use process::{
    kill_all_children, CommandSpec, ExitInfo, FrameReader, ProcessControl, ProcessOptions, Recv,
    ServerProcess, Shutdown, ShutdownStep, SpawnError, StdinWriter, StdoutEvent,
};
pub use transcript::{escape_bytes, BoundedCapture, Direction, Transcript};
