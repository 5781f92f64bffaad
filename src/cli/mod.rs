//! The binary's own code: its arguments ([`args`]). `anyhow` lives here and in
//! `main.rs` only.

pub mod args;
