//! Resynchronisation on real captures cut into pieces: `editcap -c N` splits a corpus
//! capture every N packets and each piece is decoded on its own, so that every piece but
//! the first starts mid-connection, often inside a frame, and ends inside one. Frame
//! boundaries are then searched for (issue 15), and the search must never invent a
//! message: everything decoded must be a message a peer sent (same connection,
//! direction, opcode and payload), and what the search found must say it is a guess.

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The corpus captures in the clear (cut TLS cannot be decrypted, so decodes nothing).
const CAPTURES: &[&str] = &[
    "01-python-websockets-deflate.pcap",
    "02-node-ws-plain-2mb.pcap",
    "03-node-ws-deflate.pcapng",
    "04-node-ws-deflate-nocontext-sll2.pcap",
    "05-aiohttp-compress-subprotocol.pcap",
    "06-cross-node-python.pcap",
    "07-ipv6.pcapng",
    "08-concurrent.pcap",
    "09-snaplen300.pcap",
    "10-late-start.pcap",
    "11-lossy.pcap",
    "12-lossy-gaps.pcap",
    "24-h2c-websocket.pcap",
];

/// Packets per piece: small enough to cut most connections several times (74 is the
/// count the issue was found with).
const COUNTS: &[usize] = &[37, 74];

/// The wording of the guessed-boundaries problem.
const GUESSED: &str = "frame boundaries guessed: found by searching, not followed from the start";

/// `capture` cut every `count` packets into `dir`, the pieces in order.
fn split(capture: &Path, count: usize, dir: &Path) -> Vec<PathBuf> {
    let ext = capture.extension().unwrap().to_str().unwrap();
    let out = Command::new("editcap")
        .arg("-c")
        .arg(count.to_string())
        .arg(capture)
        .arg(dir.join(format!("piece.{ext}")))
        .output()
        .expect("run editcap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pieces: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pieces.sort();
    pieces
}

/// (connection, direction, opcode, SHA-256 of the payload) of each message the peers sent.
fn sent(capture: &str) -> HashSet<(Key, String, String)> {
    let truth = testdata()
        .join("corpus")
        .join(capture.rsplit_once('.').unwrap().0.to_string() + ".truth.jsonl");
    truth_by_direction(&truth)
        .into_iter()
        .flat_map(|(k, msgs)| {
            msgs.into_iter().map(move |t| {
                (
                    k.clone(),
                    t["opcode"].as_str().unwrap().to_string(),
                    t["sha256"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect()
}

fn payload(m: &Value) -> Vec<u8> {
    match (m["text"].as_str(), m["data_b64"].as_str()) {
        (Some(t), _) => t.as_bytes().to_vec(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        (None, None) => panic!("a decoded message without a payload: {m}"),
    }
}

fn guessed(m: &Value) -> bool {
    m["errors"].as_array().unwrap().iter().any(|e| e == GUESSED)
}

#[derive(Default)]
struct Tally {
    pieces: usize,
    decoded: usize,
    guessed: usize,
    midstream: usize,
    problems: Vec<String>,
}

/// Decodes one piece and checks it against what the peers sent.
fn check_piece(piece: &Path, sent: &HashSet<(Key, String, String)>, t: &mut Tally) {
    let name = piece.to_str().unwrap();
    let messages = jsonl(&["--quiet", "--format", "jsonl", name]);
    t.pieces += 1;
    if messages.is_empty() {
        return;
    }
    let flows = jsonl(&["flows", "--quiet", "--format", "jsonl", name]);
    // Messages of each connection and direction, in order, marked or not.
    let mut marks: BTreeMap<(u64, String), Vec<bool>> = BTreeMap::new();
    for m in &messages {
        marks
            .entry((m["flow"].as_u64().unwrap(), m["direction"].to_string()))
            .or_default()
            .push(guessed(m));
        t.guessed += usize::from(guessed(m));
        if m["undecodable"] == true {
            continue;
        }
        t.decoded += 1;
        let what = (
            key_of(m),
            m["opcode"].as_str().unwrap().to_string(),
            sha(&payload(m)),
        );
        if !sent.contains(&what) {
            t.problems.push(format!("{name}: no peer sent {m}"));
        }
    }
    for f in &flows {
        let id = f["flow"].as_u64().unwrap();
        for dir in ["client_to_server", "server_to_client"] {
            let mine = marks
                .remove(&(id, format!("\"{dir}\"")))
                .unwrap_or_default();
            let counted = f[dir]["guessed_messages"].as_u64().unwrap_or(0);
            if counted != mine.iter().filter(|g| **g).count() as u64 {
                t.problems.push(format!(
                    "{name}: flow {id} {dir}: {counted} guessed messages counted, {mine:?} marked"
                ));
            }
            // Without a handshake, where frames start was found by searching.
            if f["state"] == "midstream" && mine.first() == Some(&false) {
                t.problems
                    .push(format!("{name}: flow {id} {dir}: first message not marked"));
            }
        }
        t.midstream += usize::from(f["state"] == "midstream");
    }
}

#[test]
fn pieces_of_real_captures_decode_only_what_the_peers_sent() {
    if !have_editcap("pieces_of_real_captures_decode_only_what_the_peers_sent") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut jobs = Vec::new();
    for capture in CAPTURES {
        let sent = sent(capture);
        let file = testdata().join("corpus").join(capture);
        for &count in COUNTS {
            let out = dir.path().join(format!("{capture}-{count}"));
            std::fs::create_dir(&out).unwrap();
            for piece in split(&file, count, &out) {
                jobs.push((piece, sent.clone()));
            }
        }
    }
    // Two at a time: a process per piece and view.
    let mut t = Tally::default();
    let (a, b) = jobs.split_at(jobs.len() / 2);
    let tallies = std::thread::scope(|s| {
        [a, b]
            .map(|half| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    for (piece, sent) in half {
                        check_piece(piece, sent, &mut t);
                    }
                    t
                })
            })
            .map(|h| h.join().unwrap())
    });
    for u in tallies {
        t.pieces += u.pieces;
        t.decoded += u.decoded;
        t.guessed += u.guessed;
        t.midstream += u.midstream;
        t.problems.extend(u.problems);
    }
    assert!(t.problems.is_empty(), "{}", t.problems.join("\n"));
    eprintln!(
        "{} pieces: {} messages decoded, all sent by a peer; {} marked guessed; {} midstream connections",
        t.pieces, t.decoded, t.guessed, t.midstream
    );
    assert!(t.pieces > 250 && t.decoded > 1000 && t.midstream > 150);
    assert!(t.guessed > 300);
}

/// `editcap -c 74` cuts 03-node-ws-deflate.pcapng inside a 35452-byte compressed client
/// frame; decoding the second piece alone found a 105-byte "pong" in its payload (a
/// masked pong, a compressed text and a binary frame in a row), with no error.
#[test]
fn the_pong_no_peer_sent_is_not_found() {
    if !have_editcap("the_pong_no_peer_sent_is_not_found") {
        return;
    }
    let file = testdata().join("corpus/03-node-ws-deflate.pcapng");
    let dir = tempfile::tempdir().unwrap();
    let pieces = split(&file, 74, dir.path());
    let second = pieces[1].to_str().unwrap();
    let messages = jsonl(&["--quiet", "--format", "jsonl", second]);
    let pongs: Vec<&Value> = messages
        .iter()
        .filter(|m| m["opcode"] == "pong" && m["direction"] == "client_to_server")
        .collect();
    assert!(
        pongs.iter().all(|m| m["length"] != 105),
        "the invented pong is back: {pongs:?}"
    );
    // The frame it hid in runs past the end of the piece: the client sends nothing
    // decodable here.
    assert!(
        messages
            .iter()
            .filter(|m| m["direction"] == "client_to_server")
            .all(|m| m["undecodable"] == true),
        "{messages:#?}"
    );
}
