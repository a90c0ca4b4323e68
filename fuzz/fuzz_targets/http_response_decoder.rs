//! The raw HTTP/1.1 response parser never panics, respects its bounds, and yields the
//! same responses however the bytes are chunked. Logic:
//! `mcpspec_harness::fuzzing::http_response_decoder`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mcpspec_harness::fuzzing::http_response_decoder(data);
});
