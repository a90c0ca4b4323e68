//! Spec pages under `basic/`.

pub mod index;
pub mod lifecycle;
pub mod schema;
pub mod transports;
pub mod utilities;
