//! TCP gaps inside and across frames, and in compressed streams.

use super::*;

#[test]
fn gap_inside_frame_keeps_boundaries() {
    let mut s = response(None);
    let resp_len = s.len();
    s.extend(sf(true, 2, &[1u8; 100]));
    s.extend(sf(true, 1, b"after"));
    // lose 40 bytes in the middle of the binary frame's payload
    let cut = resp_len + 2 + 30;
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s[..cut].to_vec()),
        Ev::Gap(S2C, 40),
        Ev::Data(S2C, s[cut + 40..].to_vec()),
    ]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "binary", "UNDECODABLE"),
            s3("server_to_client", "text", "after")
        ]
    );
    assert_eq!(r.messages[0].errors, vec![Problem::Gap(40)]);
    assert_eq!(r.flows[0].server_to_client.gaps, 1);
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 0);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.message.contains("tcp gap of 40")));
}

#[test]
fn gap_across_frames_resyncs() {
    let mut s = response(None);
    let resp_len = s.len();
    s.extend(sf(true, 1, b"first message"));
    s.extend(sf(false, 1, b"fragment one"));
    s.extend(sf(
        true,
        0,
        b"fragment two, long enough to lose the header after it",
    ));
    let resume = s.len() + 5;
    s.extend(sf(true, 1, b"lost"));
    s.extend(sf(true, 1, b"found"));
    s.extend(sf(true, 9, b""));
    s.extend(sf(true, 1, b"again"));
    let cut = resp_len + 2 + 13 + 2 + 5;
    let r = run(&[
        Ev::Data(C2S, request(None)),
        Ev::Data(S2C, s[..cut].to_vec()),
        Ev::Gap(S2C, 10),
        Ev::Data(S2C, s[cut + 10..resume].to_vec()),
        Ev::Data(S2C, s[resume..].to_vec()),
    ]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "first message"),
            s3("server_to_client", "text", "UNDECODABLE"),
            s3("server_to_client", "text", "lost"),
            s3("server_to_client", "text", "found"),
            s3("server_to_client", "ping", ""),
            s3("server_to_client", "text", "again"),
        ],
        "{:#?}",
        r.messages
            .iter()
            .map(|m| (&m.text, &m.errors))
            .collect::<Vec<_>>()
    );
    let st = &r.flows[0].server_to_client;
    assert_eq!(st.gaps, 1);
    let lost = resume - 5 - (cut + 10);
    assert_eq!(st.skipped_bytes, lost as u64);
    assert!(r.problems >= 3);
}

#[test]
fn gap_in_deflate_context_takeover() {
    let mut sd = Deflater::new(15, false);
    let mut s = response(Some("permessage-deflate"));
    let base = b"the same words again and again, the same words again and again".repeat(4);
    let m1 = sd.message(&base);
    let m2 = sd.message(&base);
    let fresh: Vec<u8> = (0..200u32).map(|i| (i * 37 % 256) as u8).collect();
    let m3 = sd.message(&fresh);
    let m4 = sd.message(&base);
    s.extend(frame(true, true, 2, None, &m1));
    let before = s.len();
    s.extend(frame(true, true, 2, None, &m2));
    let f3 = s.len();
    s.extend(frame(true, true, 2, None, &m3));
    s.extend(frame(true, true, 2, None, &m4));
    // the second message's payload is cut in the middle by a 1-byte gap
    let r = run(&[
        Ev::Data(C2S, request(Some("permessage-deflate"))),
        Ev::Data(S2C, s[..before + 3].to_vec()),
        Ev::Gap(S2C, 1),
        Ev::Data(S2C, s[before + 4..f3].to_vec()),
        Ev::Data(S2C, s[f3..].to_vec()),
    ]);
    let got = summary(&r);
    assert_eq!(got[0].2, b64(&base));
    assert_eq!(got[1].2, "UNDECODABLE");
    // the third message only refers to its own bytes: decodes although history is lost
    assert_eq!(got[2].2, b64(&fresh));
    // the fourth refers to the first two: reported, not guessed
    assert_eq!(got[3].2, "UNDECODABLE");
    assert!(
        r.messages[3].errors[0].to_string().contains("too far back"),
        "{:?}",
        r.messages[3]
    );
    assert!(r.messages[3].errors[0].to_string().contains("history"));
}
