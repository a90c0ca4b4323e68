//! Each fixture fault must make the case that targets it fail (or warn, for SHOULDs)
//! naming the right requirement. One module per case family.

mod completion;
mod index;
mod lifecycle;
mod logging;
mod pagination;
mod ping;
mod prompts;
mod resources;
mod schema;
mod stdio;
mod tools;
