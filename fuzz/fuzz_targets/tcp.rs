//! The TCP reassembler driven by a structured list of segments over a few connections,
//! with small limits so that the out-of-order caps and flow eviction are exercised.
//! Checks that deliveries and gaps are never empty and only reach open flows, and that
//! the end of capture ends every flow.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/tcp.rs");

fuzz_target!(|input: Input| run(&input));
