//! What can be wrong with an opening handshake, as data: a [`HandshakeProblem`] is said on
//! the flow record (its `Display`), named by its [`HandshakeProblem::label`] in the
//! `--strict` summary.

use thiserror::Error;

use super::HandshakeError;

/// What is wrong with an opening handshake (RFC 6455 §4, RFC 7692 §7.1). The wording is
/// the text the records carry.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HandshakeProblem {
    /// The request is not a GET.
    #[error("upgrade request method is {0} (not GET)")]
    MethodNotGet(String),
    /// The request is HTTP/1.0.
    #[error("upgrade request is not HTTP/1.1")]
    NotHttp11,
    /// No `Connection: Upgrade`.
    #[error("upgrade request lacks Connection: Upgrade")]
    NoConnectionUpgrade,
    /// No `Host`.
    #[error("upgrade request lacks Host")]
    NoHost,
    /// No `Sec-WebSocket-Key`.
    #[error("upgrade request lacks Sec-WebSocket-Key")]
    NoKey,
    /// The key is not 16 bytes in base64.
    #[error("Sec-WebSocket-Key {0:?} is not 16 bytes in base64")]
    BadKey(String),
    /// A version other than 13.
    #[error("Sec-WebSocket-Version {0} (expected 13)")]
    BadVersion(String),
    /// No `Sec-WebSocket-Version`.
    #[error("upgrade request lacks Sec-WebSocket-Version")]
    NoVersion,
    /// The server listed permessage-deflate twice.
    #[error("server accepted permessage-deflate more than once")]
    DeflateTwice,
    /// A permessage-deflate parameter appears twice.
    #[error("permessage-deflate parameter {0} repeated")]
    DeflateParamRepeated(String),
    /// A `*_no_context_takeover` parameter with a value.
    #[error("permessage-deflate parameter {0} takes no value")]
    DeflateParamValue(String),
    /// Window bits outside 8..=15.
    #[error("permessage-deflate {name}={value} out of range 8..15")]
    DeflateWindowBits {
        /// The parameter as written.
        name: String,
        /// Its value as written.
        value: String,
    },
    /// `server_max_window_bits` without a value.
    #[error("permessage-deflate {0} without a value")]
    DeflateParamNoValue(String),
    /// `client_max_window_bits` in the answer without a value: the server must say
    /// which window the client may use (RFC 7692 §7.1.2.2).
    #[error("permessage-deflate {0} answered without a value (the server must give one)")]
    DeflateClientBitsNoValue(String),
    /// A parameter RFC 7692 does not define.
    #[error("unknown permessage-deflate parameter {0}")]
    DeflateParamUnknown(String),
    /// A 101 answer was seen but not the request.
    #[error("upgrade request not captured; 101 answer seen")]
    RequestNotCaptured,
    /// A 101 answer that does not upgrade to WebSocket.
    #[error("101 answer without Upgrade: websocket")]
    NotWebSocketUpgrade,
    /// The answer is not HTTP.
    #[error("answer to the upgrade request is {0}")]
    BadAnswer(HandshakeError),
    /// The connection ended before an answer to the upgrade request could be read
    /// (none captured, or one cut short): whether it became WebSocket is unknown.
    #[error("no answer to the upgrade request")]
    Unanswered,
    /// The answer fell into a gap: the upgrade is assumed to have gone through.
    #[error("answer to the upgrade request lost in a tcp gap")]
    AnswerLost,
    /// permessage-deflate accepted without an offer.
    #[error("server accepted permessage-deflate the client did not offer")]
    DeflateNotOffered,
    /// A subprotocol the client did not offer.
    #[error("server chose subprotocol {0:?} the client did not offer")]
    ProtocolNotOffered(String),
    /// `Sec-WebSocket-Accept` is not the hash of the key.
    #[error("Sec-WebSocket-Accept {got:?} does not match the key (expected {expected:?})")]
    AcceptMismatch {
        /// What the server sent.
        got: String,
        /// What the key hashes to.
        expected: String,
    },
    /// No `Sec-WebSocket-Accept` in the 101 answer.
    #[error("101 answer lacks Sec-WebSocket-Accept")]
    NoAccept,
    /// More than one subprotocol in the answer.
    #[error("server answered more than one subprotocol")]
    SeveralProtocols,
}

impl HandshakeProblem {
    /// What went wrong, without the values: the words `--strict` names it by.
    pub fn label(&self) -> &'static str {
        use HandshakeProblem::*;
        match self {
            MethodNotGet(_) => "upgrade request method is not GET",
            NotHttp11 => "upgrade request is not HTTP/1.1",
            NoConnectionUpgrade => "upgrade request lacks Connection: Upgrade",
            NoHost => "upgrade request lacks Host",
            NoKey => "upgrade request lacks Sec-WebSocket-Key",
            BadKey(_) => "Sec-WebSocket-Key is not 16 bytes in base64",
            BadVersion(_) => "Sec-WebSocket-Version is not 13",
            NoVersion => "upgrade request lacks Sec-WebSocket-Version",
            DeflateTwice => "server accepted permessage-deflate more than once",
            DeflateParamRepeated(_) => "permessage-deflate parameter repeated",
            DeflateParamValue(_) => "permessage-deflate parameter takes no value",
            DeflateWindowBits { .. } => "permessage-deflate window bits out of range",
            DeflateParamNoValue(_) => "permessage-deflate parameter without a value",
            DeflateClientBitsNoValue(_) => {
                "permessage-deflate client_max_window_bits answered without a value"
            }
            DeflateParamUnknown(_) => "unknown permessage-deflate parameter",
            RequestNotCaptured => "upgrade request not captured",
            NotWebSocketUpgrade => "101 answer without Upgrade: websocket",
            BadAnswer(_) => "answer to the upgrade request is not HTTP",
            Unanswered => "no answer to the upgrade request",
            AnswerLost => "answer to the upgrade request lost in a tcp gap",
            DeflateNotOffered => "server accepted permessage-deflate the client did not offer",
            ProtocolNotOffered(_) => "server chose a subprotocol the client did not offer",
            AcceptMismatch { .. } => "Sec-WebSocket-Accept does not match the key",
            NoAccept => "101 answer lacks Sec-WebSocket-Accept",
            SeveralProtocols => "server answered more than one subprotocol",
        }
    }
}
