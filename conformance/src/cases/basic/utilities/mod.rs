//! Spec pages under `basic/utilities/`.

pub mod ping;
