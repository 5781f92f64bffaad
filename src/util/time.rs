//! Capture time: seconds and nanoseconds since the epoch at the capture's precision, and
//! its RFC 3339 form, printed and parsed with `jiff` (which knows the calendar: an
//! impossible date or offset is refused, not wrapped around).

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

    /// RFC 3339 in UTC at the capture's precision, e.g. `2026-11-24T10:00:00.123456Z`. A
    /// time outside the years -9999..=9999 (a corrupt or hostile capture clock) has no
    /// RFC 3339 form: it is written as seconds since the epoch, `@SECS.FRACTION`.
    pub fn to_rfc3339(&self) -> String {
        let digits = usize::from(self.digits.min(9));
        match jiff::Timestamp::new(self.secs, self.nanos as i32) {
            Ok(t) => format!("{t:.digits$}"),
            Err(_) => {
                let frac = self.nanos / 10u32.pow(9 - digits as u32);
                match digits {
                    0 => format!("@{}", self.secs),
                    _ => format!("@{}.{frac:0digits$}", self.secs),
                }
            }
        }
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

/// Parses an RFC 3339 time (`2024-01-18T13:15:36.767Z`, `…+01:00`; a space may
/// replace the `T`), or a date alone, meaning its first instant (midnight UTC): the
/// start of a `--since` window.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    parse(s, false)
}

/// As [`parse_rfc3339`], where a date alone means its last instant (the next midnight
/// UTC less a nanosecond): the end of an inclusive `--until` window.
pub fn parse_rfc3339_until(s: &str) -> Option<Timestamp> {
    parse(s, true)
}

fn parse(s: &str, end_of_day: bool) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        if s.len() <= 10 {
            let start = d.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
            let t = if end_of_day {
                let next = d.tomorrow().ok()?.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
                next.timestamp()
                    .checked_sub(jiff::SignedDuration::from_nanos(1))
                    .ok()?
            } else {
                start
            };
            return Some(Timestamp {
                secs: t.as_second(),
                nanos: t.subsec_nanosecond() as u32,
                digits: if end_of_day { 9 } else { 0 },
            });
        }
    }
    let t: jiff::Timestamp = s.parse().ok()?;
    // The precision written is the precision given.
    let digits = s.split_once('.').map_or(0, |(_, f)| {
        f.bytes().take_while(u8::is_ascii_digit).count().min(9)
    }) as u8;
    Some(Timestamp {
        secs: t.as_second(),
        nanos: t.subsec_nanosecond() as u32,
        digits,
    })
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

    #[test]
    fn impossible_dates_and_offsets_are_refused() {
        assert!(parse_rfc3339("2024-02-31").is_none());
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_none());
        assert!(parse_rfc3339("2024-01-18T13:15:36+99:99").is_none());
        assert!(parse_rfc3339("2024-01-18T25:00:00Z").is_none());
        assert!(parse_rfc3339("2024-02-29").is_some());
    }

    #[test]
    fn a_date_alone_ends_at_its_last_instant_for_until() {
        let from = parse_rfc3339("2024-01-18").unwrap();
        let to = parse_rfc3339_until("2024-01-18").unwrap();
        assert_eq!(to.secs - from.secs, 86_399);
        assert_eq!(to.nanos, 999_999_999);
        // With a time, both mean that instant.
        assert_eq!(
            parse_rfc3339_until("2024-01-18T10:00:00Z"),
            parse_rfc3339("2024-01-18T10:00:00Z")
        );
    }

    #[test]
    fn a_clock_out_of_the_calendar_prints_as_seconds() {
        let t = Timestamp {
            secs: i64::MAX / 2,
            nanos: 5_000,
            digits: 6,
        };
        assert_eq!(t.to_rfc3339(), format!("@{}.000005", i64::MAX / 2));
        assert_eq!(
            Timestamp {
                secs: -1,
                nanos: 0,
                digits: 0
            }
            .to_rfc3339(),
            "1969-12-31T23:59:59Z"
        );
    }
}
