//! RFC 6455 rules broken on the wire, each reported on its record; UTF-8 across
//! fragments.

use super::*;

#[test]
fn rsv1_without_deflate_is_a_violation() {
    let mut s = response(None);
    s.extend(frame(true, true, 1, None, b"plain"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(r.messages[0].text.as_deref(), Some("plain"));
    assert!(r.messages[0].errors[0]
        .to_string()
        .contains("not negotiated"));
    assert_eq!(r.problems, 1);
}

#[test]
fn violations_each_reported() {
    let mut s = response(None);
    let mut c = request(None);
    let mut expect: Vec<(&str, &str)> = Vec::new();
    c.extend(frame(true, false, 1, None, b"unmasked"));
    expect.push(("client_to_server", "unmasked client frame"));
    s.extend(frame(true, false, 1, Some(KEY), b"masked"));
    expect.push(("server_to_client", "masked server frame"));
    s.extend(sf(true, 9, &[b'p'; 126]));
    expect.push(("server_to_client", "control frame payload of 126"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(false, 9, b"frag"));
    expect.push(("server_to_client", "fragmented control frame"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(frame(true, false, 0x20 | 1, None, b"rsv2"));
    expect.push(("server_to_client", "RSV2"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(true, 3, b"reserved"));
    expect.push(("server_to_client", "reserved opcode 0x3"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(true, 0, b"orphan"));
    expect.push((
        "server_to_client",
        "continuation frame without a message start",
    ));
    s.extend(sf(false, 1, b"one"));
    s.extend(sf(true, 1, b"two"));
    expect.push(("server_to_client", "message never finished"));
    expect.push((
        "server_to_client",
        "new data message inside a fragmented message",
    ));
    s.extend(sf(true, 1, &[b'a', 0xff, b'b']));
    expect.push(("server_to_client", "invalid UTF-8"));
    let mut nm = vec![0x82, 126, 0, 3];
    nm.extend_from_slice(b"abc");
    s.extend(nm);
    expect.push(("server_to_client", "non-minimal length"));
    s.extend(sf(true, 2, b"ok"));
    expect.push(("server_to_client", ""));
    s.extend(sf(true, 8, &[0x03, 0xed]));
    expect.push(("server_to_client", "invalid close code 1005"));
    s.extend(sf(true, 1, b"late"));
    expect.push(("server_to_client", "frame after a close frame"));
    c.extend(cf(true, 8, &[3]));
    expect.push(("client_to_server", "1-byte payload"));
    let r = run(&[Ev::Data(C2S, c), Ev::Data(S2C, s)]);
    assert_eq!(
        r.messages.len(),
        expect.len(),
        "{:#?} {:#?}",
        summary(&r),
        r.warnings
    );
    let mut msgs: Vec<&MessageRecord> = r.messages.iter().collect();
    msgs.sort_by_key(|m| m.direction);
    let mut expect_sorted = expect.clone();
    expect_sorted.sort_by_key(|e| e.0);
    for (m, (dir, err)) in msgs.iter().zip(&expect_sorted) {
        assert_eq!(m.direction.as_str(), *dir);
        if err.is_empty() {
            assert!(m.errors.is_empty(), "{m:?}");
            continue;
        }
        assert!(
            m.errors.iter().any(|e| e.to_string().contains(err)),
            "expected {err:?} in {:?}",
            m
        );
    }
    let rsv = msgs.iter().find(|m| m.text.as_deref() == Some("rsv2"));
    assert!(
        rsv.is_some(),
        "RSV2 frame decoded as a frame with a violation"
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
    assert_eq!(r.flows[0].server_to_client.violations, 11);
    assert_eq!(r.flows[0].client_to_server.violations, 2);
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let mut s = response(None);
    let euro = "\u{20ac}".as_bytes();
    s.extend(sf(false, 1, &euro[..1]));
    s.extend(sf(false, 0, &euro[1..2]));
    s.extend(sf(true, 0, &euro[2..]));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(r.messages[0].text.as_deref(), Some("\u{20ac}"));
    assert!(r.messages[0].errors.is_empty());
}

/// A masked client frame whose 5-byte-or-so payload has a 16-bit length, as some
/// embedded clients always send.
fn cf16(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | op, 0x80 | 126];
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&KEY);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    f
}

#[test]
fn client_that_always_uses_16_bit_lengths_is_decoded() {
    let mut c = request(None);
    let words = ["hello", "world", "again", "12345", "fifth"];
    for w in words {
        c.extend(cf16(1, w.as_bytes()));
    }
    c.extend(cf16(9, b"ping!"));
    let r = run(&[Ev::Data(C2S, c), Ev::Data(S2C, response(None))]);
    let mut expect: Vec<_> = words
        .iter()
        .map(|w| s3("client_to_server", "text", w))
        .collect();
    expect.push(s3("client_to_server", "ping", &b64(b"ping!")));
    assert_eq!(summary(&r), expect);
    for m in &r.messages {
        assert_eq!(
            m.errors,
            vec![Problem::NonMinimalLength {
                bytes: 2,
                length: 5
            }],
            "{m:?}"
        );
    }
    assert_eq!(r.flows[0].client_to_server.skipped_bytes, 0);
}

#[test]
fn reserved_opcode_in_sync_is_a_message_then_the_next_is_fine() {
    let mut s = response(None);
    s.extend(sf(true, 1, b"before"));
    s.extend(sf(true, 5, b"\x00\xffodd"));
    s.extend(sf(true, 1, b"after"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    let ops: Vec<String> = r.messages.iter().map(|m| m.opcode.to_string()).collect();
    assert_eq!(ops, ["text", "reserved:5", "text"]);
    assert_eq!(r.messages[1].errors, vec![Problem::ReservedOpcode(5)]);
    assert_eq!(r.messages[1].wire_length, 5);
    assert_eq!(r.messages[2].text.as_deref(), Some("after"));
    assert!(r.messages[2].errors.is_empty());
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
}

#[test]
fn oversized_ping_in_sync_is_decoded() {
    let mut c = request(None);
    c.extend(cf(true, 1, b"first"));
    c.extend(cf(true, 9, &[b'p'; 200]));
    c.extend(cf(true, 1, b"last"));
    let r = run(&[Ev::Data(C2S, c), Ev::Data(S2C, response(None))]);
    let p = b64(&[b'p'; 200]);
    assert_eq!(
        summary(&r),
        vec![
            s3("client_to_server", "text", "first"),
            s3("client_to_server", "ping", &p),
            s3("client_to_server", "text", "last"),
        ]
    );
    assert_eq!(r.messages[1].errors, vec![Problem::ControlTooLong(200)]);
    assert!(r.messages[2].errors.is_empty());
}

#[test]
fn header_breaking_several_rules_in_sync_is_still_garbage() {
    // RSV2+RSV3, a reserved control opcode, a 126-byte length on a server frame that
    // is masked: noise, not a peer bending a rule
    let mut s = response(None);
    s.extend(sf(true, 1, b"one"));
    s.extend([0xff, 0xfe, 0x00, 0x7e, 1, 2, 3, 4]);
    s.extend(sf(true, 1, b"two"));
    s.extend(sf(true, 1, b"three"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    let texts: Vec<_> = r.messages.iter().map(|m| m.text.clone()).collect();
    assert_eq!(
        texts,
        [Some("one".into()), Some("two".into()), Some("three".into())]
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 8);
}
