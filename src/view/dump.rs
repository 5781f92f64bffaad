//! Raw stream dumps for `tcp --dump-dir`: each direction's reassembled bytes in a file of
//! its own, `DIR/flow<N>.client_to_server.bin` and `DIR/flow<N>.server_to_client.bin`,
//! and, for TLS connections that were decrypted, each direction's plaintext in
//! `DIR/flow<N>.client_to_server.tls.bin` (a [`DumpSink::decrypted`] over the TLS layer:
//! what `tshark -z follow,tls,raw` shows).
//!
//! [`DumpSink`] is a [`StreamSink`] rather than a record view because it wants the bytes
//! the TCP stage delivers, before any WebSocket decoding. Gaps are not filled: the files
//! hold captured bytes only. A capture can hold many thousands of connections, so at most
//! [`MAX_OPEN_DUMPS`] files are open at once: when a new one would pass that, all are
//! flushed and closed, and each is reopened for appending when its direction sends more
//! (a file is created empty when its connection opens). Write errors do not stop the
//! capture: the first one is kept and returned by [`DumpSink::finish`].

use crate::tcp::stream::{CloseKind, Direction, FlowInfo, Provenance, StreamSink};
use std::io::{self, Write};

/// A stream sink that writes each direction's reassembled bytes to
/// `DIR/flow<N>.client_to_server.bin` and `DIR/flow<N>.server_to_client.bin`
/// (the `tcp --dump-dir` option). Gaps are not filled: the files hold captured bytes only.
pub struct DumpSink {
    dir: std::path::PathBuf,
    open: std::collections::HashMap<(u64, Direction), io::BufWriter<std::fs::File>>,
    error: Option<io::Error>,
    /// Plaintext of TLS connections only, in `.tls.bin` files made on first data.
    decrypted: bool,
    /// Flows whose files were made (decrypted mode).
    made: std::collections::HashSet<u64>,
}

/// Open dump files kept at once; beyond it all are flushed and reopened on demand.
const MAX_OPEN_DUMPS: usize = 128;

impl DumpSink {
    /// Dumps into `dir`, which must exist.
    pub fn new(dir: std::path::PathBuf) -> Self {
        DumpSink {
            dir,
            open: Default::default(),
            error: None,
            decrypted: false,
            made: Default::default(),
        }
    }

    /// Dumps into `dir` the plaintext a TLS layer below hands up, for TLS connections
    /// only (`flow<N>.<direction>.tls.bin`, made when the first plaintext comes).
    pub fn decrypted(dir: std::path::PathBuf) -> Self {
        DumpSink {
            decrypted: true,
            ..DumpSink::new(dir)
        }
    }

    /// The path of one direction's dump file.
    pub fn path(&self, flow: u64, dir: Direction) -> std::path::PathBuf {
        if self.decrypted {
            self.dir.join(format!("flow{flow}.{dir}.tls.bin"))
        } else {
            self.dir.join(format!("flow{flow}.{dir}.bin"))
        }
    }

    /// Makes both files of a flow (empty).
    fn make(&mut self, flow: u64) {
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let r = std::fs::File::create(self.path(flow, dir)).map(drop);
            if let Err(e) = r {
                self.error.get_or_insert(e);
            }
        }
    }

    /// The first write error, if any; all files flushed.
    pub fn finish(&mut self) -> io::Result<()> {
        for (_, mut w) in self.open.drain() {
            w.flush()?;
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn write(&mut self, flow: u64, dir: Direction, bytes: &[u8]) -> io::Result<()> {
        if !self.open.contains_key(&(flow, dir)) {
            if self.open.len() >= MAX_OPEN_DUMPS {
                for (_, mut w) in self.open.drain() {
                    w.flush()?;
                }
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(flow, dir))?;
            self.open.insert((flow, dir), io::BufWriter::new(f));
        }
        match self.open.get_mut(&(flow, dir)) {
            Some(w) => w.write_all(bytes),
            None => Ok(()),
        }
    }
}

impl StreamSink for DumpSink {
    fn open(&mut self, flow: &FlowInfo) {
        if !self.decrypted {
            self.make(flow.id);
        }
    }
    fn data(&mut self, flow: &FlowInfo, dir: Direction, bytes: &[u8], _: Provenance) {
        if self.decrypted {
            if flow.tls.is_none() {
                return;
            }
            if self.made.insert(flow.id) {
                self.make(flow.id);
            }
        }
        if let Err(e) = self.write(flow.id, dir, bytes) {
            self.error.get_or_insert(e);
        }
    }
    fn gap(&mut self, _: &FlowInfo, _: Direction, _: u64, _: Provenance) {}
    fn close(&mut self, _: &FlowInfo, _: Direction, _: CloseKind, _: Provenance) {}
    fn end(&mut self, flow: &FlowInfo) {
        self.made.remove(&flow.id);
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            if let Some(mut w) = self.open.remove(&(flow.id, dir)) {
                if let Err(e) = w.flush() {
                    self.error.get_or_insert(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(id: u64) -> FlowInfo {
        use crate::util::community_id::CommunityId;
        let client = "10.0.0.1:5000".parse().unwrap();
        let server = "10.0.0.2:80".parse().unwrap();
        FlowInfo {
            id,
            client,
            server,
            community_id: CommunityId::tcp(client, server),
            encapsulation: Default::default(),
            roles_known: true,
            sub: None,
            carries: Default::default(),
            tls: None,
            h2: None,
            packets: [0; 2],
        }
    }

    #[test]
    fn each_direction_gets_its_bytes_and_gaps_are_not_filled() {
        let tmp = tempfile::tempdir().unwrap();
        let mut d = DumpSink::new(tmp.path().to_path_buf());
        let (f, p) = (flow(7), Provenance::default());
        d.open(&f);
        d.data(&f, Direction::ClientToServer, b"GET / ", p);
        d.data(&f, Direction::ServerToClient, b"HTTP/1.1 101", p);
        d.gap(&f, Direction::ClientToServer, 100, p);
        d.data(&f, Direction::ClientToServer, b"\x81\x00", p);
        d.end(&f);
        d.finish().unwrap();
        let c2s = tmp.path().join("flow7.client_to_server.bin");
        assert_eq!(d.path(7, Direction::ClientToServer), c2s);
        assert_eq!(std::fs::read(c2s).unwrap(), b"GET / \x81\x00");
        let s2c = tmp.path().join("flow7.server_to_client.bin");
        assert_eq!(std::fs::read(s2c).unwrap(), b"HTTP/1.1 101");
    }

    #[test]
    fn files_closed_for_room_are_appended_to() {
        let tmp = tempfile::tempdir().unwrap();
        let mut d = DumpSink::new(tmp.path().to_path_buf());
        let p = Provenance::default();
        let flows: Vec<FlowInfo> = (0..MAX_OPEN_DUMPS as u64 + 2).map(flow).collect();
        for f in &flows {
            d.open(f);
            d.data(f, Direction::ClientToServer, b"a", p);
        }
        assert!(d.open.len() <= MAX_OPEN_DUMPS);
        d.data(&flows[0], Direction::ClientToServer, b"b", p);
        d.finish().unwrap();
        let first = std::fs::read(d.path(0, Direction::ClientToServer)).unwrap();
        assert_eq!(first, b"ab");
        let s2c = std::fs::read(d.path(0, Direction::ServerToClient)).unwrap();
        assert!(s2c.is_empty());
    }

    #[test]
    fn the_first_error_is_kept_for_finish() {
        let tmp = tempfile::tempdir().unwrap();
        let mut d = DumpSink::new(tmp.path().join("missing"));
        let f = flow(0);
        d.open(&f);
        d.data(&f, Direction::ClientToServer, b"x", Provenance::default());
        d.end(&f);
        assert!(d.finish().is_err());
        assert!(d.finish().is_ok(), "the error is reported once");
    }
}
