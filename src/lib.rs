#![warn(missing_docs)]
#![deny(unsafe_code)]
//! `wsdissect`: an offline WebSocket dissector.
//!
//! # The stages
//!
//! Data flows one way, and each folder is one stage; a module imports only from its own
//! stage or the ones before it (`ws` uses `tcp::stream`, `tcp` never uses `ws`).
//!
//! ```text
//! capture/   files → packets       pcap/pcapng readers, link types, IP/TCP decoding
//!    │                             (capture/packet.rs: a new link type goes here;
//!    │                             capture/tunnel.rs takes tunnels off: VXLAN, GRE...);
//!    │                             capture/set.rs: several files merged by time into
//!    │                             one capture, packets named by (file, number) ids
//! tcp/       packets → streams     reassembly: two ordered byte streams per connection,
//!    │                             reported through tcp::stream::StreamSink
//! layers/    streams → streams     the stream stack: transformers (layers/tls/: ciphertext
//!    │                             in, plaintext out, with key logs) and demultiplexers
//!    │                             (layers/h2/: one stream per RFC 8441 WebSocket);
//!    │                             --decode-as
//! http/      the HTTP/1.1 upgrade  sans-I/O request/response parsing, handshake rules
//!    │
//! ws/        streams → records     frames, messages, permessage-deflate, resync;
//!    │                             ws/problem.rs: every problem a record can carry;
//!    │                             ws/record.rs: the records the views read
//! view/      records → output      table, JSON Lines, JSON, Parquet and Arrow
//!                                  (view/columnar/: one schema per record type),
//!                                  filter, stats, extract (a new view is a file here)
//! run/       drives captures through the stages: inputs (files, directories, stdin)
//!            made into captures (run/files.rs), one entry point per view, on one core
//!            or many (run/shard.rs)
//! util/      what every stage shares: capture time (RFC 3339), the table hasher,
//!            text validated once, the Community ID
//! ```
//!
//! Two facts that look alike have two types: [`tcp::stream::Direction`] is the TCP
//! orientation (who sent the SYN, or the reassembler's guess) and
//! [`ws::protocol::WsDirection`] the WebSocket roles (who asked for the upgrade, or
//! masks); the records carry the second.
//!
//! Where things are: a WebSocket rule is a [`ws::problem::Problem`] variant plus its check
//! in `ws/` (frame header rules in `ws/frame.rs`, per-direction rules in
//! `ws/direction/`, handshake rules in [`http`]); TLS decryption is in `layers/tls/` as a
//! transformer (a new cipher suite in `layers/tls/crypto.rs`), HTTP/2 in `layers/h2/` as
//! a demultiplexer, neither touching the frame decoder. What a layer learns of a
//! connection travels up on [`tcp::stream::FlowInfo`] (`tls`; `h2`, the handshake of an
//! HTTP/2 WebSocket, which [`http::h2`] reads).
//!
//! # Shape
//!
//! Parsers are sans-I/O: they take byte slices and return parsed views or "need more";
//! none reads files or prints. Values are typed inside (directions, opcodes,
//! timestamps, problems as enum variants); only serializers make strings. A protocol
//! violation is data on a record, never an error that stops decoding.
//!
//! `unsafe` is denied here and allowed in two small modules, each with a `SAFETY:` line
//! per block and the measurement that keeps it: the SIMD JSON escaping
//! (`view/json/simd.rs`, with a safe fallback) and text validated once
//! (`util/utf8.rs`).

pub mod capture;
pub mod http;
pub mod layers;
pub mod run;
pub mod tcp;
pub mod util;
pub mod view;
pub mod ws;
