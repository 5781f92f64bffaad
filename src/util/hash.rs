//! The hasher of the per-packet connection tables: the `foldhash` crate's fast variant,
//! seeded at random. This file is the one place that names it.
//!
//! The default SipHash resists hash flooding at a cost that shows in profiles (about 5%
//! of a run, as it hashes two socket addresses for every packet). foldhash mixes each
//! word with a 64×64→128-bit folded multiply; its `RandomState` draws a seed per process
//! and per table, so colliding keys cannot be prepared in advance by whoever wrote the
//! capture. `FixedState` would make the tables' iteration order the same from run to
//! run, at the price of a seed known in advance; output does not need it, as where the
//! reassembler walks its table it orders what it takes (end of capture by flow id,
//! eviction by last packet). One exception, to be settled there: when the total
//! out-of-order cap is hit, a tie between flows holding exactly as many bytes goes to
//! whichever the table lists last.

/// Builds the hashers of the connection tables (`HashMap<K, V, FoldBuild>`), one random
/// seed per table.
pub type FoldBuild = foldhash::fast::RandomState;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;
    use std::net::SocketAddr;

    #[test]
    fn spreads_similar_keys() {
        let b = FoldBuild::default();
        let mut low = HashSet::new();
        for port in 0..4096u16 {
            let a: SocketAddr = ([10, 0, 0, 1], port).into();
            low.insert(b.hash_one((a, a)) & 0xfff);
        }
        // A uniform hash fills about 63% of 4096 buckets with 4096 keys.
        assert!(low.len() > 2400, "{}", low.len());
    }
}
