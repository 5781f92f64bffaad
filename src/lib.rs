//! `wsdissect`: an offline WebSocket dissector.
//!
//! Data flows one way through the library:
//! capture files ([`capture`]) → packets ([`packet`]) → TCP reassembly ([`tcp`], reporting
//! through the [`stream`] interface) → HTTP upgrade ([`handshake`]) → WebSocket frames and
//! messages ([`ws`]) → owned [`record`]s → views ([`output`]).
//!
//! Around the views: [`filter`] selects records, [`stats`] aggregates them per connection,
//! [`extract`] writes payloads as evidence files, [`problems`] counts problems by kind for
//! `--strict`, and [`progress`] reports long runs.
//!
//! For speed: [`json`] renders message records without serde, [`shard`] spreads one
//! capture's connections over several cores and [`pipeline::run_ordered`] several files,
//! both printing what a sequential run prints; [`synth`] generates large realistic
//! captures for the benchmarks (`benches/`, `bench/compare.sh`).
//!
//! Parsers are sans-I/O: they take byte slices and return parsed views or "need more".
//! Protocol violations are data on records, never errors that stop decoding.

pub mod capture;
pub mod extract;
mod fasthash;
pub mod filter;
pub mod handshake;
pub mod json;
pub mod output;
pub mod packet;
pub mod pipeline;
pub mod problems;
pub mod progress;
pub mod record;
pub mod shard;
pub mod stats;
pub mod stream;
pub mod synth;
pub mod tcp;
pub mod ws;
