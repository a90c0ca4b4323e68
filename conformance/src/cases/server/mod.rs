//! Spec pages under `server/`.

pub mod prompts;
pub mod resources;
pub mod tools;
pub mod utilities;
