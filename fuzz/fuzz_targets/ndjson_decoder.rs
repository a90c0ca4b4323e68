//! The NDJSON decoder never panics, respects its bounds, and decodes the same frames
//! however the bytes are chunked. Logic: `mcpspec_harness::fuzzing::ndjson_decoder`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpspec_harness::fuzzing::{ndjson_decoder, NdjsonInput};

fuzz_target!(|data: &[u8]| {
    ndjson_decoder(&NdjsonInput::from_bytes(data));
});
