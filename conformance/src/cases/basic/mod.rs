//! Spec pages under `basic/`.

pub mod index;
pub mod lifecycle;
pub mod schema;
pub mod security_best_practices;
pub mod transports;
pub mod utilities;
