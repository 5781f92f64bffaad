//! The stream stack: layers between TCP reassembly and the WebSocket stage.
//!
//! Every stage above TCP speaks one interface, [`StreamSink`]: open, in-order data with
//! the packet it came from, gaps, closes, end. A layer is a sink that owns the next one
//! ([`Layer::inner`]) and passes byte streams up to it:
//!
//! ```text
//! tcp::Reassembler ──▶ Tls ──▶ H2 ──▶ DecodeAs ──▶ ws::Dissector
//!      (packets)    transformer  demultiplexer       (frames, messages)
//! ```
//!
//! - A **transformer** hands up the same stream with other bytes: [`Tls`] takes
//!   ciphertext and passes plaintext, each chunk still tagged with the capture packets
//!   that carried its record ([`Provenance`]), so that message records keep naming their
//!   packets.
//! - A **demultiplexer** hands up several streams of one connection, told apart by
//!   [`FlowInfo::sub`], each with its own open/data/close/end: [`H2`] gives each
//!   WebSocket opened by extended CONNECT its stream id, and its handshake on
//!   [`FlowInfo::h2`].
//! - A layer that learns what a stream is says so on [`FlowInfo`]: the WebSocket stage
//!   then starts decoding frames at once instead of looking for an upgrade. [`DecodeAs`]
//!   (`--decode-as PORT`) is the simplest layer: it changes no byte and only says "these
//!   are WebSocket frames" ([`FlowInfo::carries`]).
//!
//! Layers detect on their own whether a stream is theirs (a ClientHello, an HTTP/2
//! preface) and pass other streams through unchanged, so they stack in any order
//! without knowing each other, and the WebSocket decoder never knows how many there
//! were.

mod decode_as;
pub mod h2;
pub mod tls;

pub use decode_as::DecodeAs;
pub use h2::H2;
pub use tls::Tls;

#[cfg(doc)]
use crate::tcp::stream::FlowInfo;
use crate::tcp::stream::{Direction, Provenance, StreamSink};

/// Which layers a run stacks, and how they are set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Ports whose connections are WebSocket frames from the first byte
    /// (`--decode-as`).
    pub decode_as: Vec<u16>,
    /// TLS secrets (`--keylog`, and the capture's Decryption Secrets Blocks as they are
    /// read): shared by every stack made from these options.
    pub keys: tls::Keys,
}

/// The layers of a run, over the WebSocket stage `S`, outermost first: TLS takes
/// ciphertext and passes plaintext; HTTP/2 hands up the WebSocket streams of a
/// connection; `--decode-as` marks what it passes.
pub type Stack<S> = Tls<Plain<S>>;

/// The layers above decryption.
pub type Plain<S> = H2<DecodeAs<S>>;

impl Options {
    /// The stack of layers these options ask for, over `top`.
    pub fn stack<S: StreamSink>(&self, top: S) -> Stack<S> {
        self.tls(self.above_tls(top))
    }

    /// The layers above decryption, over `top`: what works on plaintext.
    pub fn above_tls<S: StreamSink>(&self, top: S) -> Plain<S> {
        H2::new(DecodeAs::new(self.decode_as.clone(), top))
    }

    /// The TLS layer over `inner`. A run keeps one per capture, in packet order: TLS 1.2
    /// resumption needs the sessions of earlier connections.
    pub fn tls<S: StreamSink>(&self, inner: S) -> Tls<S> {
        Tls::new(self.keys.clone(), inner)
    }
}

impl<S: StreamSink> Stack<S> {
    /// The sink on top of the stack (the WebSocket stage).
    pub fn top(&self) -> &S {
        self.inner().top()
    }

    /// The sink on top of the stack, to drain what it produced.
    pub fn top_mut(&mut self) -> &mut S {
        self.inner_mut().top_mut()
    }
}

impl<S: StreamSink> Plain<S> {
    /// The sink on top of the plaintext layers (the WebSocket stage).
    pub fn top(&self) -> &S {
        self.inner().inner()
    }

    /// The sink on top of the plaintext layers, to drain what it produced.
    pub fn top_mut(&mut self) -> &mut S {
        self.inner_mut().inner_mut()
    }
}

/// Chunks a layer holds, with the packets that carried them, while it cannot yet tell
/// whether a connection is its own (replayed in order once it can).
type Held = Vec<(Direction, Vec<u8>, Provenance)>;

/// The first `max` bytes direction `dir` sent among the `held` chunks, in order.
fn held_bytes(held: &Held, dir: Direction, max: usize) -> Vec<u8> {
    held.iter()
        .filter(|(d, _, _)| *d == dir)
        .flat_map(|(_, b, _)| b.iter().copied())
        .take(max)
        .collect()
}

/// A sink that passes byte streams on to another sink.
pub trait Layer: StreamSink {
    /// The sink above this layer.
    type Inner: StreamSink;

    /// The sink above this layer.
    fn inner(&self) -> &Self::Inner;

    /// The sink above this layer, to drain what it produced.
    fn inner_mut(&mut self) -> &mut Self::Inner;
}

#[cfg(test)]
mod tests;
