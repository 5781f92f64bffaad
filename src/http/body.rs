//! Where an HTTP/1.1 message body ends (RFC 9112 §6), so that a connection can follow
//! exchanges that are not the upgrade (keep-alive, authentication) and look for it at
//! the next request. Sans-I/O: [`framing`] decides from the head, [`BodyReader::feed`]
//! skips the body bytes as they come, holding nothing but a small line of a chunk size.

/// How a message's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// A response that ends at close: nothing can follow it on the connection.
    UntilClose,
    /// Lengths that contradict each other or cannot be read.
    Invalid,
}

/// The body framing of a request (`status` None) or of a response to a request that
/// was (`head`) or was not a HEAD, from its `Content-Length` values and
/// `Transfer-Encoding` tokens.
pub fn framing(
    status: Option<u16>,
    head: bool,
    content_length: &[String],
    transfer_encoding: &[String],
) -> Framing {
    if let Some(s) = status {
        if head || (100..200).contains(&s) || s == 204 || s == 304 {
            return Framing::Empty;
        }
    }
    if let Some(last) = transfer_encoding.last() {
        if !content_length.is_empty() {
            return Framing::Invalid;
        }
        return match (last.eq_ignore_ascii_case("chunked"), status) {
            (true, _) => Framing::Chunked,
            (false, Some(_)) => Framing::UntilClose,
            (false, None) => Framing::Invalid,
        };
    }
    let mut len = None;
    for v in content_length {
        match v.parse::<u64>() {
            Ok(n) if len.is_none_or(|l| l == n) && v.bytes().all(|b| b.is_ascii_digit()) => {
                len = Some(n)
            }
            _ => return Framing::Invalid,
        }
    }
    match (len, status) {
        (Some(0), _) => Framing::Empty,
        (Some(n), _) => Framing::Length(n),
        (None, Some(_)) => Framing::UntilClose,
        (None, None) => Framing::Empty,
    }
}

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Where a body being skipped stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// Bytes of the body (or of a chunk) left.
    Data(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// A chunk-size line.
    Size,
    /// Trailer lines, until an empty one.
    Trailer,
    Done,
}

/// What [`BodyReader::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyStatus {
    /// `consumed` bytes belong to the body, which goes on.
    More {
        /// Bytes of the buffer used.
        consumed: usize,
    },
    /// The body ended after `consumed` bytes of the buffer.
    Done {
        /// Bytes of the buffer used.
        consumed: usize,
    },
    /// The chunked encoding is broken: where the body ends is unknown.
    Bad,
}

/// Skips a body of known framing ([`Framing::Empty`], [`Framing::Length`] or
/// [`Framing::Chunked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyReader {
    at: At,
    chunked: bool,
}

impl BodyReader {
    /// A reader for `framing`; None for one that has no end on a live connection.
    pub fn new(framing: Framing) -> Option<BodyReader> {
        let (at, chunked) = match framing {
            Framing::Empty => (At::Done, false),
            Framing::Length(n) => (At::Data(n), false),
            Framing::Chunked => (At::Size, true),
            Framing::UntilClose | Framing::Invalid => return None,
        };
        Some(BodyReader { at, chunked })
    }

    /// True when the whole body has been skipped.
    pub fn done(&self) -> bool {
        self.at == At::Done
    }

    /// Skips what of `buf` (the bytes that follow those consumed before) is body.
    /// Lines (chunk sizes, trailers) are only consumed whole, so call again with more
    /// bytes after `More`.
    pub fn feed(&mut self, buf: &[u8]) -> BodyStatus {
        let mut used = 0;
        loop {
            let rest = buf.get(used..).unwrap_or(&[]);
            match self.at {
                At::Done => return BodyStatus::Done { consumed: used },
                At::Data(n) => {
                    let k = n.min(rest.len() as u64);
                    used += k as usize;
                    self.at = match (n - k, self.chunked) {
                        (0, true) => At::ChunkEnd,
                        (0, false) => At::Done,
                        (left, _) => At::Data(left),
                    };
                    if n > k {
                        return BodyStatus::More { consumed: used };
                    }
                }
                At::ChunkEnd | At::Size | At::Trailer => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_LINE {
                            return BodyStatus::Bad;
                        }
                        return BodyStatus::More { consumed: used };
                    };
                    let line = rest.get(..nl).unwrap_or(&[]);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    used += nl + 1;
                    self.at = match self.at {
                        At::ChunkEnd if line.is_empty() => At::Size,
                        At::Size => match chunk_size(line) {
                            Some(0) => At::Trailer,
                            Some(n) => At::Data(n),
                            None => return BodyStatus::Bad,
                        },
                        At::Trailer if line.is_empty() => At::Done,
                        At::Trailer => At::Trailer,
                        _ => return BodyStatus::Bad,
                    };
                }
            }
        }
    }
}

/// The size of a chunk-size line (hex digits, then optional extensions after `;`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let hex = std::str::from_utf8(line.get(..end)?).ok()?.trim();
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn framing_rules() {
        assert_eq!(framing(None, false, &[], &[]), Framing::Empty);
        assert_eq!(framing(Some(200), false, &[], &[]), Framing::UntilClose);
        assert_eq!(framing(Some(200), true, &s(&["5"]), &[]), Framing::Empty);
        assert_eq!(framing(Some(304), false, &s(&["5"]), &[]), Framing::Empty);
        assert_eq!(
            framing(Some(200), false, &s(&["5", "5"]), &[]),
            Framing::Length(5)
        );
        assert_eq!(
            framing(Some(200), false, &s(&["5", "6"]), &[]),
            Framing::Invalid
        );
        assert_eq!(
            framing(Some(200), false, &s(&["+5"]), &[]),
            Framing::Invalid
        );
        assert_eq!(
            framing(Some(200), false, &[], &s(&["gzip", "chunked"])),
            Framing::Chunked
        );
        assert_eq!(
            framing(Some(200), false, &[], &s(&["gzip"])),
            Framing::UntilClose
        );
        assert_eq!(framing(None, false, &[], &s(&["gzip"])), Framing::Invalid);
        assert_eq!(
            framing(None, false, &s(&["1"]), &s(&["chunked"])),
            Framing::Invalid
        );
    }

    #[test]
    fn chunked_split_everywhere() {
        let body = b"5;x=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n";
        for cut in 0..=body.len() {
            let mut r = BodyReader::new(Framing::Chunked).expect("reader");
            let mut buf = body[..cut].to_vec();
            let BodyStatus::More { consumed } = r.feed(&buf) else {
                assert_eq!(cut, body.len(), "ended early at {cut}");
                continue;
            };
            buf.drain(..consumed);
            buf.extend_from_slice(&body[cut..]);
            buf.extend_from_slice(b"NEXT");
            assert_eq!(
                r.feed(&buf),
                BodyStatus::Done {
                    consumed: buf.len() - 4
                },
                "cut {cut}"
            );
        }
    }

    #[test]
    fn length_and_bad_chunks() {
        let mut r = BodyReader::new(Framing::Length(5)).expect("reader");
        assert_eq!(r.feed(b"abc"), BodyStatus::More { consumed: 3 });
        assert_eq!(r.feed(b"deGET"), BodyStatus::Done { consumed: 2 });
        let mut r = BodyReader::new(Framing::Chunked).expect("reader");
        assert_eq!(r.feed(b"zz\r\n"), BodyStatus::Bad);
        let mut r = BodyReader::new(Framing::Chunked).expect("reader");
        assert_eq!(r.feed(b"1\r\nab\r\n"), BodyStatus::Bad);
        let mut r = BodyReader::new(Framing::Chunked).expect("reader");
        assert_eq!(r.feed(&[b'1'; MAX_LINE + 1]), BodyStatus::Bad);
        assert_eq!(BodyReader::new(Framing::UntilClose), None);
    }
}
