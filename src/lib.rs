#![deny(unsafe_code)]
//! `wsdissect`: an offline WebSocket dissector.
//!
//! Data flows one way through the library:
//! capture files ([`capture`]) → packets ([`capture::packet`]) → TCP reassembly ([`tcp`],
//! reporting through the [`tcp::stream`] interface) → HTTP upgrade ([`http`]) → WebSocket
//! frames and messages ([`ws`]) → owned [`record`]s → views ([`view`]).
//!
//! [`run`] drives files through the stages; [`util`] holds what every stage shares.

pub mod capture;
pub mod http;
pub mod record;
pub mod run;
pub mod synth;
pub mod tcp;
pub mod util;
pub mod view;
pub mod ws;
