//! The rules of RFC 6455 that are not about parsing: opcodes, which close codes a peer
//! may send, the size of control frames. The frame parser, the boundary search and the
//! message decoder all check against these.

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// Which way a WebSocket frame travels, by the WebSocket roles: the client is the side
/// that asked for the upgrade (or, without a handshake, the side that masks). This is not
/// always the TCP layer's client (who sent the SYN, or its guess): the two are different
/// types ([`crate::tcp::stream::Direction`] is the TCP one) so that a mix-up does not
/// compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum WsDirection {
    /// From the WebSocket client (the default, for records built field by field).
    #[default]
    ClientToServer,
    /// From the WebSocket server.
    ServerToClient,
}

impl WsDirection {
    /// Index 0 for client→server, 1 for server→client (for per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            WsDirection::ClientToServer => 0,
            WsDirection::ServerToClient => 1,
        }
    }

    /// The other direction.
    pub fn reverse(self) -> WsDirection {
        match self {
            WsDirection::ClientToServer => WsDirection::ServerToClient,
            WsDirection::ServerToClient => WsDirection::ClientToServer,
        }
    }

    /// The name in output: `client_to_server` or `server_to_client`.
    pub fn as_str(self) -> &'static str {
        match self {
            WsDirection::ClientToServer => "client_to_server",
            WsDirection::ServerToClient => "server_to_client",
        }
    }
}

impl fmt::Display for WsDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the output name.
impl std::str::FromStr for WsDirection {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<WsDirection, UnknownName> {
        [WsDirection::ClientToServer, WsDirection::ServerToClient]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// JSON shows the output name.
impl Serialize for WsDirection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A name that is not one of a type's documented names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownName;

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown name")
    }
}

impl std::error::Error for UnknownName {}

/// Largest payload a control frame may have (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// A frame opcode, including the reserved values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Opcode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: first frame of a text message (the default, for records built field by
    /// field).
    #[default]
    Text,
    /// 0x2: first frame of a binary message.
    Binary,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
    /// 0x3–0x7 and 0xB–0xF.
    Reserved(u8),
}

impl Opcode {
    /// The opcode for the low four bits of `b`.
    pub fn from_bits(b: u8) -> Opcode {
        match b & 0x0f {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            n => Opcode::Reserved(n),
        }
    }

    /// The four-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
            Opcode::Reserved(n) => n & 0x0f,
        }
    }

    /// Control opcodes are 0x8–0xF (close, ping, pong and reserved control).
    pub fn is_control(self) -> bool {
        self.bits() >= 0x8
    }

    /// Text or binary: the opcodes that start a data message.
    pub fn is_data_start(self) -> bool {
        matches!(self, Opcode::Text | Opcode::Binary)
    }

    /// The name used in output: `continuation`, `text`, `binary`, `close`, `ping`,
    /// `pong` or `reserved:N`.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            Opcode::Continuation => "continuation".into(),
            Opcode::Text => "text".into(),
            Opcode::Binary => "binary".into(),
            Opcode::Close => "close".into(),
            Opcode::Ping => "ping".into(),
            Opcode::Pong => "pong".into(),
            Opcode::Reserved(n) => format!("reserved:{n}").into(),
        }
    }

    /// The opcode a `name` stands for (the inverse of [`Opcode::name`]).
    pub fn from_name(name: &str) -> Option<Opcode> {
        Some(match name {
            "continuation" => Opcode::Continuation,
            "text" => Opcode::Text,
            "binary" => Opcode::Binary,
            "close" => Opcode::Close,
            "ping" => Opcode::Ping,
            "pong" => Opcode::Pong,
            _ => {
                let n: u8 = name.strip_prefix("reserved:")?.parse().ok()?;
                match Opcode::from_bits(n) {
                    Opcode::Reserved(r) if r == n => Opcode::Reserved(n),
                    _ => return None,
                }
            }
        })
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Parses the output name (see [`Opcode::from_name`]).
impl std::str::FromStr for Opcode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Opcode, UnknownName> {
        Opcode::from_name(s).ok_or(UnknownName)
    }
}

impl Serialize for Opcode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Close codes a peer may send (RFC 6455 §7.4 and the IANA registry).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_names_round_trip() {
        for b in 0..16 {
            let op = Opcode::from_bits(b);
            assert_eq!(Opcode::from_name(&op.name()), Some(op));
            assert_eq!(op.bits(), b);
        }
        assert_eq!(Opcode::Reserved(3).to_string(), "reserved:3");
        assert_eq!(Opcode::from_name("reserved:1"), None);
        assert_eq!(Opcode::from_name("reserved:16"), None);
    }

    #[test]
    fn close_codes() {
        assert!(valid_close_code(1000));
        assert!(!valid_close_code(1005));
        assert!(valid_close_code(4999));
        assert!(!valid_close_code(5000));
    }
}
