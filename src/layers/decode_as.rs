//! `--decode-as PORT`: connections to or from the listed ports are WebSocket frames from
//! their first byte, without a handshake to find. The bytes pass through unchanged.

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

    /// `flow` as the layer above should see it, when that differs.
    fn marked(&self, flow: &FlowInfo) -> Option<FlowInfo> {
        let ours = flow.carries == Carries::Unknown
            && (self.ports.contains(&flow.client.port())
                || self.ports.contains(&flow.server.port()));
        ours.then_some(FlowInfo {
            carries: Carries::WebSocket,
            ..flow.clone()
        })
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
        match self.marked(flow) {
            Some(f) => self.inner.open(&f),
            None => self.inner.open(flow),
        }
    }

    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], at: Provenance) {
        match self.marked(flow) {
            Some(f) => self.inner.data(&f, dir, bytes, at),
            None => self.inner.data(flow, dir, bytes, at),
        }
    }

    fn gap(&mut self, flow: &FlowInfo, dir: Direction, len: u64, at: Provenance) {
        match self.marked(flow) {
            Some(f) => self.inner.gap(&f, dir, len, at),
            None => self.inner.gap(flow, dir, len, at),
        }
    }

    fn close(&mut self, flow: &FlowInfo, dir: Direction, kind: CloseKind, at: Provenance) {
        match self.marked(flow) {
            Some(f) => self.inner.close(&f, dir, kind, at),
            None => self.inner.close(flow, dir, kind, at),
        }
    }

    fn end(&mut self, flow: &FlowInfo) {
        match self.marked(flow) {
            Some(f) => self.inner.end(&f),
            None => self.inner.end(flow),
        }
    }
}
