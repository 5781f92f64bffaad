//! HTTP exchanges before the upgrade on the same connection: a keep-alive page (its
//! body by length or chunked), a 401 before an authenticated retry, and answers whose
//! end cannot be known.

use super::*;

const PAGE_REQ: &[u8] = b"GET /page HTTP/1.1\r\nHost: example.com\r\n\r\n";

/// Client and server streams: `before` exchanges, then the upgrade and the messages
/// of the basic conversation.
fn streams(before: &[(&[u8], &[u8])]) -> (Vec<u8>, Vec<u8>) {
    let mut c = Vec::new();
    let mut s = Vec::new();
    for (q, a) in before {
        c.extend_from_slice(q);
        s.extend_from_slice(a);
    }
    c.extend(client_stream());
    s.extend(server_stream());
    (c, s)
}

/// Runs the client's bytes up to each request, then the answer, in `step`-byte pieces.
fn conversation(before: &[(&[u8], &[u8])], step: usize) -> Run {
    let mut evs = Vec::new();
    let piece = |evs: &mut Vec<Ev>, d: Direction, b: &[u8]| {
        for c in b.chunks(step.max(1)) {
            evs.push(Ev::Data(d, c.to_vec()));
        }
    };
    for (q, a) in before {
        piece(&mut evs, C2S, q);
        piece(&mut evs, S2C, a);
    }
    let (c, s) = streams(&[]);
    let req_len = request(None).len();
    piece(&mut evs, C2S, c.get(..req_len).unwrap_or_default());
    piece(&mut evs, S2C, &s);
    piece(&mut evs, C2S, c.get(req_len..).unwrap_or_default());
    run(&evs)
}

#[test]
fn keep_alive_page_with_length_then_upgrade() {
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n<p>hi</p>\r\n";
    for step in [1, 7, 10_000] {
        let r = conversation(&[(PAGE_REQ, page)], step);
        assert_eq!(sorted(summary(&r)), expected_basic(), "step {step}");
        assert_eq!(r.problems, 0, "step {step}: {:?}", r.flows);
        let f = &r.flows[0];
        assert_eq!(f.state, FlowState::Upgraded);
        assert_eq!(f.path.as_deref(), Some("/chat"));
        assert_eq!(f.status, Some(101));
        assert_eq!(f.earlier_statuses, vec![200]);
    }
}

#[test]
fn keep_alive_chunked_page_and_head_then_upgrade() {
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
4\r\n<p>h\r\n7;ext=1\r\ni</p>\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let head_req: &[u8] = b"HEAD /page HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let head_ans: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n";
    let post: &[u8] = b"POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\na=b";
    let no_content: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    for step in [1, 5, 10_000] {
        let r = conversation(
            &[(PAGE_REQ, page), (head_req, head_ans), (post, no_content)],
            step,
        );
        assert_eq!(sorted(summary(&r)), expected_basic(), "step {step}");
        assert_eq!(r.problems, 0, "step {step}: {:?}", r.flows);
        assert_eq!(r.flows[0].earlier_statuses, vec![200, 200, 204]);
    }
}

#[test]
fn negotiate_401_then_authenticated_retry() {
    let first: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let denied: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n\
Content-Length: 12\r\n\r\nUnauthorized";
    let retry = String::from_utf8(request(None))
        .unwrap_or_default()
        .replace(
            "Host:",
            "Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnY=\r\nHost:",
        );
    for step in [1, 13, 10_000] {
        let mut evs = Vec::new();
        for (d, b) in [(C2S, first), (S2C, denied), (C2S, retry.as_bytes())] {
            evs.extend(b.chunks(step).map(|c| Ev::Data(d, c.to_vec())));
        }
        let c = client_stream();
        let req_len = request(None).len();
        evs.push(Ev::Data(S2C, server_stream()));
        evs.push(Ev::Data(C2S, c.get(req_len..).unwrap_or_default().to_vec()));
        let r = run(&evs);
        assert_eq!(sorted(summary(&r)), expected_basic(), "step {step}");
        assert_eq!(r.problems, 0, "step {step}: {:?}", r.flows);
        let f = &r.flows[0];
        assert_eq!(f.state, FlowState::Upgraded);
        assert_eq!(f.status, Some(101));
        assert_eq!(f.key.as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(f.accept_valid, Some(true));
        assert_eq!(f.earlier_statuses, vec![401]);
    }
}

#[test]
fn refused_upgrade_without_retry_stays_rejected() {
    let denied: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n\
Content-Length: 0\r\n\r\n";
    let mut c = request(None);
    c.extend(cf(true, 1, b"not after a refusal"));
    let r = run(&[Ev::Data(C2S, c), Ev::Data(S2C, denied.to_vec())]);
    assert!(r.messages.is_empty(), "{:?}", r.messages);
    let f = &r.flows[0];
    assert_eq!(f.state, FlowState::Rejected);
    assert_eq!(f.status, Some(401));
    assert!(f.earlier_statuses.is_empty());
}

#[test]
fn answer_ending_at_close_ends_the_connection() {
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>";
    let (c, s) = streams(&[(PAGE_REQ, page)]);
    let r = run(&[
        Ev::Data(C2S, c),
        Ev::Data(S2C, s),
        Ev::Close(S2C),
        Ev::Close(C2S),
    ]);
    assert!(r.messages.is_empty(), "{:?}", r.messages);
    assert!(r.frames.is_empty());
    assert!(r.flows.is_empty(), "{:?}", r.flows);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.problems, 0);
}

#[test]
fn broken_or_endless_exchanges_are_not_websocket() {
    let bad_chunk: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    let two_lengths: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    let not_http: &[u8] = b"\x00\x01garbage\r\n\r\n";
    for answer in [bad_chunk, two_lengths, not_http] {
        let (c, s) = streams(&[(PAGE_REQ, answer)]);
        let r = run(&[Ev::Data(C2S, c), Ev::Data(S2C, s)]);
        assert!(r.messages.is_empty(), "{:?}", r.messages);
        assert!(r.flows.is_empty(), "{:?}", r.flows);
    }
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut evs = Vec::new();
    for _ in 0..150 {
        evs.push(Ev::Data(C2S, PAGE_REQ.to_vec()));
        evs.push(Ev::Data(S2C, page.to_vec()));
    }
    let (c, s) = streams(&[]);
    evs.push(Ev::Data(C2S, c));
    evs.push(Ev::Data(S2C, s));
    let r = run(&evs);
    assert!(
        r.messages.is_empty(),
        "more than 100 exchanges: {:?}",
        r.messages
    );
    let mut evs = Vec::new();
    for _ in 0..99 {
        evs.push(Ev::Data(C2S, PAGE_REQ.to_vec()));
        evs.push(Ev::Data(S2C, page.to_vec()));
    }
    evs.push(Ev::Data(C2S, client_stream()));
    evs.push(Ev::Data(S2C, server_stream()));
    let r = run(&evs);
    assert_eq!(sorted(summary(&r)), expected_basic());
    assert_eq!(r.flows[0].earlier_statuses.len(), 99);
}

#[test]
fn gap_during_an_exchange_stops_following() {
    let page: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    let (c, s) = streams(&[]);
    let r = run(&[
        Ev::Data(C2S, PAGE_REQ.to_vec()),
        Ev::Data(S2C, page.to_vec()),
        Ev::Gap(S2C, 100),
        Ev::Data(C2S, c),
        Ev::Data(S2C, s),
    ]);
    assert!(r.messages.is_empty(), "{:?}", r.messages);
    assert!(r.flows.is_empty(), "{:?}", r.flows);
}
