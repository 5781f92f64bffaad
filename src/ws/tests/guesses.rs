//! Frame boundaries found by searching: which candidates the search refuses, and the
//! records that say their boundaries are a guess until the stream confirms them.

use super::*;

fn guessed(m: &MessageRecord) -> bool {
    m.errors.contains(&Problem::GuessedBoundary)
}

/// The server's handshake and a first message, then a gap: what follows is searched.
fn after_gap(ext: Option<&str>) -> Vec<Ev> {
    let mut s = response(ext);
    s.extend(sf(true, 1, b"before"));
    vec![
        Ev::Data(C2S, request(ext)),
        Ev::Data(S2C, s),
        Ev::Gap(S2C, 100),
    ]
}

#[test]
fn messages_after_a_gap_are_marked_until_confirmed() {
    let mut evs = after_gap(None);
    // each frame in a packet of its own, as peers write them
    for i in 0..6 {
        evs.push(Ev::Data(S2C, sf(true, 1, format!("after {i}").as_bytes())));
    }
    let r = run(&evs);
    let got: Vec<(Option<&str>, bool)> = r
        .messages
        .iter()
        .map(|m| (m.text.as_deref(), guessed(m)))
        .collect();
    // the frames of the proving chain are a guess; the first frame after them that
    // ends with its packet confirms the boundaries
    assert_eq!(
        got,
        [
            (Some("before"), false),
            (Some("after 0"), true),
            (Some("after 1"), true),
            (Some("after 2"), true),
            (Some("after 3"), false),
            (Some("after 4"), false),
            (Some("after 5"), false),
        ]
    );
    assert_eq!(r.flows[0].server_to_client.guessed_messages, 3);
    let marked: Vec<bool> = r
        .frames
        .iter()
        .map(|f| f.errors.contains(&Problem::GuessedBoundary))
        .collect();
    assert_eq!(marked, [false, true, true, true, false, false, false]);
    // a notice: --strict counts the gap, not the guess
    assert_eq!(
        Problem::GuessedBoundary.kind(),
        crate::ws::problem::Kind::Notice
    );
}

#[test]
fn frames_that_never_end_with_a_packet_stay_guessed() {
    let mut evs = after_gap(None);
    let mut all = Vec::new();
    for i in 0..5 {
        all.extend(sf(true, 1, format!("after {i}").as_bytes()));
    }
    // cut inside the third frame and inside the fifth: no frame ends with a packet
    // until the last
    let cuts = [0, 20, all.len() - 3, all.len()];
    for w in cuts.windows(2) {
        evs.push(Ev::Data(S2C, all[w[0]..w[1]].to_vec()));
    }
    let r = run(&evs);
    let marks: Vec<bool> = r.messages.iter().skip(1).map(guessed).collect();
    assert_eq!(marks, [true; 5]);
    assert_eq!(r.flows[0].server_to_client.guessed_messages, 5);
}

#[test]
fn midstream_messages_are_guesses() {
    let mut evs = Vec::new();
    // the capture starts inside a frame of each direction
    evs.push(Ev::Data(S2C, vec![b'x'; 30]));
    evs.push(Ev::Data(C2S, vec![b'y'; 30]));
    for i in 0..5 {
        evs.push(Ev::Data(S2C, sf(true, 1, format!("server {i}").as_bytes())));
        evs.push(Ev::Data(C2S, cf(true, 1, format!("client {i}").as_bytes())));
    }
    let r = run_with(all_opts(), false, &evs);
    assert_eq!(r.flows[0].state.as_str(), "midstream");
    for dir in [WsDirection::ClientToServer, WsDirection::ServerToClient] {
        let marks: Vec<bool> = r
            .messages
            .iter()
            .filter(|m| m.direction == dir)
            .map(guessed)
            .collect();
        assert_eq!(marks, [true, true, true, false, false], "{dir}");
    }
    assert_eq!(r.flows[0].client_to_server.guessed_messages, 3);
    assert_eq!(r.flows[0].server_to_client.guessed_messages, 3);
}

#[test]
fn a_known_boundary_is_no_guess() {
    // a header breaking two rules (reserved opcode, masked server frame) right where
    // the previous frame ended: a frame with violations, believed because frames follow
    let mut s = response(None);
    s.extend(sf(true, 1, b"before"));
    s.extend(frame(true, false, 5, Some(KEY), b"odd"));
    s.extend(sf(true, 1, b"after"));
    s.extend(sf(true, 1, b"again"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    let ops: Vec<String> = r.messages.iter().map(|m| m.opcode.to_string()).collect();
    assert_eq!(ops, ["text", "reserved:5", "text", "text"]);
    assert_eq!(
        r.messages[1].errors,
        [Problem::ReservedOpcode(5), Problem::MaskedServerFrame]
    );
    assert!(!r.messages.iter().any(guessed), "{:?}", r.messages);
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
}

#[test]
fn the_search_refuses_what_the_direction_forbids() {
    let honest: Vec<Vec<u8>> = (0..4)
        .map(|i| sf(true, 1, format!("honest {i}").as_bytes()))
        .collect();
    // server frames that are masked, RSV2/RSV3, RSV1 without permessage-deflate, a
    // continuation with no fragmented message open, a close with an invalid code
    let fakes: [Vec<u8>; 5] = [
        frame(true, false, 1, Some(KEY), b"masked"),
        frame(true, false, 0x30 | 1, None, b"rsv2 rsv3"),
        frame(true, true, 1, None, b"rsv1"),
        sf(true, 0, b"orphan"),
        sf(true, 8, &[0x03, 0xec]),
    ];
    for fake in &fakes {
        let mut evs = after_gap(None);
        // three of a kind, each in its packet: a chain that lines up, if believed
        for _ in 0..3 {
            evs.push(Ev::Data(S2C, fake.clone()));
        }
        evs.extend(honest.iter().map(|h| Ev::Data(S2C, h.clone())));
        let r = run(&evs);
        let texts: Vec<Option<&str>> = r.messages.iter().map(|m| m.text.as_deref()).collect();
        assert_eq!(
            texts,
            [
                Some("before"),
                Some("honest 0"),
                Some("honest 1"),
                Some("honest 2"),
                Some("honest 3")
            ],
            "{fake:02x?}"
        );
        assert_eq!(
            r.flows[0].server_to_client.skipped_bytes,
            3 * fake.len() as u64
        );
    }
}

#[test]
fn a_broken_header_while_guessing_ends_the_guess() {
    let mut evs = after_gap(None);
    // two frames filling a packet prove a boundary at a packet start...
    let mut two = sf(true, 1, b"one");
    two.extend(sf(true, 1, b"two"));
    evs.push(Ev::Data(S2C, two));
    // ...but the next header is a masked server frame: the guess was wrong, these
    // bytes are searched again instead of decoded as a frame with a violation
    let masked = frame(true, false, 1, Some(KEY), b"masked");
    evs.push(Ev::Data(S2C, masked.clone()));
    for i in 0..3 {
        evs.push(Ev::Data(S2C, sf(true, 1, format!("later {i}").as_bytes())));
    }
    let r = run(&evs);
    let got: Vec<(Option<&str>, bool)> = r
        .messages
        .iter()
        .map(|m| (m.text.as_deref(), guessed(m)))
        .collect();
    assert_eq!(
        got,
        [
            (Some("before"), false),
            (Some("one"), true),
            (Some("two"), true),
            (Some("later 0"), true),
            (Some("later 1"), true),
            (Some("later 2"), true),
        ]
    );
    assert!(!r
        .messages
        .iter()
        .any(|m| m.errors.contains(&Problem::MaskedServerFrame)));
    assert_eq!(
        r.flows[0].server_to_client.skipped_bytes,
        masked.len() as u64
    );
}

#[test]
fn a_continuation_may_start_a_chain_inside_an_open_message() {
    let mut s = response(None);
    s.extend(sf(false, 1, b"first half, "));
    let mut evs = vec![
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s),
        Ev::Gap(S2C, 10),
    ];
    evs.push(Ev::Data(S2C, sf(true, 0, b"second half")));
    for i in 0..3 {
        evs.push(Ev::Data(S2C, sf(true, 1, format!("next {i}").as_bytes())));
    }
    let r = run(&evs);
    // the continuation ends the message whose start was lost, found at the packet start
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
    assert_eq!(r.messages.len(), 5, "{:#?}", r.messages);
    assert_eq!(r.messages[1].opcode.to_string(), "continuation");
    assert!(guessed(&r.messages[1]));
}
