//! The upgrade handshake: split anywhere, rejected, roles swapped, a wrong accept key,
//! plain HTTP that is not WebSocket.

use super::*;

#[test]
fn handshake_and_messages_split_everywhere() {
    let c = client_stream();
    let s = server_stream();
    let req_len = request(None).len();
    for cut in 0..=c.len() {
        let (a, b) = c.split_at(cut);
        let mut evs = vec![Ev::Data(C2S, a.to_vec())];
        if cut >= req_len {
            evs.push(Ev::Data(S2C, s.clone()));
            evs.push(Ev::Data(C2S, b.to_vec()));
        } else {
            evs.push(Ev::Data(C2S, b.to_vec()));
            evs.push(Ev::Data(S2C, s.clone()));
        }
        let r = run(&evs);
        assert_eq!(sorted(summary(&r)), expected_basic(), "client cut at {cut}");
        assert!(
            r.messages.iter().all(|m| m.errors.is_empty()),
            "cut {cut}: {:?}",
            r.messages
        );
        assert_eq!(r.problems, 0, "cut {cut}: {:?}", r.warnings);
    }
    for cut in 0..=s.len() {
        let (a, b) = s.split_at(cut);
        let r = run(&[
            Ev::Data(C2S, c.clone()),
            Ev::Data(S2C, a.to_vec()),
            Ev::Data(S2C, b.to_vec()),
        ]);
        assert_eq!(sorted(summary(&r)), expected_basic(), "server cut at {cut}");
    }
}

#[test]
fn byte_by_byte_and_fields() {
    let mut evs: Vec<Ev> = client_stream()
        .iter()
        .map(|b| Ev::Data(C2S, vec![*b]))
        .collect();
    evs.extend(server_stream().iter().map(|b| Ev::Data(S2C, vec![*b])));
    let r = run(&evs);
    assert_eq!(sorted(summary(&r)), expected_basic());
    let frag = &r.messages[2];
    assert_eq!(frag.frames, 3);
    assert_eq!(frag.length, 6);
    assert_eq!(frag.wire_length, 6);
    let req_len = request(None).len() as u64;
    // first byte of the first fragment's header .. last byte of the final fragment
    let first = req_len + 11 + 1;
    assert_eq!(frag.packets[0], first);
    assert_eq!(frag.packets[1], first + 8 + 11 + 8 + 6 + 2 - 1);
    let ts = Timestamp {
        secs: 1_700_000_000 + frag.packets[1] as i64 - 1,
        nanos: 0,
        digits: 6,
    };
    assert_eq!(frag.timestamp, ts);
    let close = &r.messages[4];
    assert_eq!(close.close_code, Some(1000));
    assert_eq!(close.close_reason.as_deref(), Some("bye"));
    let flow = &r.flows[0];
    assert_eq!(flow.state.as_str(), "upgraded");
    assert_eq!(flow.accept_valid, Some(true));
    assert_eq!(flow.protocol.as_deref(), Some("chat"));
    assert_eq!(flow.offered_protocols, vec!["chat", "superchat"]);
    assert_eq!(flow.path.as_deref(), Some("/chat"));
    assert_eq!(flow.client_to_server.messages, 5);
    assert_eq!(flow.client_to_server.frames, 7);
    assert_eq!(flow.server_to_client.messages, 4);
    assert!(flow.errors.is_empty(), "{:?}", flow.errors);
    assert_eq!(r.frames.len(), 11);
    let f0 = &r.frames[0];
    assert_eq!(f0.mask_key, Some([0x11, 0x22, 0x33, 0x44]));
    assert_eq!(f0.stream_offset, req_len);
    assert_eq!(
        f0.payload_b64.as_ref().map(|p| p.to_string()),
        Some(b64(b"hello"))
    );
}

#[test]
fn one_chunk_and_101_followed_by_frames() {
    let r = run(&[
        Ev::Data(C2S, client_stream()),
        Ev::Data(S2C, server_stream()),
    ]);
    assert_eq!(sorted(summary(&r)), expected_basic());
    assert!(r.messages.iter().all(|m| m.packets[0] == m.packets[1]));
}

#[test]
fn roles_swapped_by_handshake() {
    let r = run_with(
        all_opts(),
        false,
        &[
            Ev::Data(S2C, client_stream()),
            Ev::Data(C2S, server_stream()),
        ],
    );
    assert_eq!(sorted(summary(&r)), expected_basic());
    assert_eq!(r.messages[0].client.to_string(), "10.0.0.2:8080");
    assert!(r.flows[0].roles_swapped);
}

#[test]
fn rejected_upgrade() {
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(
            S2C,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno".to_vec(),
        ),
        Ev::Data(C2S, cf(true, 1, b"x")),
    ]);
    assert!(r.messages.is_empty());
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0].state.as_str(), "rejected");
    assert_eq!(r.flows[0].status, Some(403));
    assert_eq!(r.problems, 0);
}

#[test]
fn answer_cut_by_a_gap_is_not_replayed_as_frames() {
    let answer = response(None);
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, answer[..20].to_vec()),
        Ev::Gap(S2C, (answer.len() - 20) as u64),
        Ev::Data(S2C, sf(true, 1, b"after the hole")),
        Ev::Data(C2S, cf(true, 1, b"hello")),
    ]);
    let mut texts: Vec<&str> = r
        .messages
        .iter()
        .filter_map(|m| m.text.as_deref())
        .collect();
    texts.sort();
    assert_eq!(texts, ["after the hole", "hello"]);
    // The frame after the hole was found by searching: a guess, and said so.
    for m in &r.messages {
        let expect = match m.direction {
            WsDirection::ServerToClient => vec![Problem::GuessedBoundary],
            WsDirection::ClientToServer => vec![],
        };
        assert_eq!(m.errors, expect, "{m:?}");
    }
    assert_eq!(r.flows[0].server_to_client.guessed_messages, 1);
    assert!(r.flows[0]
        .errors
        .iter()
        .any(|e| e.to_string().contains("lost in a tcp gap")));
    // The partial answer is skipped as such, and the hole sits after it, not at offset 0.
    let w: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        w.iter()
            .any(|m| m.ends_with("tcp gap of 139 bytes at stream offset 20")),
        "{w:?}"
    );
    assert!(
        w.iter().all(|m| !m.contains("not WebSocket frames")),
        "{w:?}"
    );
}

#[test]
fn plain_http_and_other_tcp_produce_nothing() {
    let r = run(&[
        Ev::Data(C2S, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        Ev::Data(S2C, b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
    ]);
    assert!(r.flows.is_empty() && r.messages.is_empty());
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let r = run(&[Ev::Data(C2S, noise.clone()), Ev::Data(S2C, noise)]);
    assert!(r.flows.is_empty() && r.messages.is_empty());
}

#[test]
fn bad_accept_key() {
    let resp = String::from_utf8(response(None))
        .expect("utf8")
        .replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA");
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, resp.into_bytes()),
    ]);
    assert_eq!(r.flows[0].accept_valid, Some(false));
    assert!(r.flows[0].errors[0].to_string().contains("does not match"));
    assert_eq!(r.problems, 1);
}

#[test]
fn unanswered_upgrade_is_a_handshake_problem() {
    let cut_answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n".to_vec();
    for answer in [
        vec![],
        b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
        cut_answer,
    ] {
        let r = run(&[
            Ev::Data(C2S, request(None)),
            Ev::Data(S2C, answer.clone()),
            Ev::Close(C2S),
            Ev::Close(S2C),
        ]);
        let f = &r.flows[0];
        assert_eq!(f.state, FlowState::Unanswered, "{answer:?}");
        assert_eq!(
            f.errors,
            vec![Problem::Handshake(HandshakeProblem::Unanswered)]
        );
        assert_eq!(r.problems, 1);
        assert_eq!(f.errors[0].kind(), crate::ws::problem::Kind::Handshake);
    }
}
