//! The columns of each record type, in the order and with the names of the JSON contract
//! (README, "Parquet and Arrow columns"). One function per record type: a field added
//! to a record is one line here.
//!
//! The rules that turn a JSON field into a column:
//! - a field JSON leaves out when it has no value is a nullable column, null then; the
//!   flags JSON leaves out when false (`undecodable`, `truncated`, `roles_swapped`) are
//!   non-null booleans;
//! - times are `TIMESTAMP(ns, UTC)`; `packets` is `packet_first` and `packet_last`;
//! - base64 payloads are raw `BINARY`, named without `_b64` (`data`, `payload`);
//! - `errors` and the other lists of text are `LIST<UTF8>`; objects are `STRUCT`s with
//!   the JSON object's fields;
//! - text that repeats from row to row (files, endpoints, directions, opcodes, states)
//!   is dictionary-encoded.

use super::column::{binary, boolean, counts, dict, list, object, prim, text, time, Col};
use crate::capture::tunnel::{Tunnel, TunnelKind};
use crate::http::DeflateParams;
use crate::tcp::stream::TlsAlert;
use crate::tcp::{DirStats, FlowSummary};
use crate::util::community_id::CommunityId;
use crate::util::time::Timestamp;
use crate::view::stats::{CloseOutcome, DirectionSummary, RttSummary, SizeSummary, StatsRecord};
use crate::ws::problem::Problem;
use crate::ws::record::{
    alert_name, DirectionStats, FlowRecord, FrameRecord, MessageRecord, TlsInfo,
};
use arrow_array::types::{Float64Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use std::fmt::{Display, Write as _};

/// Nanoseconds since the epoch, when they fit in 64 bits.
fn nanos(t: Timestamp) -> Option<i64> {
    t.secs
        .checked_mul(1_000_000_000)?
        .checked_add(i64::from(t.nanos))
}

/// Writes `v` into the scratch string and lends it.
fn show(s: &mut String, v: impl Display) -> Option<&str> {
    let _ = write!(s, "{v}");
    Some(s)
}

/// A non-null `UINT64` column.
fn u64_col<R: 'static>(name: &'static str, get: fn(&R) -> Option<u64>) -> Col<R> {
    prim::<R, UInt64Type>(name, false, get)
}

/// `errors`: the problems' sentences.
fn problems<R: 'static>(get: for<'a> fn(&'a R) -> Option<&'a [Problem]>) -> Col<R> {
    list(
        "errors",
        false,
        get,
        text("item", false, |p: &Problem, s| show(s, p)),
    )
}

/// A list of strings.
fn strings<R: 'static>(
    name: &'static str,
    nullable: bool,
    get: for<'a> fn(&'a R) -> Option<&'a [String]>,
) -> Col<R> {
    list(
        name,
        nullable,
        get,
        text("item", false, |v: &String, _| Some(v)),
    )
}

/// The columns of message records.
pub fn message() -> Vec<Col<MessageRecord>> {
    type R = MessageRecord;
    vec![
        dict("file", false, |r: &R, _| Some(&r.file)),
        u64_col("flow", |r: &R| Some(r.flow)),
        dict("client", false, |r: &R, s| show(s, r.client)),
        dict("server", false, |r: &R, s| show(s, r.server)),
        prim::<R, UInt32Type>("h2_stream_id", true, |r| r.h2_stream_id),
        text("community_id", true, |r: &R, _| {
            r.community_id.as_ref().map(CommunityId::as_str)
        }),
        dict("direction", false, |r: &R, _| Some(r.direction.as_str())),
        dict("opcode", false, |r: &R, s| show(s, r.opcode)),
        time("timestamp", |r: &R| nanos(r.timestamp)),
        u64_col("frames", |r: &R| Some(r.frames)),
        boolean("compressed", false, |r: &R| Some(r.compressed)),
        u64_col("length", |r: &R| Some(r.length)),
        u64_col("wire_length", |r: &R| Some(r.wire_length)),
        text("text", true, |r: &R, _| r.text.as_deref()),
        binary("data", |r: &R| r.data_b64.as_ref().map(|d| d.bytes())),
        prim::<R, UInt16Type>("close_code", true, |r| r.close_code),
        text("close_reason", true, |r: &R, _| r.close_reason.as_deref()),
        u64_col("packet_first", |r: &R| Some(r.packets[0])),
        u64_col("packet_last", |r: &R| Some(r.packets[1])),
        dict("first_file", true, |r: &R, _| r.first_file.as_deref()),
        boolean("undecodable", false, |r: &R| Some(r.undecodable)),
        boolean("truncated", false, |r: &R| Some(r.truncated)),
        problems(|r: &R| Some(&r.errors)),
    ]
}

/// The columns of frame records (`--frames`).
pub fn frame() -> Vec<Col<FrameRecord>> {
    type R = FrameRecord;
    vec![
        dict("file", false, |r: &R, _| Some(&r.file)),
        u64_col("flow", |r: &R| Some(r.flow)),
        dict("client", false, |r: &R, s| show(s, r.client)),
        dict("server", false, |r: &R, s| show(s, r.server)),
        prim::<R, UInt32Type>("h2_stream_id", true, |r| r.h2_stream_id),
        text("community_id", true, |r: &R, _| {
            r.community_id.as_ref().map(CommunityId::as_str)
        }),
        dict("direction", false, |r: &R, _| Some(r.direction.as_str())),
        time("timestamp", |r: &R| nanos(r.timestamp)),
        boolean("fin", false, |r: &R| Some(r.fin)),
        list(
            "rsv",
            false,
            |r: &R| Some(&r.rsv[..]),
            boolean("item", false, |b: &bool| Some(*b)),
        ),
        dict("opcode", false, |r: &R, s| show(s, r.opcode)),
        boolean("masked", false, |r: &R| Some(r.masked)),
        text("mask_key", true, |r: &R, s| {
            let k = r.mask_key?;
            show(
                s,
                format_args!("{:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3]),
            )
        }),
        u64_col("payload_length", |r: &R| Some(r.payload_length)),
        u64_col("header_length", |r: &R| Some(r.header_length)),
        u64_col("stream_offset", |r: &R| Some(r.stream_offset)),
        u64_col("packet_first", |r: &R| Some(r.packets[0])),
        u64_col("packet_last", |r: &R| Some(r.packets[1])),
        dict("first_file", true, |r: &R, _| r.first_file.as_deref()),
        binary("payload", |r: &R| r.payload_b64.as_ref().map(|d| d.bytes())),
        problems(|r: &R| Some(&r.errors)),
    ]
}

/// The columns of flow records (the `flows` view).
pub fn flow() -> Vec<Col<FlowRecord>> {
    type R = FlowRecord;
    vec![
        dict("file", false, |r: &R, _| Some(&r.file)),
        u64_col("flow", |r: &R| Some(r.flow)),
        dict("client", false, |r: &R, s| show(s, r.client)),
        dict("server", false, |r: &R, s| show(s, r.server)),
        prim::<R, UInt32Type>("h2_stream_id", true, |r| r.h2_stream_id),
        text("community_id", true, |r: &R, _| {
            r.community_id.as_ref().map(CommunityId::as_str)
        }),
        encapsulation(|r: &R| Some(r.encapsulation.tunnels()).filter(|t| !t.is_empty())),
        dict("state", false, |r: &R, _| Some(r.state.as_str())),
        time("first_seen", |r: &R| nanos(r.first_seen)),
        time("last_seen", |r: &R| nanos(r.last_seen)),
        u64_col("packet_first", |r: &R| Some(r.packets[0])),
        u64_col("packet_last", |r: &R| Some(r.packets[1])),
        dict("first_file", true, |r: &R, _| r.first_file.as_deref()),
        dict("method", true, |r: &R, _| r.method.as_deref()),
        text("path", true, |r: &R, _| r.path.as_deref()),
        text("host", true, |r: &R, _| r.host.as_deref()),
        text("origin", true, |r: &R, _| r.origin.as_deref()),
        text("user_agent", true, |r: &R, _| r.user_agent.as_deref()),
        text("version", true, |r: &R, _| r.version.as_deref()),
        text("key", true, |r: &R, _| r.key.as_deref()),
        text("accept", true, |r: &R, _| r.accept.as_deref()),
        text("reason", true, |r: &R, _| r.reason.as_deref()),
        boolean("roles_swapped", false, |r: &R| Some(r.roles_swapped)),
        prim::<R, UInt16Type>("status", true, |r| r.status),
        strings("offered_protocols", false, |r: &R| {
            Some(&r.offered_protocols)
        }),
        text("protocol", true, |r: &R, _| r.protocol.as_deref()),
        strings("offered_extensions", false, |r: &R| {
            Some(&r.offered_extensions)
        }),
        strings("extensions", false, |r: &R| Some(&r.extensions)),
        object(
            "permessage_deflate",
            true,
            |r: &R| r.permessage_deflate.as_ref(),
            deflate(),
        ),
        boolean("accept_valid", true, |r: &R| r.accept_valid),
        object(
            "client_to_server",
            false,
            |r: &R| Some(&r.client_to_server),
            ws_dir(),
        ),
        object(
            "server_to_client",
            false,
            |r: &R| Some(&r.server_to_client),
            ws_dir(),
        ),
        problems(|r: &R| Some(&r.errors)),
        object("tls", true, |r: &R| r.tls.as_ref(), tls()),
        prim::<R, UInt32Type>("h2_other_streams", true, |r| r.h2_other_streams),
        list(
            "earlier_statuses",
            true,
            |r: &R| (!r.earlier_statuses.is_empty()).then_some(&r.earlier_statuses[..]),
            prim::<u16, UInt16Type>("item", false, |v| Some(*v)),
        ),
    ]
}

/// `permessage_deflate` of flow records.
fn deflate() -> Vec<Col<DeflateParams>> {
    type D = DeflateParams;
    vec![
        boolean("server_no_context_takeover", false, |d: &D| {
            Some(d.server_no_context_takeover)
        }),
        boolean("client_no_context_takeover", false, |d: &D| {
            Some(d.client_no_context_takeover)
        }),
        prim::<D, UInt8Type>("server_max_window_bits", true, |d| d.server_max_window_bits),
        prim::<D, UInt8Type>("client_max_window_bits", true, |d| d.client_max_window_bits),
    ]
}

/// `client_to_server` and `server_to_client` of flow records.
fn ws_dir() -> Vec<Col<DirectionStats>> {
    type D = DirectionStats;
    vec![
        u64_col("messages", |d: &D| Some(d.messages)),
        u64_col("frames", |d: &D| Some(d.frames)),
        u64_col("wire_bytes", |d: &D| Some(d.wire_bytes)),
        u64_col("payload_bytes", |d: &D| Some(d.payload_bytes)),
        u64_col("gaps", |d: &D| Some(d.gaps)),
        u64_col("gap_bytes", |d: &D| Some(d.gap_bytes)),
        u64_col("skipped_bytes", |d: &D| Some(d.skipped_bytes)),
        u64_col("violations", |d: &D| Some(d.violations)),
        u64_col("undecodable", |d: &D| Some(d.undecodable)),
        u64_col("truncated", |d: &D| Some(d.truncated)),
        u64_col("guessed_messages", |d: &D| Some(d.guessed_messages)),
    ]
}

/// `tls` of flow records.
fn tls() -> Vec<Col<TlsInfo>> {
    type T = TlsInfo;
    vec![
        dict("version", true, |t: &T, s| {
            *s = t.version()?;
            Some(s)
        }),
        dict("cipher_suite", true, |t: &T, s| {
            *s = t.cipher_suite()?;
            Some(s)
        }),
        text("sni", true, |t: &T, _| t.0.sni.as_deref()),
        dict("alpn", true, |t: &T, _| t.0.alpn.as_deref()),
        boolean("resumed", false, |t: &T| Some(t.0.resumed)),
        boolean("decrypted", false, |t: &T| Some(t.decrypted())),
        dict("problem", true, |t: &T, _| t.problem()),
        prim::<T, UInt64Type>("failed_at_packet", true, |t| match t.0.decryption {
            crate::tcp::stream::Decryption::Failed(p) => Some(p),
            _ => None,
        }),
        prim::<T, UInt32Type>("key_updates", true, |t| {
            (t.0.key_updates > 0).then_some(t.0.key_updates)
        }),
        list(
            "alerts",
            true,
            |t: &T| (!t.0.alerts.is_empty()).then_some(&t.0.alerts[..]),
            object("item", false, |a: &TlsAlert| Some(a), alert()),
        ),
    ]
}

/// A TLS alert of `tls.alerts`; `description` is the alert's name, or its number as
/// text when it has none.
fn alert() -> Vec<Col<TlsAlert>> {
    type A = TlsAlert;
    vec![
        dict("direction", false, |a: &A, _| Some(a.dir.as_str())),
        dict("level", false, |a: &A, _| {
            Some(match a.level {
                1 => "warning",
                2 => "fatal",
                _ => "unknown",
            })
        }),
        dict("description", false, |a: &A, s| {
            match alert_name(a.description) {
                Some(n) => Some(n),
                None => show(s, a.description),
            }
        }),
        u64_col("packet", |a: &A| Some(a.packet)),
    ]
}

/// The columns of TCP connection records (the `tcp` view).
pub fn tcp() -> Vec<Col<FlowSummary>> {
    type R = FlowSummary;
    vec![
        u64_col("flow", |r: &R| Some(r.flow)),
        dict("client", false, |r: &R, s| show(s, r.client)),
        dict("server", false, |r: &R, s| show(s, r.server)),
        boolean("roles_known", false, |r: &R| Some(r.roles_known)),
        dict("state", false, |r: &R, _| Some(r.state.as_str())),
        time("first_seen", |r: &R| nanos(r.first_seen)),
        time("last_seen", |r: &R| nanos(r.last_seen)),
        text("community_id", false, |r: &R, _| {
            Some(r.community_id.as_str())
        }),
        encapsulation(|r: &R| Some(r.encapsulation.tunnels()).filter(|t| !t.is_empty())),
        dict("file", false, |r: &R, _| Some(&r.file)),
        u64_col("packet_first", |r: &R| Some(r.packets[0])),
        u64_col("packet_last", |r: &R| Some(r.packets[1])),
        dict("first_file", true, |r: &R, _| r.first_file.as_deref()),
        object(
            "client_to_server",
            false,
            |r: &R| Some(&r.client_to_server),
            tcp_dir(),
        ),
        object(
            "server_to_client",
            false,
            |r: &R| Some(&r.server_to_client),
            tcp_dir(),
        ),
    ]
}

/// `client_to_server` and `server_to_client` of TCP records.
fn tcp_dir() -> Vec<Col<DirStats>> {
    type D = DirStats;
    vec![
        u64_col("packets", |d: &D| Some(d.packets)),
        u64_col("payload_bytes", |d: &D| Some(d.payload_bytes)),
        u64_col("delivered_bytes", |d: &D| Some(d.delivered_bytes)),
        u64_col("gaps", |d: &D| Some(d.gaps)),
        u64_col("gap_bytes", |d: &D| Some(d.gap_bytes)),
        u64_col("retransmissions", |d: &D| Some(d.retransmissions)),
        u64_col("conflicting_bytes", |d: &D| Some(d.conflicting_bytes)),
        u64_col("conflicts", |d: &D| Some(d.conflicts)),
        u64_col("out_of_order", |d: &D| Some(d.out_of_order)),
        u64_col("ooo_limit_hits", |d: &D| Some(d.ooo_limit_hits)),
        u64_col("snaplen_cut_bytes", |d: &D| Some(d.snaplen_cut_bytes)),
        boolean("fin", false, |d: &D| Some(d.fin)),
        boolean("rst", false, |d: &D| Some(d.rst)),
        u64_col("suspicious_rsts", |d: &D| Some(d.suspicious_rsts)),
        u64_col("encapsulation_mismatches", |d: &D| {
            Some(d.encapsulation_mismatches)
        }),
    ]
}

/// `encapsulation` of flow and tcp records: the tunnels, outermost first, each a struct
/// of the JSON object's fields (those a kind does not have are null); null when none.
fn encapsulation<R: 'static>(get: for<'a> fn(&'a R) -> Option<&'a [Tunnel]>) -> Col<R> {
    type T = Tunnel;
    list(
        "encapsulation",
        true,
        get,
        object(
            "item",
            false,
            |t: &T| Some(t),
            vec![
                dict("type", false, |t: &T, _| Some(t.kind.name())),
                prim::<T, UInt32Type>("vni", true, |t| match t.kind {
                    TunnelKind::Vxlan { vni } | TunnelKind::Geneve { vni } => Some(vni),
                    _ => None,
                }),
                prim::<T, UInt32Type>("key", true, |t| match t.kind {
                    TunnelKind::Gre { key } => key,
                    _ => None,
                }),
                prim::<T, UInt8Type>("erspan_type", true, |t| match t.kind {
                    TunnelKind::Erspan { erspan_type, .. } => Some(erspan_type),
                    _ => None,
                }),
                prim::<T, UInt16Type>("session_id", true, |t| match t.kind {
                    TunnelKind::Erspan { session_id, .. } => session_id,
                    TunnelKind::Pppoe { session_id } => Some(session_id),
                    _ => None,
                }),
                prim::<T, UInt32Type>("label", true, |t| match t.kind {
                    TunnelKind::Mpls { label } => Some(label),
                    _ => None,
                }),
                text("outer_src", true, |t: &T, s| {
                    t.outer.and_then(|(a, _)| show(s, a))
                }),
                text("outer_dst", true, |t: &T, s| {
                    t.outer.and_then(|(_, b)| show(s, b))
                }),
            ],
        ),
    )
}

/// The columns of stats records (the `stats` view).
pub fn stats() -> Vec<Col<StatsRecord>> {
    type R = StatsRecord;
    vec![
        dict("file", false, |r: &R, _| Some(&r.file)),
        u64_col("flow", |r: &R| Some(r.flow)),
        prim::<R, UInt32Type>("h2_stream_id", true, |r| r.h2_stream_id),
        dict("client", false, |r: &R, s| show(s, r.client)),
        dict("server", false, |r: &R, s| show(s, r.server)),
        dict("state", false, |r: &R, _| Some(r.state.as_str())),
        prim::<R, Float64Type>("duration_s", false, |r| Some(r.duration_s)),
        object(
            "client_to_server",
            false,
            |r: &R| Some(&r.client_to_server),
            stats_dir(),
        ),
        object(
            "server_to_client",
            false,
            |r: &R| Some(&r.server_to_client),
            stats_dir(),
        ),
        object("close", false, |r: &R| Some(&r.close), close()),
        problems(|r: &R| Some(&r.errors)),
    ]
}

/// `client_to_server` and `server_to_client` of stats records.
fn stats_dir() -> Vec<Col<DirectionSummary>> {
    type D = DirectionSummary;
    type S = SizeSummary;
    type T = RttSummary;
    vec![
        u64_col("messages", |d: &D| Some(d.messages)),
        counts("by_opcode", |d: &D| Some(&d.by_opcode)),
        u64_col("wire_bytes", |d: &D| Some(d.wire_bytes)),
        u64_col("payload_bytes", |d: &D| Some(d.payload_bytes)),
        prim::<D, Float64Type>("compression_ratio", true, |d| d.compression_ratio),
        object(
            "sizes",
            true,
            |d: &D| d.sizes.as_ref(),
            vec![
                u64_col("min", |s: &S| Some(s.min)),
                u64_col("median", |s: &S| Some(s.median)),
                u64_col("p95", |s: &S| Some(s.p95)),
                u64_col("max", |s: &S| Some(s.max)),
            ],
        ),
        prim::<D, Float64Type>("messages_per_s", true, |d| d.messages_per_s),
        u64_col("pings", |d: &D| Some(d.pings)),
        u64_col("pongs", |d: &D| Some(d.pongs)),
        object(
            "ping_rtt",
            true,
            |d: &D| d.ping_rtt.as_ref(),
            vec![
                u64_col("count", |t: &T| Some(t.count)),
                prim::<T, Float64Type>("min_ms", false, |t| Some(t.min_ms)),
                prim::<T, Float64Type>("avg_ms", false, |t| Some(t.avg_ms)),
                prim::<T, Float64Type>("max_ms", false, |t| Some(t.max_ms)),
            ],
        ),
        u64_col("unanswered_pings", |d: &D| Some(d.unanswered_pings)),
        u64_col("undecodable", |d: &D| Some(d.undecodable)),
        u64_col("gaps", |d: &D| Some(d.gaps)),
        u64_col("gap_bytes", |d: &D| Some(d.gap_bytes)),
        u64_col("skipped_bytes", |d: &D| Some(d.skipped_bytes)),
        u64_col("violations", |d: &D| Some(d.violations)),
    ]
}

/// `close` of stats records.
fn close() -> Vec<Col<CloseOutcome>> {
    type C = CloseOutcome;
    vec![
        dict("initiated_by", true, |c: &C, _| c.initiated_by.as_deref()),
        prim::<C, UInt16Type>("client_code", true, |c| c.client_code),
        prim::<C, UInt16Type>("server_code", true, |c| c.server_code),
        boolean("clean", false, |c: &C| Some(c.clean)),
        text("outcome", false, |c: &C, _| Some(&c.outcome)),
    ]
}
