//! Address criteria (`--client`, `--server`): an IP, optionally with a port, matched
//! against the addresses records carry.
//!
//! Records print their endpoints as text (`IP:PORT`, `[V6]:PORT`), so [`AddrMatch`]
//! parses that text back into a socket address and compares addresses, not strings:
//! `2001:db8::1` and `[2001:db8:0::1]:443` are the same host however they are written.

use crate::tcp::stream::Endpoint;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address to match: an IP, optionally with a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrMatch {
    /// The IP address.
    pub ip: IpAddr,
    /// The port, when given.
    pub port: Option<u16>,
}

impl FromStr for AddrMatch {
    type Err = String;

    /// Parses `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]` or `[::1]:80`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(AddrMatch {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        bare.parse::<IpAddr>()
            .map(|ip| AddrMatch { ip, port: None })
            .map_err(|_| format!("{s:?} is not an address (ADDR, ADDR:PORT, [V6ADDR]:PORT)"))
    }
}

impl fmt::Display for AddrMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}", SocketAddr::new(self.ip, p)),
            None => write!(f, "{}", self.ip),
        }
    }
}

impl AddrMatch {
    /// True when the connection end `addr` matches.
    pub fn matches(&self, addr: &Endpoint) -> bool {
        let Endpoint(sa) = addr;
        sa.ip() == self.ip && self.port.is_none_or(|p| p == sa.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_in_every_form() {
        let a: AddrMatch = "10.0.0.1:5000".parse().unwrap();
        assert_eq!(a.port, Some(5000));
        let b: AddrMatch = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(b.port, Some(443));
        let c: AddrMatch = "2001:db8::1".parse().unwrap();
        assert_eq!(c.port, None);
        let d: AddrMatch = "[2001:db8::1]".parse().unwrap();
        assert_eq!(d, c);
        assert!("nonsense".parse::<AddrMatch>().is_err());
        assert!(a.matches(&"10.0.0.1:5000".parse().unwrap()));
        assert!(!a.matches(&"10.0.0.1:5001".parse().unwrap()));
        assert!(c.matches(&"[2001:db8::1]:443".parse().unwrap()));
        assert!(b.matches(&"[2001:db8::1]:443".parse().unwrap()));
        assert!(!b.matches(&"[2001:db8::1]:80".parse().unwrap()));
    }
}
