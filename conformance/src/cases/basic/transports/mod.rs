//! Spec pages under `basic/transports/`.

pub mod stdio;
