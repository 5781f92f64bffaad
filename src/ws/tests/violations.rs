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
