//! Spec pages under `basic/transports/`.

pub mod http_with_sse;
pub mod stdio;
pub mod streamable_http;
