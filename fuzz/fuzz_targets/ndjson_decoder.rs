//! The NDJSON decoder never panics, respects its bounds, and decodes the same frames
//! however the bytes are chunked. Logic: `mcpspec_harness::fuzzing::ndjson_decoder`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec_harness::fuzzing::ndjson_decoder_bytes(data);
});
