//! The SSE decoder never panics, respects its bounds, and yields the same items however
//! the bytes are chunked. Logic: `mcpspec_harness::fuzzing::sse_decoder`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec_harness::fuzzing::sse_decoder(data);
});
