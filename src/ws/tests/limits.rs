//! Hostile lengths, the maximum message size, streams that end inside a frame.

use super::*;

#[test]
fn huge_declared_length_allocates_nothing() {
    let mut s = response(None);
    s.extend(sf(true, 1, b"before"));
    s.extend([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    s.extend(sf(true, 1, b"after"));
    s.extend(sf(true, 1, b"more"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "before"),
            s3("server_to_client", "text", "after"),
            s3("server_to_client", "text", "more"),
        ]
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 10);
    assert!(r.warnings.iter().any(|w| w.message.contains("top bit")));
    // a legal length over 4 GiB is garbage too (it would swallow the stream)
    let mut s = response(None);
    s.extend([0x82, 127, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    s.extend(sf(true, 1, b"after"));
    s.extend(sf(true, 1, b"more"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "after"),
            s3("server_to_client", "text", "more"),
        ]
    );
    assert!(r
        .warnings
        .iter()
        .any(|w| w.message.contains("over the 4 GiB")));
    // a legal big length is consumed as it comes and reported at the end
    let mut s = response(None);
    s.extend([0x82, 127, 0, 0, 0, 0, 0xf0, 0, 0, 0]);
    s.extend([0u8; 1000]);
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s),
        Ev::Close(S2C),
    ]);
    assert_eq!(r.messages.len(), 1);
    assert!(r.messages[0].undecodable);
    assert!(
        r.messages[0].errors[0]
            .to_string()
            .contains("stream ended inside frame: have 1000 of 4026531840 bytes"),
        "{:?}",
        r.messages[0].errors
    );
}

#[test]
fn cap_truncates_and_next_message_decodes() {
    let mut sd = Deflater::new(15, false);
    let big = vec![b'z'; 200_000];
    let mut s = response(Some("permessage-deflate"));
    s.extend(frame(true, true, 1, None, &sd.message(&big)));
    s.extend(frame(true, true, 1, None, &sd.message(b"zzzz small")));
    let opts = Options {
        max_message_size: 1000,
        ..all_opts()
    };
    let r = run_with(
        opts,
        true,
        &[
            Ev::Data(C2S, request(Some("permessage-deflate"))),
            Ev::Data(S2C, s),
        ],
    );
    assert!(r.messages[0].truncated);
    assert_eq!(r.messages[0].length, 200_000);
    assert_eq!(r.messages[0].text.as_deref().map(str::len), Some(1000));
    assert_eq!(r.messages[1].text.as_deref(), Some("zzzz small"));
    assert_eq!(r.flows[0].server_to_client.truncated, 1);
}

#[test]
fn stream_ends_inside_frame_and_message() {
    let mut s = response(None);
    s.extend(sf(false, 1, b"part"));
    s.extend(sf(true, 0, b"0123456789"));
    s.truncate(s.len() - 4);
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s),
        Ev::Close(S2C),
    ]);
    assert_eq!(r.messages.len(), 1);
    assert!(r.messages[0].undecodable);
    assert_eq!(r.messages[0].frames, 2);
    assert!(r.messages[0].errors[0]
        .to_string()
        .contains("stream ended inside frame: have 6 of 10 bytes"));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.message.contains("stream ended")));
}
