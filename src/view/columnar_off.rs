//! The columnar formats in a build without the cargo feature `columnar`: the same names
//! as `columnar/`, and a writer that refuses to start, saying how to get one.

use crate::tcp::FlowSummary;
use crate::view::stats::StatsRecord;
use crate::view::ParquetCompression;
use crate::ws::record::Record;
use std::io::{self, Write};

/// The record type a columnar output holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Message records.
    Message,
    /// Frame records.
    Frame,
    /// Flow records.
    Flow,
    /// TCP connection records.
    Tcp,
    /// Statistics records.
    Stats,
}

/// Which columnar format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Parquet.
    Parquet,
    /// Arrow IPC stream.
    Arrow,
}

/// A record the columnar writer can hold.
pub enum Item<'a> {
    /// A WebSocket record.
    Ws(&'a Record),
    /// A TCP connection record.
    Tcp(&'a FlowSummary),
    /// A statistics record.
    Stats(&'a StatsRecord),
}

/// Never made: [`Writer::new`] fails.
pub enum Writer {}

impl Writer {
    /// Fails: this build has no columnar formats.
    pub fn new(_: Encoding, _: Kind, _: ParquetCompression, _: usize) -> io::Result<Writer> {
        Err(io::Error::other(
            "this wsdissect was built without Parquet and Arrow output (cargo feature `columnar`)",
        ))
    }

    /// Never called.
    pub fn push(&mut self, _: Item<'_>, _: &mut dyn Write) -> io::Result<()> {
        match *self {}
    }

    /// Never called.
    pub fn finish(self, _: &mut dyn Write) -> io::Result<()> {
        match self {}
    }
}
