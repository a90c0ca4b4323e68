//! Spec pages under `server/utilities/`.

pub mod completion;
pub mod logging;
pub mod pagination;
