//! Capture time: seconds and nanoseconds since the epoch at the capture's precision, and
//! its RFC 3339 form (hand-written: one format, no time zones, no allocation beyond the
//! string).

use std::fmt;

/// A capture timestamp: seconds and nanoseconds since the Unix epoch, with the
/// number of fractional digits the capture actually recorded (6 for µs pcap, 9 for ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second, 0..1_000_000_000.
    pub nanos: u32,
    /// Fractional digits to print: the capture's precision (0..=9).
    pub digits: u8,
}

impl Timestamp {
    /// Seconds as a float, for rates and round-trip times.
    pub fn as_f64(&self) -> f64 {
        self.secs as f64 + self.nanos as f64 / 1e9
    }

    /// RFC 3339 in UTC at the capture's precision, e.g. `2026-11-24T10:00:00.123456Z`.
    pub fn to_rfc3339(&self) -> String {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
        let mut s = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
        let digits = self.digits.min(9) as u32;
        if digits > 0 {
            let frac = self.nanos / 10u32.pow(9 - digits);
            s.push_str(&format!(".{:0width$}", frac, width = digits as usize));
        }
        s.push('Z');
        s
    }
}

/// Parses RFC 3339 (see [`parse_rfc3339`]).
impl std::str::FromStr for Timestamp {
    type Err = NotRfc3339;
    fn from_str(s: &str) -> Result<Timestamp, NotRfc3339> {
        parse_rfc3339(s).ok_or(NotRfc3339)
    }
}

/// Text that is not an RFC 3339 timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotRfc3339;

impl fmt::Display for NotRfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an RFC 3339 timestamp")
    }
}

impl std::error::Error for NotRfc3339 {}

/// JSON shows a timestamp as RFC 3339 text.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (`2024-01-18T13:15:36.767Z`, `…+01:00`; a space may
/// replace the `T`, and a bare date means its midnight UTC).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut dp = date.splitn(3, '-');
    let y = num(dp.next()?)?;
    let mo = num(dp.next()?)?;
    let d = num(dp.next()?)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo as u32, d as u32) * 86_400;
    let mut nanos = 0u32;
    let mut digits = 0u8;
    if !rest.is_empty() {
        let (clock, offset) = if let Some(r) = rest.strip_suffix(['Z', 'z']) {
            (r, 0i64)
        } else {
            let i = rest.rfind(['+', '-'])?;
            let (c, o) = rest.split_at(i);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            (c, sign * (num(oh)? * 3600 + num(om)? * 60))
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (clock, None),
        };
        let mut tp = hms.splitn(3, ':');
        let hh = num(tp.next()?)?;
        let mm = num(tp.next()?)?;
        let ss = num(tp.next()?)?;
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        secs += hh * 3600 + mm * 60 + ss - offset;
        if let Some(f) = frac {
            num(f)?;
            let f9: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
            nanos = f9.parse().ok()?;
            digits = f.len().min(9) as u8;
        }
    }
    Some(Timestamp {
        secs,
        nanos,
        digits,
    })
}

/// Proleptic Gregorian (year, month, day) to days since 1970-01-01; H. Hinnant's algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let t = Timestamp {
            secs: 1_705_583_736,
            nanos: 767_261_000,
            digits: 6,
        };
        assert_eq!(parse_rfc3339(&t.to_rfc3339()), Some(t));
        let z = parse_rfc3339("2024-01-18T14:15:36.767261+01:00").unwrap();
        assert_eq!((z.secs, z.nanos), (t.secs, t.nanos));
        assert_eq!(parse_rfc3339("1970-01-01").unwrap().secs, 0);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap().secs, -1);
        assert!(parse_rfc3339("2024-13-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("2024-01-01T00:00:00").is_none());
    }
}
