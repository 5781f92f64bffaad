//! The packet decoder: a link type (first 2 bytes, folded onto the supported ones and a
//! few others) and arbitrary packet bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

const LINKTYPES: [u32; 13] = [1, 0, 108, 113, 276, 101, 228, 229, 12, 14, 239, 147, 9999];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[sel as usize % LINKTYPES.len()];
    if let Ok(seg) = wsdissect::capture::packet::decode(lt, rest) {
        assert!(seg.payload.len() <= rest.len());
    }
});
