//! Bytes that are not frames: resynchronisation, early frames, arbitrary input.

use super::*;

#[test]
fn garbage_then_resync() {
    let mut s = response(None);
    s.extend(sf(true, 1, b"one"));
    s.extend([0xff, 0xfe, 0x13, 0x37, 0x77, 0x66]);
    s.extend(sf(true, 1, b"two"));
    s.extend(sf(true, 1, b"three"));
    s.extend(sf(true, 1, b"four"));
    let r = run(&[Ev::Data(C2S, request(None)), Ev::Data(S2C, s)]);
    assert_eq!(
        summary(&r),
        vec![
            s3("server_to_client", "text", "one"),
            s3("server_to_client", "text", "two"),
            s3("server_to_client", "text", "three"),
            s3("server_to_client", "text", "four"),
        ]
    );
    assert_eq!(r.flows[0].server_to_client.skipped_bytes, 6);
}

#[test]
fn early_client_frames_before_101() {
    let mut c = request(None);
    c.extend(cf(true, 1, b"eager"));
    let r = run(&[
        Ev::Data(C2S, c),
        Ev::Data(C2S, cf(true, 1, b"eager2")),
        Ev::Data(S2C, response(None)),
    ]);
    assert_eq!(
        summary(&r),
        vec![
            s3("client_to_server", "text", "eager"),
            s3("client_to_server", "text", "eager2")
        ]
    );
}

#[test]
fn no_panic_on_arbitrary_input() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let strat = proptest::collection::vec(
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            0u64..50,
        ),
        0..12,
    );
    runner
        .run(&strat, |chunks| {
            let mut evs = vec![
                Ev::Data(C2S, request(Some("permessage-deflate"))),
                Ev::Data(S2C, response(Some("permessage-deflate"))),
            ];
            for (dir, bytes, gap) in chunks {
                let d = if dir { C2S } else { S2C };
                if gap == 7 {
                    evs.push(Ev::Gap(d, gap));
                }
                evs.push(Ev::Data(d, bytes));
            }
            let _ = run(&evs);
            let _ = run_with(all_opts(), false, &evs[2..]);
            Ok(())
        })
        .expect("no panic");
}

/// xorshift64 bytes: reproducible noise.
fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// 2 MiB of noise after a gap: resynchronisation must not believe it (it made thousands
/// of fake messages, and a fake 2^62-byte frame swallowed the honest ones after it; then
/// up to 20, before chains had to line up with the packets).
#[test]
fn random_bytes_after_gap_make_few_fake_messages() {
    for (ext, seed) in [(None, 1u64), (Some("permessage-deflate"), 2), (None, 3)] {
        let mut s = response(ext);
        s.extend(sf(true, 1, b"before"));
        let mut after = Vec::new();
        for i in 0..20 {
            after.extend(sf(true, 1, format!("after {i}").as_bytes()));
        }
        let mut evs = vec![Ev::Data(C2S, request(ext)), Ev::Data(S2C, s)];
        evs.push(Ev::Gap(S2C, 1000));
        for c in noise(2 << 20, seed).chunks(1448) {
            evs.push(Ev::Data(S2C, c.to_vec()));
        }
        evs.push(Ev::Data(S2C, after));
        let opts = Options {
            flows: true,
            ..Options::default()
        };
        let r = run_with(opts, true, &evs);
        let texts: Vec<&str> = r
            .messages
            .iter()
            .filter_map(|m| m.text.as_deref())
            .collect();
        let honest: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| t.starts_with("after") || *t == "before")
            .collect();
        let fake = r.messages.len() - honest.len();
        assert_eq!(texts.first(), Some(&"before"));
        // The last fake frame may run into the first honest ones (no gap marks the end
        // of the noise); the rest must decode.
        let expect: Vec<String> = (8..20).map(|i| format!("after {i}")).collect();
        assert!(
            expect.iter().all(|e| honest.contains(&e.as_str())),
            "{ext:?}: {honest:?}"
        );
        // A fake frame can only come from the noise's last bytes running into the honest
        // frames, which then line it up: it says it is a guess.
        let fakes: Vec<&MessageRecord> = r
            .messages
            .iter()
            .filter(|m| !m.text.as_deref().is_some_and(|t| honest.contains(&t)))
            .collect();
        assert!(
            fake <= 1
                && fakes
                    .iter()
                    .all(|m| m.errors.contains(&Problem::GuessedBoundary)),
            "{ext:?}: {fake} fake messages from 2 MiB of noise: {fakes:#?}"
        );
        assert!(r.flows[0].server_to_client.skipped_bytes > 1 << 20);
    }
}
