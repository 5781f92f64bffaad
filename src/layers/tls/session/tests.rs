//! The record layer on hand-made records: framing, hellos, alerts, hostile headers.

use super::*;

fn record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty, 3, 3];
    r.extend((body.len() as u16).to_be_bytes());
    r.extend(body);
    r
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![ty];
    h.extend(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend(body);
    h
}

/// A ClientHello body with SNI `name`.
fn client_hello(name: &str) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([9; 32]);
    b.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut sni = vec![0];
    sni.extend((name.len() as u16).to_be_bytes());
    sni.extend(name.as_bytes());
    let mut list = (sni.len() as u16).to_be_bytes().to_vec();
    list.extend(sni);
    let mut ext = 0u16.to_be_bytes().to_vec();
    ext.extend((list.len() as u16).to_be_bytes());
    ext.extend(list);
    b.extend((ext.len() as u16).to_be_bytes());
    b.extend(ext);
    b
}

fn server_hello() -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend([7; 32]);
    b.extend([0, 0xc0, 0x2f, 0]);
    b
}

fn feed(s: &mut Session, dir: Direction, bytes: &[u8], chunk: usize) -> Vec<String> {
    let mut ups = Vec::new();
    for c in bytes.chunks(chunk) {
        s.data(dir, c, Provenance::of(1, Default::default()), &mut |u| {
            ups.push(format!("{u:?}"))
        });
    }
    ups
}

#[test]
fn a_hello_split_over_records_and_chunks_is_read() {
    let hs = handshake(1, &client_hello("split.example"));
    let (a, b) = hs.split_at(20);
    let mut bytes = record(22, a);
    bytes.extend(record(22, b));
    for chunk in [1, 3, 7, bytes.len()] {
        let mut s = Session::new(Keys::new());
        feed(&mut s, Direction::ClientToServer, &bytes, chunk);
        assert_eq!(s.summary().sni.as_deref(), Some("split.example"), "{chunk}");
        assert_eq!(s.summary().decryption, Decryption::NoKey);
    }
}

#[test]
fn a_server_hello_before_the_client_hello_waits_for_it() {
    let mut s = Session::new(Keys::new());
    feed(
        &mut s,
        Direction::ServerToClient,
        &record(22, &handshake(2, &server_hello())),
        5,
    );
    assert_eq!(s.summary().version, None);
    feed(
        &mut s,
        Direction::ClientToServer,
        &record(22, &handshake(1, &client_hello("a"))),
        64,
    );
    assert_eq!(s.summary().version, Some(0x0303));
    assert_eq!(s.summary().suite, Some(0xc02f));
}

#[test]
fn an_impossible_record_stops_the_direction() {
    let mut s = Session::new(Keys::new());
    let mut bytes = record(22, &handshake(1, &client_hello("a")));
    bytes.extend([23, 3, 3, 0xff, 0xff]);
    feed(&mut s, Direction::ClientToServer, &bytes, 1000);
    let w: Vec<Warning> = s.drain_warnings().collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].note, Note::NotARecord);
    // Later bytes are counted, not kept.
    feed(&mut s, Direction::ClientToServer, &[0; 100_000], 1000);
    assert!(s.halves[0].buf.is_empty());
}

#[test]
fn close_notify_ends_the_direction() {
    let mut s = Session::new(Keys::new());
    let mut bytes = record(22, &handshake(1, &client_hello("a")));
    bytes.extend(record(21, &[1, 0]));
    bytes.extend(record(21, &[2, 40]));
    let ups = feed(&mut s, Direction::ClientToServer, &bytes, 1000);
    assert_eq!(ups.len(), 1);
    assert!(ups[0].starts_with("Closed(ClientToServer"), "{ups:?}");
    // What follows a close_notify is not read: one alert listed.
    assert_eq!(s.summary().alerts.len(), 1);
    assert_eq!(s.summary().alerts[0].description, 0);
}
