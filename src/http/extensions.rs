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
    let mut parts = super::split_quoted(element, ';').into_iter();
    let name = parts.next().unwrap_or_default();
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(unquote(v.trim()))),
            None => (p.trim().to_string(), None),
        })
        .collect();
    Extension { name, params }
}

/// The value of a parameter: a quoted string loses its quotes and each quoted-pair
/// (`\\` and the character after it) becomes that character (RFC 7230 §3.2.6).
fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
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
                        errors.push(if lname.starts_with("server") {
                            HandshakeProblem::DeflateParamNoValue(name.clone())
                        } else {
                            HandshakeProblem::DeflateClientBitsNoValue(name.clone())
                        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_max_window_bits_without_value_in_answer() {
        let (p, errs) = permessage_deflate(&["permessage-deflate; client_max_window_bits".into()]);
        assert_eq!(p.and_then(|p| p.client_max_window_bits), None);
        assert_eq!(
            errs,
            vec![HandshakeProblem::DeflateClientBitsNoValue(
                "client_max_window_bits".into()
            )]
        );
        assert_eq!(
            errs[0].label(),
            "permessage-deflate client_max_window_bits answered without a value"
        );
        // with a value, quoted or not, it is fine
        for v in ["10", "\"10\""] {
            let (p, errs) =
                permessage_deflate(&[format!("permessage-deflate; client_max_window_bits={v}")]);
            assert_eq!(errs, vec![]);
            assert_eq!(p.and_then(|p| p.client_max_window_bits), Some(10));
        }
    }

    #[test]
    fn quoted_values_unescape_quoted_pairs() {
        let e = parse_extension(r#"x-ext; a="1\\2"; b="say \"hi\"; ok"; c="\q"; d=plain"#);
        assert_eq!(e.name, "x-ext");
        assert_eq!(
            e.params,
            vec![
                ("a".into(), Some(r"1\2".into())),
                ("b".into(), Some(r#"say "hi"; ok"#.into())),
                ("c".into(), Some("q".into())),
                ("d".into(), Some("plain".into())),
            ]
        );
        // a lone quote is a value, not an empty quoted string
        let e = parse_extension("x; a=\"");
        assert_eq!(e.params, vec![("a".into(), Some("\"".into()))]);
        // an escaped digit is the digit
        let (p, errs) =
            permessage_deflate(&[r#"permessage-deflate; server_max_window_bits="1\2""#.into()]);
        assert_eq!(errs, vec![]);
        assert_eq!(p.and_then(|p| p.server_max_window_bits), Some(12));
    }
}
