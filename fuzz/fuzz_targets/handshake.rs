//! The HTTP upgrade parsers and the extension negotiation on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsdissect::http::{self, Status};

fuzz_target!(|data: &[u8]| {
    if let Ok(Status::Complete { head, consumed }) = http::parse_request(data) {
        assert!(consumed <= data.len());
        let _ = head.is_websocket_upgrade();
        let _ = head.problems();
        for e in &head.extensions {
            let _ = http::parse_extension(e);
        }
        if let Some(k) = &head.key {
            let _ = http::accept_for_key(k);
        }
    }
    if let Ok(Status::Complete { head, consumed }) = http::parse_response(data) {
        assert!(consumed <= data.len());
        let _ = head.is_websocket_accept();
        let _ = http::permessage_deflate(&head.extensions);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = http::split_list(s);
        let _ = http::parse_extension(s);
        let _ = http::permessage_deflate(&[s.to_string()]);
    }
    let _ = http::may_be_complete(data, data.len() / 2);
});
