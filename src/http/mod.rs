//! The HTTP/1.1 upgrade handshake that opens a WebSocket connection (RFC 6455 §4).
//!
//! Sans-I/O: [`parse_request`] and [`parse_response`] take the bytes of one direction
//! seen so far and return [`Status::Partial`] until the header block is complete, then
//! the parsed head and the number of bytes it used (what follows is WebSocket frames).
//! A header block that is not HTTP, or that grows past [`MAX_HEADER_SIZE`], is an error.
//!
//! The files: this one the heads and the accept key; `extensions.rs` the
//! `Sec-WebSocket-Extensions` elements and the permessage-deflate parameters;
//! `problem.rs` what can be wrong with a handshake ([`HandshakeProblem`]); [`body`] where
//! a message body ends (to follow exchanges before the upgrade); [`h2`] the same
//! handshake over HTTP/2 (RFC 8441 extended CONNECT).

use base64::Engine as _;
use sha1::{Digest, Sha1};
use thiserror::Error;

pub mod body;
mod extensions;
pub mod h2;
mod problem;

pub use extensions::{parse_extension, permessage_deflate, DeflateParams, Extension};
pub use problem::HandshakeProblem;

/// Largest header block accepted; beyond it the bytes are not treated as HTTP.
pub const MAX_HEADER_SIZE: usize = 64 * 1024;

/// Most header lines accepted in one request or response.
const MAX_HEADERS: usize = 128;

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why bytes could not be parsed as an HTTP head.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The bytes are not HTTP/1.x syntax: what httparse found wrong.
    #[error("not HTTP: {0}")]
    NotHttp(#[from] httparse::Error),
    /// The header block did not end within [`MAX_HEADER_SIZE`] bytes.
    #[error("HTTP header block larger than {MAX_HEADER_SIZE} bytes")]
    TooLarge,
}

/// Outcome of an incremental parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// The header block is not complete yet: call again with more bytes.
    Partial,
    /// The head was parsed; `consumed` bytes (up to and including the blank line) belong to it.
    Complete {
        /// The parsed head.
        head: T,
        /// Length of the header block in bytes.
        consumed: usize,
    },
}

/// An HTTP request head, with the fields a WebSocket upgrade uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Request method (`GET` for a WebSocket upgrade).
    pub method: String,
    /// Request target.
    pub path: String,
    /// HTTP minor version (1 for HTTP/1.1).
    pub http_minor: u8,
    /// `Host` header.
    pub host: Option<String>,
    /// `Origin` header.
    pub origin: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// `Sec-WebSocket-Version` header.
    pub version: Option<String>,
    /// `Sec-WebSocket-Key` header.
    pub key: Option<String>,
    /// Tokens of the `Upgrade` header(s).
    pub upgrade: Vec<String>,
    /// Tokens of the `Connection` header(s).
    pub connection: Vec<String>,
    /// Offered subprotocols (`Sec-WebSocket-Protocol`, all lines, comma lists split).
    pub protocols: Vec<String>,
    /// Offered extensions (`Sec-WebSocket-Extensions`, all lines, one element per extension).
    pub extensions: Vec<String>,
    /// `Content-Length` values (all lines, comma lists split), for [`body::framing`].
    pub content_length: Vec<String>,
    /// `Transfer-Encoding` tokens, for [`body::framing`].
    pub transfer_encoding: Vec<String>,
}

impl Request {
    /// True when the request asks for a WebSocket upgrade (`Upgrade: websocket`).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.upgrade
            .iter()
            .any(|t| t.eq_ignore_ascii_case("websocket"))
    }

    /// Where the request's body ends.
    pub fn framing(&self) -> body::Framing {
        body::framing(None, false, &self.content_length, &self.transfer_encoding)
    }

    /// Problems with the request as a WebSocket opening handshake (RFC 6455 §4.2.1).
    pub fn problems(&self) -> Vec<HandshakeProblem> {
        let mut p = Vec::new();
        if self.method != "GET" {
            p.push(HandshakeProblem::MethodNotGet(self.method.clone()));
        }
        if self.http_minor < 1 {
            p.push(HandshakeProblem::NotHttp11);
        }
        if !self
            .connection
            .iter()
            .any(|t| t.eq_ignore_ascii_case("upgrade"))
        {
            p.push(HandshakeProblem::NoConnectionUpgrade);
        }
        if self.host.is_none() {
            p.push(HandshakeProblem::NoHost);
        }
        match self.key.as_deref() {
            None => p.push(HandshakeProblem::NoKey),
            Some(k) => {
                let decoded = base64::engine::general_purpose::STANDARD.decode(k);
                if !matches!(decoded, Ok(ref d) if d.len() == 16) {
                    p.push(HandshakeProblem::BadKey(k.to_string()));
                }
            }
        }
        match self.version.as_deref() {
            Some("13") => {}
            Some(v) => p.push(HandshakeProblem::BadVersion(v.to_string())),
            None => p.push(HandshakeProblem::NoVersion),
        }
        p
    }
}

/// An HTTP response head, with the fields a WebSocket upgrade answer uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Status code (101 for an accepted upgrade).
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// HTTP minor version.
    pub http_minor: u8,
    /// Tokens of the `Upgrade` header(s).
    pub upgrade: Vec<String>,
    /// Tokens of the `Connection` header(s).
    pub connection: Vec<String>,
    /// `Sec-WebSocket-Accept` header.
    pub accept: Option<String>,
    /// Accepted subprotocol(s) (`Sec-WebSocket-Protocol`; more than one is a violation).
    pub protocols: Vec<String>,
    /// Accepted extensions, one element per extension.
    pub extensions: Vec<String>,
    /// `Content-Length` values (all lines, comma lists split), for [`body::framing`].
    pub content_length: Vec<String>,
    /// `Transfer-Encoding` tokens, for [`body::framing`].
    pub transfer_encoding: Vec<String>,
}

impl Response {
    /// Where the response's body ends; `head`: it answers a HEAD request.
    pub fn framing(&self, head: bool) -> body::Framing {
        body::framing(
            Some(self.status),
            head,
            &self.content_length,
            &self.transfer_encoding,
        )
    }

    /// True for `101` with `Upgrade: websocket`.
    pub fn is_websocket_accept(&self) -> bool {
        self.status == 101
            && self
                .upgrade
                .iter()
                .any(|t| t.eq_ignore_ascii_case("websocket"))
    }
}

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + GUID)).
pub fn accept_for_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Where in `buf` the header block can end at the earliest, scanning from `from`:
/// true when `buf[from.saturating_sub(3)..]` contains a blank line. Lets callers skip
/// re-parsing when a chunk cannot have completed the head.
pub fn may_be_complete(buf: &[u8], from: usize) -> bool {
    let tail = buf.get(from.saturating_sub(3)..).unwrap_or(&[]);
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

fn value(v: &[u8]) -> String {
    String::from_utf8_lossy(v).trim().to_string()
}

/// Splits a header value on commas outside double quotes, trimming and dropping empties.
pub fn split_list(v: &str) -> Vec<String> {
    split_quoted(v, ',')
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect()
}

/// Splits `v` on `sep` outside quoted strings (a quoted-pair such as `\"` stays inside
/// its string), each piece trimmed, empty ones kept.
pub(crate) fn split_quoted(v: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in v.chars() {
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if quoted => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c == sep && !quoted => {
                out.push(cur.trim().to_string());
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// Header fields shared by requests and responses.
#[derive(Default)]
struct Common {
    upgrade: Vec<String>,
    connection: Vec<String>,
    protocols: Vec<String>,
    extensions: Vec<String>,
    content_length: Vec<String>,
    transfer_encoding: Vec<String>,
}

impl Common {
    fn take(&mut self, name: &str, v: &str) -> bool {
        let list = if name.eq_ignore_ascii_case("upgrade") {
            &mut self.upgrade
        } else if name.eq_ignore_ascii_case("connection") {
            &mut self.connection
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            &mut self.protocols
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            &mut self.extensions
        } else if name.eq_ignore_ascii_case("content-length") {
            &mut self.content_length
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            &mut self.transfer_encoding
        } else {
            return false;
        };
        list.extend(split_list(v));
        true
    }
}

fn window(buf: &[u8]) -> &[u8] {
    buf.get(..MAX_HEADER_SIZE).unwrap_or(buf)
}

fn partial<T>(buf: &[u8]) -> Result<Status<T>, HandshakeError> {
    if buf.len() >= MAX_HEADER_SIZE {
        Err(HandshakeError::TooLarge)
    } else {
        Ok(Status::Partial)
    }
}

/// Parses an HTTP request head from the start of `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Status<Request>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let consumed = match req.parse(window(buf)) {
        Ok(httparse::Status::Partial) => return partial(buf),
        Ok(httparse::Status::Complete(n)) => n,
        Err(e) => return Err(HandshakeError::NotHttp(e)),
    };
    let mut r = Request {
        method: req.method.unwrap_or_default().to_string(),
        path: req.path.unwrap_or_default().to_string(),
        http_minor: req.version.unwrap_or_default(),
        ..Request::default()
    };
    let mut common = Common::default();
    for h in req.headers.iter() {
        let v = value(h.value);
        if common.take(h.name, &v) {
            continue;
        }
        let slot = match h.name.to_ascii_lowercase().as_str() {
            "host" => &mut r.host,
            "origin" | "sec-websocket-origin" => &mut r.origin,
            "user-agent" => &mut r.user_agent,
            "sec-websocket-version" => &mut r.version,
            "sec-websocket-key" => &mut r.key,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }
    r.upgrade = common.upgrade;
    r.connection = common.connection;
    r.protocols = common.protocols;
    r.extensions = common.extensions;
    r.content_length = common.content_length;
    r.transfer_encoding = common.transfer_encoding;
    Ok(Status::Complete { head: r, consumed })
}

/// Parses an HTTP response head from the start of `buf`.
pub fn parse_response(buf: &[u8]) -> Result<Status<Response>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let consumed = match resp.parse(window(buf)) {
        Ok(httparse::Status::Partial) => return partial(buf),
        Ok(httparse::Status::Complete(n)) => n,
        Err(e) => return Err(HandshakeError::NotHttp(e)),
    };
    let mut r = Response {
        status: resp.code.unwrap_or_default(),
        reason: resp.reason.unwrap_or_default().to_string(),
        http_minor: resp.version.unwrap_or_default(),
        ..Response::default()
    };
    let mut common = Common::default();
    for h in resp.headers.iter() {
        let v = value(h.value);
        if common.take(h.name, &v) {
            continue;
        }
        if h.name.eq_ignore_ascii_case("sec-websocket-accept") && r.accept.is_none() {
            r.accept = Some(v);
        }
    }
    r.upgrade = common.upgrade;
    r.connection = common.connection;
    r.protocols = common.protocols;
    r.extensions = common.extensions;
    r.content_length = common.content_length;
    r.transfer_encoding = common.transfer_encoding;
    Ok(Status::Complete { head: r, consumed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_accept_example() {
        assert_eq!(
            accept_for_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nUser-Agent: test/1\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Protocol: v3\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Extensions: x-webkit-deflate-frame, foo; a=\"1,2\"\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn request_fields() {
        let mut buf = REQ.to_vec();
        buf.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
        let Ok(Status::Complete { head, consumed }) = parse_request(&buf) else {
            panic!("not complete")
        };
        assert_eq!(consumed, REQ.len());
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/chat");
        assert_eq!(head.host.as_deref(), Some("server.example.com"));
        assert_eq!(head.origin.as_deref(), Some("http://example.com"));
        assert_eq!(head.user_agent.as_deref(), Some("test/1"));
        assert_eq!(head.version.as_deref(), Some("13"));
        assert_eq!(head.key.as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(head.protocols, vec!["chat", "superchat", "v3"]);
        assert_eq!(
            head.extensions,
            vec![
                "permessage-deflate; client_max_window_bits",
                "x-webkit-deflate-frame",
                "foo; a=\"1,2\""
            ]
        );
        assert!(head.is_websocket_upgrade());
        assert!(head.problems().is_empty(), "{:?}", head.problems());
    }

    #[test]
    fn request_incremental() {
        for cut in 0..REQ.len() {
            assert_eq!(parse_request(&REQ[..cut]), Ok(Status::Partial), "cut {cut}");
        }
        assert!(matches!(parse_request(REQ), Ok(Status::Complete { .. })));
    }

    #[test]
    fn may_be_complete_finds_terminator() {
        assert!(!may_be_complete(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
        assert!(may_be_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 20));
        assert!(may_be_complete(b"GET / HTTP/1.1\n\n", 15));
        assert!(!may_be_complete(b"GET / HTTP/1.1\r\n\r\n", 18 + 5));
    }

    #[test]
    fn not_http_and_too_large() {
        assert!(matches!(
            parse_request(&[0x81, 0x05, b'h']),
            Err(HandshakeError::NotHttp(_))
        ));
        assert!(matches!(
            parse_request(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            Err(HandshakeError::NotHttp(_))
        ));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEADER_SIZE + 10, b'a');
        assert_eq!(parse_request(&big), Err(HandshakeError::TooLarge));
        assert_eq!(parse_response(&[]), Ok(Status::Partial));
    }

    #[test]
    fn response_fields_and_deflate() {
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=\"10\"; server_max_window_bits=12\r\n\r\n\x81\x00";
        let Ok(Status::Complete { head, consumed }) = parse_response(resp) else {
            panic!()
        };
        assert_eq!(consumed, resp.len() - 2);
        assert!(head.is_websocket_accept());
        assert_eq!(head.protocols, vec!["chat"]);
        let (p, errs) = permessage_deflate(&head.extensions);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            p,
            Some(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: false,
                server_max_window_bits: Some(12),
                client_max_window_bits: Some(10),
            })
        );
        assert_eq!(head.accept.as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn rejected_answer() {
        let Ok(Status::Complete { head, .. }) =
            parse_response(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(head.status, 403);
        assert_eq!(head.reason, "Forbidden");
        assert!(!head.is_websocket_accept());
    }

    #[test]
    fn deflate_param_problems() {
        let (p, errs) = permessage_deflate(&[
            "permessage-deflate; server_max_window_bits=7; client_no_context_takeover; bogus"
                .into(),
        ]);
        let p = p.expect("accepted");
        assert!(p.client_no_context_takeover);
        assert_eq!(p.server_max_window_bits, None);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(permessage_deflate(&["foo".into()]), (None, vec![]));
        let (p, _) = permessage_deflate(&["PerMessage-Deflate;Client_No_Context_Takeover".into()]);
        assert!(p.expect("accepted").client_no_context_takeover);
    }

    #[test]
    fn request_problems() {
        let Ok(Status::Complete { head, .. }) = parse_request(
            b"POST / HTTP/1.0\r\nUpgrade: websocket\r\nSec-WebSocket-Key: abc\r\n\r\n",
        ) else {
            panic!()
        };
        assert_eq!(head.problems().len(), 6, "{:?}", head.problems());
    }

    #[test]
    fn split_list_quotes() {
        assert_eq!(split_list(" a , ,b;x=\"1,2\" "), vec!["a", "b;x=\"1,2\""]);
    }
}
