//! The message size distribution of one direction: exact minimum and maximum, and a
//! sparse fixed-bucket histogram for the median and the 95th percentile.
//!
//! Sizes are not kept one by one: a long connection can carry millions of messages, and
//! [`Sizes`] must stay small for every connection open at once. Buckets are exact below
//! 16 bytes, then [`SUB_BITS`] bits of sub-buckets per power of two, so a percentile is
//! reported as its bucket's upper bound, within 1/8 of the true size; 496 buckets cover
//! every `u64`, and the `BTreeMap` holds only those seen.

use super::SizeSummary;
use std::collections::BTreeMap;

/// Sub-buckets per power of two in the size histogram (relative error under 1/8).
const SUB_BITS: u32 = 3;

/// Histogram bucket of a message size: exact below 16, then 8 buckets per power of two.
fn bucket(v: u64) -> u16 {
    let small = 1u64 << (SUB_BITS + 1);
    if v < small {
        return v as u16;
    }
    let e = 63 - v.leading_zeros();
    let sub = (v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    (small + u64::from(e - SUB_BITS - 1) * (1 << SUB_BITS) + sub) as u16
}

/// Largest size falling in bucket `b`.
fn bucket_max(b: u16) -> u64 {
    let small = 1u64 << (SUB_BITS + 1);
    let b = u64::from(b);
    if b < small {
        return b;
    }
    let k = b - small;
    let e = k / (1 << SUB_BITS) + u64::from(SUB_BITS) + 1;
    let sub = k % (1 << SUB_BITS);
    let step = 1u64 << (e - u64::from(SUB_BITS));
    (1u64 << e)
        .checked_add((sub + 1) * step)
        .map_or(u64::MAX, |x| x - 1)
}

/// Sizes seen in one direction.
#[derive(Debug, Default)]
pub(super) struct Sizes {
    min: u64,
    max: u64,
    /// Messages per bucket, only for buckets seen.
    hist: BTreeMap<u16, u64>,
}

impl Sizes {
    /// Counts one message of `len` bytes.
    pub(super) fn add(&mut self, len: u64) {
        if self.hist.is_empty() || len < self.min {
            self.min = len;
        }
        self.max = self.max.max(len);
        *self.hist.entry(bucket(len)).or_default() += 1;
    }

    /// The size at quantile `q` (0..=1): its bucket's upper bound, kept within min..=max.
    fn percentile(&self, q: f64) -> u64 {
        let n: u64 = self.hist.values().sum();
        let rank = ((q * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in &self.hist {
            seen += c;
            if seen >= rank {
                return bucket_max(*b).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Minimum, median, 95th percentile and maximum, when any message was counted.
    pub(super) fn summary(&self) -> Option<SizeSummary> {
        (!self.hist.is_empty()).then(|| SizeSummary {
            min: self.min,
            median: self.percentile(0.5),
            p95: self.percentile(0.95),
            max: self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for v in (0..5000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket(v);
            assert!(b >= last, "{v}");
            last = b;
            assert!(bucket_max(b) >= v, "{v}: bucket {b} max {}", bucket_max(b));
            assert!(
                bucket_max(b) - v <= v / 8,
                "{v}: bucket {b} max {}",
                bucket_max(b)
            );
        }
        assert_eq!(bucket_max(bucket(u64::MAX)), u64::MAX);
    }

    #[test]
    fn percentiles_stay_within_min_and_max() {
        let mut s = Sizes::default();
        assert_eq!(s.summary(), None);
        s.add(1000);
        let one = SizeSummary {
            min: 1000,
            median: 1000,
            p95: 1000,
            max: 1000,
        };
        assert_eq!(s.summary(), Some(one));
        s.add(3);
        let two = s.summary().unwrap();
        assert_eq!((two.min, two.median, two.p95, two.max), (3, 3, 1000, 1000));
    }
}
