//! Spec pages under `basic/transports/`.

pub mod stdio;
pub mod streamable_http;
