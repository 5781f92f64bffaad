//! The WebSocket frame and message decoder with permessage-deflate, driven through the
//! `StreamSink` interface as the TCP reassembler drives it: an upgrade handshake
//! negotiating permessage-deflate (or none, for mid-connection detection, or a forced
//! port), then arbitrary bytes in chunks per direction, with gaps, and the close/end.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/ws.rs");

fuzz_target!(|input: Input| run(&input));
