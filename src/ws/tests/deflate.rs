//! permessage-deflate: context takeover or not, every window size, RSV1 without it.

use super::*;

fn deflate_streams(
    ext: &str,
    client_nct: bool,
    server_nct: bool,
) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let msgs: Vec<Vec<u8>> = vec![
        b"{\"hello\":\"world\",\"n\":1}".repeat(20),
        b"{\"hello\":\"world\",\"n\":1}".repeat(20),
        "caf\u{e9} ".repeat(300).into_bytes(),
        b"{\"hello\":\"world\",\"n\":2}".repeat(25),
    ];
    let mut cd = Deflater::new(15, client_nct);
    let mut sd = Deflater::new(15, server_nct);
    let mut c = request(Some("permessage-deflate; client_max_window_bits"));
    let mut s = response(Some(ext));
    for (i, m) in msgs.iter().enumerate() {
        let z = cd.message(m);
        if i == 2 {
            // fragmented: RSV1 only on the first frame
            let (a, rest) = z.split_at(z.len() / 3);
            let (b, d) = rest.split_at(rest.len() / 2);
            c.extend(frame(false, true, 1, Some(KEY), a));
            c.extend(cf(true, 9, b"mid"));
            c.extend(frame(false, false, 0, Some(KEY), b));
            c.extend(frame(true, false, 0, Some(KEY), d));
        } else {
            c.extend(frame(true, true, 1, Some(KEY), &z));
        }
        s.extend(frame(true, true, 1, None, &sd.message(m)));
    }
    (c, s, msgs)
}

fn texts(r: &Run, dir: &str) -> Vec<String> {
    r.messages
        .iter()
        .filter(|m| m.direction.as_str() == dir && m.opcode == Opcode::Text)
        .map(|m| m.text.clone().unwrap_or_else(|| format!("{m:?}")))
        .collect()
}

fn as_strings(msgs: &[Vec<u8>]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8(m.clone()).expect("utf8"))
        .collect()
}

#[test]
fn deflate_context_takeover_and_not() {
    for (ext, cn, sn) in [
        ("permessage-deflate", false, false),
        (
            "permessage-deflate; server_no_context_takeover",
            false,
            true,
        ),
        (
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
            true,
            true,
        ),
        (
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
            true,
            false,
        ),
    ] {
        let (c, s, msgs) = deflate_streams(ext, cn, sn);
        for chunk in [1usize, 7, 100_000] {
            let mut evs = Vec::new();
            let req_len = request(Some("permessage-deflate; client_max_window_bits")).len();
            evs.push(Ev::Data(C2S, c[..req_len].to_vec()));
            let resp_len = response(Some(ext)).len();
            evs.push(Ev::Data(S2C, s[..resp_len].to_vec()));
            evs.extend(
                c[req_len..]
                    .chunks(chunk)
                    .map(|b| Ev::Data(C2S, b.to_vec())),
            );
            evs.extend(
                s[resp_len..]
                    .chunks(chunk)
                    .map(|b| Ev::Data(S2C, b.to_vec())),
            );
            let r = run(&evs);
            assert_eq!(
                texts(&r, "client_to_server"),
                as_strings(&msgs),
                "{ext} chunk {chunk}"
            );
            assert_eq!(
                texts(&r, "server_to_client"),
                as_strings(&msgs),
                "{ext} chunk {chunk}"
            );
            assert!(
                r.messages.iter().all(|m| m.errors.is_empty()),
                "{:?}",
                r.messages
            );
            assert!(r
                .messages
                .iter()
                .filter(|m| m.opcode == Opcode::Text)
                .all(|m| m.compressed));
            let p = r.flows[0].permessage_deflate.expect("pmd");
            assert_eq!(
                (p.client_no_context_takeover, p.server_no_context_takeover),
                (cn, sn)
            );
            let frag = r
                .messages
                .iter()
                .filter(|m| m.direction == WsDirection::ClientToServer)
                .nth(3)
                .expect("frag");
            assert_eq!(frag.frames, 3);
        }
    }
}

#[test]
fn deflate_every_window_size() {
    for bits in 8..=15u8 {
        let ext = format!("permessage-deflate; server_max_window_bits={bits}");
        let mut sd = Deflater::new(bits, false);
        let mut s = response(Some(&ext));
        let msgs: Vec<Vec<u8>> = (0..5)
            .map(|i| format!("message {i} ").repeat(200 + i).into_bytes())
            .collect();
        for m in &msgs {
            s.extend(frame(true, true, 2, None, &sd.message(m)));
        }
        let r = run(&[
            Ev::Data(C2S, request(Some("permessage-deflate"))),
            Ev::Data(S2C, s),
        ]);
        let got: Vec<String> = r
            .messages
            .iter()
            .map(|m| m.data_b64.as_ref().map(|b| b.encode()).unwrap_or_default())
            .collect();
        let want: Vec<String> = msgs.iter().map(|m| b64(m)).collect();
        assert_eq!(got, want, "bits {bits}");
        assert_eq!(
            r.flows[0]
                .permessage_deflate
                .and_then(|p| p.server_max_window_bits),
            Some(bits)
        );
    }
}
