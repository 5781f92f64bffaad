//! Truncated, corrupt and non-capture files: a clear error naming file and packet, the
//! rest still read, documented exit codes, never a panic.

mod common;

use common::*;

fn sample() -> Vec<u8> {
    std::fs::read(
        testdata().join("public/zeek/testing/btest/Traces/websocket/broker-websocket.pcap"),
    )
    .unwrap()
}

#[test]
fn not_a_capture_is_unusable_input() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("empty.pcap", &b""[..]),
        ("text.pcap", b"GET / HTTP/1.1\r\n\r\n"),
    ] {
        let p = tmp.path().join(name);
        std::fs::write(&p, content).unwrap();
        let out = wsdissect(&["tcp", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name) && err.contains("not a pcap"), "{err}");
    }
    let out = wsdissect(&["tcp", "/nonexistent/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn truncated_file_keeps_what_was_read() {
    let data = sample();
    let tmp = tempfile::tempdir().unwrap();
    for cut in (24..data.len()).step_by(97) {
        let p = tmp.path().join("cut.pcap");
        std::fs::write(&p, &data[..cut]).unwrap();
        let out = wsdissect(&["tcp", "--format", "jsonl", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "cut at {cut}");
        let err = String::from_utf8_lossy(&out.stderr);
        let whole_records = {
            let mut i = 24;
            while i + 16 <= cut {
                let len = u32::from_le_bytes(data[i + 8..i + 12].try_into().unwrap()) as usize;
                if i + 16 + len > cut {
                    break;
                }
                i += 16 + len;
            }
            i == cut
        };
        if !whole_records {
            assert!(
                err.contains("cut.pcap: packet ") && err.contains("truncated"),
                "cut {cut}: {err}"
            );
        }
        let strict = wsdissect(&["tcp", "--strict", "--format", "jsonl", p.to_str().unwrap()]);
        assert_eq!(
            strict.status.code(),
            Some(if whole_records { 0 } else { 1 }),
            "cut {cut}"
        );
    }
}

#[test]
fn lying_lengths_do_not_allocate_or_hang() {
    let mut data = sample();
    // Snap length 4 GB in the header, and the third packet claims 4 GB of data.
    data[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut i = 24;
    for _ in 0..2 {
        let len = u32::from_le_bytes(data[i + 8..i + 12].try_into().unwrap()) as usize;
        i += 16 + len;
    }
    data[i + 8..i + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("liar.pcap");
    std::fs::write(&p, &data).unwrap();
    let out = wsdissect(&["tcp", "--format", "jsonl", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("liar.pcap: packet 3: corrupt record"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn random_byte_flips_never_crash() {
    let data = sample();
    let tmp = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for round in 0..40 {
        let mut d = data.clone();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pos = 24 + (x as usize % (d.len() - 24));
            d[pos] ^= (x >> 32) as u8 | 1;
        }
        let p = tmp.path().join(format!("flip{round}.pcap"));
        std::fs::write(&p, &d).unwrap();
        for args in [
            &["tcp", "--format", "jsonl"][..],
            &["--format", "jsonl"][..],
        ] {
            let mut a = args.to_vec();
            a.push(p.to_str().unwrap());
            let out = wsdissect(&a);
            assert!(
                matches!(out.status.code(), Some(0..=2)),
                "round {round}: {out:?}"
            );
        }
    }
}
