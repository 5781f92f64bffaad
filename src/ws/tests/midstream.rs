//! Captures that start mid-connection, and `--decode-as`.

use super::*;

#[test]
fn midstream_detection_swaps_roles() {
    // capture starts mid-frame; the TCP layer guessed roles wrong
    let mut srv = sf(true, 2, &[9u8; 40]);
    srv = srv.split_off(10);
    for i in 0..4 {
        srv.extend(sf(true, 1, format!("server {i}").as_bytes()));
    }
    let mut cli = Vec::new();
    for i in 0..3 {
        cli.extend(cf(true, 1, format!("client {i}").as_bytes()));
    }
    let r = run_with(all_opts(), false, &[Ev::Data(C2S, srv), Ev::Data(S2C, cli)]);
    assert_eq!(
        sorted(summary(&r)),
        vec![
            s3("client_to_server", "text", "client 0"),
            s3("client_to_server", "text", "client 1"),
            s3("client_to_server", "text", "client 2"),
            s3("server_to_client", "text", "server 0"),
            s3("server_to_client", "text", "server 1"),
            s3("server_to_client", "text", "server 2"),
            s3("server_to_client", "text", "server 3"),
        ]
    );
    assert_eq!(r.flows[0].state.as_str(), "midstream");
    assert!(r.flows[0].roles_swapped);
    assert_eq!(r.messages[0].client.to_string(), "10.0.0.2:8080");
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 32);
}

#[test]
fn midstream_short_direction_detected_at_end() {
    let r = run_with(
        all_opts(),
        true,
        &[Ev::Data(C2S, cf(true, 1, b"only one")), Ev::Close(C2S)],
    );
    assert_eq!(
        summary(&r),
        vec![s3("client_to_server", "text", "only one")]
    );
}

#[test]
fn midstream_deflate_without_history() {
    let mut sd = Deflater::new(15, false);
    let base = b"repeated repeated repeated text text text".repeat(5);
    let _unseen = sd.message(&base);
    let mut s = Vec::new();
    for _ in 0..3 {
        s.extend(frame(true, true, 1, None, &sd.message(&base)));
    }
    let r = run(&[Ev::Data(S2C, s)]);
    assert_eq!(r.messages.len(), 3);
    assert!(r.messages[0].undecodable, "{:?}", r.messages[0]);
    // found by searching, without a handshake: a guess
    assert_eq!(r.messages[0].errors[0], Problem::GuessedBoundary);
    assert!(r.messages[0].errors[1].to_string().contains("too far back"));
    // later messages refer to the first one, which is decodable history? No: the
    // first failed, so its text never entered the window; they fail too, honestly.
    assert!(r.messages.iter().all(|m| m.undecodable
        || m.text.as_deref() == Some(std::str::from_utf8(&base).unwrap_or_default())));
}

#[test]
fn forced_decode_as() {
    let mut s = Vec::new();
    s.extend(sf(true, 1, b"forced"));
    let r = run_on(
        FlowInfo {
            carries: Carries::WebSocket,
            tls: None,
            h2: None,
            ..flow_info(true)
        },
        all_opts(),
        &[Ev::Data(S2C, s)],
    );
    assert_eq!(summary(&r), vec![s3("server_to_client", "text", "forced")]);
    assert_eq!(r.flows[0].state.as_str(), "forced");
}
