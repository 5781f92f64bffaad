//! The WebSocket handshake of RFC 8441: an HTTP/2 extended CONNECT (`:method CONNECT`,
//! `:protocol websocket`) answered by `:status 200`. The HTTP/2 layer decodes the header
//! blocks; here they become the same [`Request`] and [`Response`] an HTTP/1.1 upgrade
//! gives, so that extensions and subprotocols are negotiated by the same rules. There is
//! no key and no accept: a 2xx status opens the WebSocket.

use super::{Common, Request, Response};

/// The request of an extended CONNECT, from its decoded header fields.
pub fn request(fields: &[(String, String)]) -> Request {
    let mut r = Request {
        http_minor: 0,
        ..Request::default()
    };
    let mut common = Common::default();
    for (name, v) in fields {
        if common.take(name, v) {
            continue;
        }
        let slot = match name.as_str() {
            ":method" => {
                r.method = v.clone();
                continue;
            }
            ":path" => {
                r.path = v.clone();
                continue;
            }
            ":protocol" => {
                r.upgrade.push(v.clone());
                continue;
            }
            ":authority" => &mut r.host,
            "origin" => &mut r.origin,
            "user-agent" => &mut r.user_agent,
            "sec-websocket-version" => &mut r.version,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v.clone());
        }
    }
    r.protocols = common.protocols;
    r.extensions = common.extensions;
    r
}

/// True for an extended CONNECT that asks for a WebSocket (RFC 8441 §4).
pub fn is_websocket_connect(fields: &[(String, String)]) -> bool {
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    get(":method") == Some("CONNECT")
        && get(":protocol").is_some_and(|p| p.eq_ignore_ascii_case("websocket"))
}

/// The response to an extended CONNECT, from its decoded header fields (`reason` is
/// empty: HTTP/2 has none).
pub fn response(fields: &[(String, String)]) -> Response {
    let mut r = Response::default();
    let mut common = Common::default();
    for (name, v) in fields {
        if name == ":status" {
            r.status = v.parse().unwrap_or(0);
        } else {
            common.take(name, v);
        }
    }
    r.protocols = common.protocols;
    r.extensions = common.extensions;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn extended_connect_becomes_a_request_and_a_response() {
        let req = f(&[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":path", "/chat"),
            (":authority", "ws.test"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "chat, superchat"),
            (
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            ),
            ("origin", "https://ws.test"),
        ]);
        assert!(is_websocket_connect(&req));
        let r = request(&req);
        assert_eq!((r.method.as_str(), r.path.as_str()), ("CONNECT", "/chat"));
        assert_eq!(r.host.as_deref(), Some("ws.test"));
        assert_eq!(r.protocols, ["chat", "superchat"]);
        assert_eq!(r.extensions, ["permessage-deflate; client_max_window_bits"]);
        assert_eq!(r.version.as_deref(), Some("13"));
        let resp = response(&f(&[
            (":status", "200"),
            ("sec-websocket-protocol", "chat"),
            ("sec-websocket-extensions", "permessage-deflate"),
        ]));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.protocols, ["chat"]);
        assert!(!is_websocket_connect(&f(&[
            (":method", "GET"),
            (":path", "/")
        ])));
    }
}
