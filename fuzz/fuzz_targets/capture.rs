//! The capture readers (pcap and pcapng, detected by content) on arbitrary bytes, then
//! every packet through the packet decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::capture::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = CaptureReader::new(data) else {
        return;
    };
    let mut errors = 0;
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                let _ = wsdissect::capture::packet::decode(p.linktype, p.data);
            }
            Ok(None) => break,
            Err(_) => {
                // A reader must make progress after an error; bound the loop anyway so
                // a reader stuck on one error shows up as a timeout, not an endless run.
                errors += 1;
                if errors > 10_000 {
                    panic!("capture reader keeps returning errors without progress");
                }
            }
        }
    }
});
