//! `--decode-as PORT`: connections to or from the listed ports are WebSocket frames from
//! their first byte, without a handshake to find. The bytes pass through unchanged.

use std::borrow::Cow;

use super::Layer;
use crate::tcp::stream::{Carries, CloseKind, Direction, FlowInfo, Provenance, StreamSink};

/// Marks the streams of connections on the given ports as WebSocket and passes every
/// event on to `inner`.
#[derive(Debug)]
pub struct DecodeAs<S> {
    ports: Vec<u16>,
    inner: S,
}

impl<S: StreamSink> DecodeAs<S> {
    /// A layer over `inner` for `ports` (with none, it passes everything as it is).
    pub fn new(ports: Vec<u16>, inner: S) -> DecodeAs<S> {
        DecodeAs { ports, inner }
    }

    /// The sink above, given back.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// `flow` as the layer above should see it: marked WebSocket when it is on one of
    /// the ports and nothing below said otherwise.
    fn seen<'a>(&self, flow: &'a FlowInfo) -> Cow<'a, FlowInfo> {
        let ours = flow.carries == Carries::Unknown
            && (self.ports.contains(&flow.client.port())
                || self.ports.contains(&flow.server.port()));
        if ours {
            Cow::Owned(FlowInfo {
                carries: Carries::WebSocket,
                ..flow.clone()
            })
        } else {
            Cow::Borrowed(flow)
        }
    }
}

impl<S: StreamSink> Layer for DecodeAs<S> {
    type Inner = S;

    fn inner(&self) -> &S {
        &self.inner
    }

    fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: StreamSink> StreamSink for DecodeAs<S> {
    fn open(&mut self, flow: &FlowInfo) {
        let f = self.seen(flow);
        self.inner.open(&f)
    }

    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        let f = self.seen(flow);
        self.inner.data(&f, dir, bytes, at)
    }

    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        let f = self.seen(flow);
        self.inner.gap(&f, dir, len, at)
    }

    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        let f = self.seen(flow);
        self.inner.close(&f, dir, kind, at)
    }

    fn end(&mut self, flow: &FlowInfo) {
        let f = self.seen(flow);
        self.inner.end(&f)
    }

    fn conflict(
        &mut self,
        flow: &FlowInfo,
        dir: Direction,
        range: std::ops::Range<u64>,
        at: Provenance,
    ) {
        let f = self.seen(flow);
        self.inner.conflict(&f, dir, range, at)
    }
}
