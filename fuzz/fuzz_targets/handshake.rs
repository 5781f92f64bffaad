//! The HTTP upgrade parsers and the extension negotiation on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::http::{self, Status};

fuzz_target!(|data: &[u8]| {
    if let Ok(Status::Complete { head, consumed }) = handshake::parse_request(data) {
        assert!(consumed <= data.len());
        let _ = head.is_websocket_upgrade();
        let _ = head.problems();
        for e in &head.extensions {
            let _ = handshake::parse_extension(e);
        }
        if let Some(k) = &head.key {
            let _ = handshake::accept_for_key(k);
        }
    }
    if let Ok(Status::Complete { head, consumed }) = handshake::parse_response(data) {
        assert!(consumed <= data.len());
        let _ = head.is_websocket_accept();
        let _ = handshake::permessage_deflate(&head.extensions);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = handshake::split_list(s);
        let _ = handshake::parse_extension(s);
        let _ = handshake::permessage_deflate(&[s.to_string()]);
    }
    let _ = handshake::may_be_complete(data, data.len() / 2);
});
