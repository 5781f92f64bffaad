//! `Sec-WebSocket-Extensions`: extension elements and their parameters, and the
//! permessage-deflate parameters a server accepted (RFC 7692 §7.1), with what is wrong
//! with them.

use serde::Serialize;

use super::HandshakeProblem;

/// permessage-deflate parameters as accepted by the server (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Default)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// LZ77 window bits of the server's compressor (8..=15), if limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_max_window_bits: Option<u8>,
    /// LZ77 window bits of the client's compressor (8..=15), if limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_max_window_bits: Option<u8>,
}

/// One extension of a `Sec-WebSocket-Extensions` list: a name and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order; values are unquoted.
    pub params: Vec<(String, Option<String>)>,
}

/// Parses one extension element (`name; p1; p2=v; p3="v"`).
pub fn parse_extension(element: &str) -> Extension {
    let mut parts = split_params(element).into_iter();
    let name = parts.next().unwrap_or_default();
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(unquote(v.trim()))),
            None => (p.trim().to_string(), None),
        })
        .collect();
    Extension { name, params }
}

fn split_params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => {
                out.push(cur.trim().to_string());
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace('\\', ""),
        None => v.to_string(),
    }
}

/// The permessage-deflate parameters among the extensions a server accepted (RFC 7692 §7.1),
/// with a list of problems found in them. `None` when permessage-deflate was not accepted.
pub fn permessage_deflate(accepted: &[String]) -> (Option<DeflateParams>, Vec<HandshakeProblem>) {
    let mut errors = Vec::new();
    let mut found = accepted
        .iter()
        .map(|e| parse_extension(e))
        .filter(|e| e.name.eq_ignore_ascii_case("permessage-deflate"));
    let Some(ext) = found.next() else {
        return (None, errors);
    };
    if found.next().is_some() {
        errors.push(HandshakeProblem::DeflateTwice);
    }
    let mut p = DeflateParams::default();
    let mut seen: Vec<String> = Vec::new();
    for (name, val) in &ext.params {
        let lname = name.to_ascii_lowercase();
        if seen.contains(&lname) {
            errors.push(HandshakeProblem::DeflateParamRepeated(name.clone()));
        }
        seen.push(lname.clone());
        match lname.as_str() {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if val.is_some() {
                    errors.push(HandshakeProblem::DeflateParamValue(name.clone()));
                }
                if lname.starts_with("server") {
                    p.server_no_context_takeover = true;
                } else {
                    p.client_no_context_takeover = true;
                }
            }
            "server_max_window_bits" | "client_max_window_bits" => {
                let bits = match val.as_deref().map(str::parse::<u8>) {
                    Some(Ok(b)) if (8..=15).contains(&b) => Some(b),
                    Some(_) => {
                        errors.push(HandshakeProblem::DeflateWindowBits {
                            name: name.clone(),
                            value: val.clone().unwrap_or_default(),
                        });
                        None
                    }
                    None => {
                        if lname.starts_with("server") {
                            errors.push(HandshakeProblem::DeflateParamNoValue(name.clone()));
                        }
                        None
                    }
                };
                if lname.starts_with("server") {
                    p.server_max_window_bits = bits;
                } else {
                    p.client_max_window_bits = bits;
                }
            }
            _ => errors.push(HandshakeProblem::DeflateParamUnknown(name.clone())),
        }
    }
    (Some(p), errors)
}
