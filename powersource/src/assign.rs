//! Stable assignment: which character a user gets.
//!
//! A consistent-hash ring over the eligible characters, each placed at [`VNODES_PER_CHARACTER`]
//! points. Every point and every user key is hashed with [`common::hashing::StableHash`]
//! (SipHash-1-3 with fixed keys) over explicit bytes, so the answer depends only on (user key,
//! set of eligible ids): the same on every instance, after every restart, on every machine and
//! with every compiler. When a dataset gains or loses `k` of `n` characters, only about `k/n` of
//! users change character; the tests below check it with numbers.
//!
//! The ring is built once at start-up; a lookup is one hash and one binary search. It is the
//! `hashring` crate's ring (a test holds the two together) stored in half the memory: a point is
//! its hash and the index of its character, 12 bytes instead of `hashring`'s 24. With 160 points
//! per character the ring is most of what a powersource holds
//! ([`common::memory::RING_BYTES_PER_CHARACTER`]).

use common::hashing::stable_hash;
use common::memory::RING_BYTES_PER_CHARACTER;
use common::model::CharacterId;

/// Points per character on the ring. 160 keeps the share of each character within a few
/// percent of `1/n` (the figure libketama made common) at ~2.8 MiB for 1,500 characters.
pub const VNODES_PER_CHARACTER: u32 = 160;

/// The bytes whose stable hash places point `replica` of character `id`: the id (u64,
/// big-endian) then the replica index (u32, big-endian).
fn point_key(id: CharacterId, replica: u32) -> [u8; 12] {
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&id.to_be_bytes());
    bytes[8..].copy_from_slice(&replica.to_be_bytes());
    bytes
}

/// One point of the ring: where it is and whose it is (an index into the sorted ids). Packed to
/// 12 bytes: at 4-byte alignment a `(u64, u32)` would take 16.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Point {
    hash: u64,
    character: u32,
}

// the figure the memory estimate is built on
const _: () = assert!(
    std::mem::size_of::<Point>() * VNODES_PER_CHARACTER as usize == RING_BYTES_PER_CHARACTER
);

/// The assignment ring over a set of characters.
pub struct Assigner {
    /// Sorted by hash; ties (never observed) by character, so in id order.
    points: Vec<Point>,
    /// The characters, sorted and distinct.
    ids: Vec<CharacterId>,
}

impl Assigner {
    /// Builds the ring over `ids` (their order does not matter; duplicates count once).
    ///
    /// # Panics
    /// With 2^32 characters or more.
    pub fn new(ids: impl IntoIterator<Item = CharacterId>) -> Self {
        let mut ids: Vec<CharacterId> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        ids.shrink_to_fit();
        // exactly the ring's size, sorted in place: building it takes no more memory than it
        // keeps
        let mut points = Vec::with_capacity(ids.len() * VNODES_PER_CHARACTER as usize);
        for (character, &id) in ids.iter().enumerate() {
            let character = u32::try_from(character).expect("fewer than 2^32 characters");
            points.extend((0..VNODES_PER_CHARACTER).map(|replica| Point {
                hash: stable_hash(&point_key(id, replica)),
                character,
            }));
        }
        points.sort_unstable_by_key(|p| (p.hash, p.character));
        Assigner { points, ids }
    }

    /// The character assigned to `user_key`, or `None` when the ring is empty: the character
    /// of the first point at or after the key's hash, wrapping round.
    pub fn assign(&self, user_key: &str) -> Option<CharacterId> {
        let hash = stable_hash(user_key.as_bytes());
        let at = self.points.partition_point(|p| p.hash < hash);
        let point = self.points.get(at).or(self.points.first())?;
        Some(self.ids[point.character as usize])
    }

    /// How many characters are on the ring.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The bytes the ring holds (its points and ids).
    pub fn heap_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
            + self.ids.capacity() * std::mem::size_of::<CharacterId>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("user-{i}")).collect()
    }

    fn ids(range: std::ops::Range<u64>) -> Vec<CharacterId> {
        range.map(|i| 1_009_000 + i).collect()
    }

    #[test]
    fn assignment_is_pinned() {
        // The contract across machines, restarts and compilers: if these change, every user
        // changes superpower. Only change them on purpose.
        let a = Assigner::new(ids(0..200));
        let got: Vec<_> = ["alice", "bob", "user-1"]
            .iter()
            .map(|k| a.assign(k).unwrap())
            .collect();
        assert_eq!(got, PINNED);
    }
    const PINNED: [CharacterId; 3] = [1009194, 1009198, 1009107];

    #[test]
    fn matches_a_reference_implementation() {
        // The documented scheme, written out without hashring: points at
        // stable_hash(id BE ++ replica BE); a user gets the first point at or after
        // stable_hash(key), wrapping around.
        let ids = ids(0..50);
        let mut points: Vec<(u64, CharacterId)> = ids
            .iter()
            .flat_map(|&id| {
                (0..VNODES_PER_CHARACTER).map(move |r| {
                    let mut b = id.to_be_bytes().to_vec();
                    b.extend_from_slice(&r.to_be_bytes());
                    (stable_hash(&b), id)
                })
            })
            .collect();
        points.sort_unstable();
        let a = Assigner::new(ids);
        for u in users(2_000) {
            let h = stable_hash(u.as_bytes());
            let expected = points.iter().find(|p| p.0 >= h).unwrap_or(&points[0]).1;
            assert_eq!(a.assign(&u), Some(expected), "{u}");
        }
    }

    #[test]
    fn matches_hashring() {
        // the ring this one replaced, over the same points: every user keeps their character
        use common::hashing::{ring, RingKey};
        use std::hash::{Hash, Hasher};
        #[derive(Clone, Copy)]
        struct Vnode(CharacterId, u32);
        impl Hash for Vnode {
            fn hash<H: Hasher>(&self, state: &mut H) {
                RingKey(&point_key(self.0, self.1)).hash(state);
            }
        }
        let ids = ids(0..300);
        let mut reference = ring();
        reference.batch_add(
            ids.iter()
                .flat_map(|&id| (0..VNODES_PER_CHARACTER).map(move |r| Vnode(id, r)))
                .collect(),
        );
        let a = Assigner::new(ids);
        for u in users(5_000) {
            let expected = reference.get(&RingKey(u.as_bytes())).unwrap().0;
            assert_eq!(a.assign(&u), Some(expected), "{u}");
        }
    }

    #[test]
    fn a_point_takes_12_bytes() {
        let a = Assigner::new(ids(0..1_000));
        assert_eq!(
            a.heap_bytes(),
            1_000 * (RING_BYTES_PER_CHARACTER + std::mem::size_of::<CharacterId>())
        );
    }

    #[test]
    fn order_of_ids_does_not_matter() {
        let a = Assigner::new(ids(0..200));
        let b = Assigner::new(ids(0..200).into_iter().rev().chain(ids(0..10)));
        assert_eq!(b.len(), 200);
        for u in users(2_000) {
            assert_eq!(a.assign(&u), b.assign(&u));
        }
    }

    #[test]
    fn adding_10_of_200_characters_moves_few_users() {
        let before = Assigner::new(ids(0..200));
        let after = Assigner::new(ids(0..210));
        let users = users(10_000);
        let moved = users
            .iter()
            .filter(|u| before.assign(u) != after.assign(u))
            .count();
        let share = moved as f64 / users.len() as f64;
        println!(
            "adding 10 of 200 characters moved {moved} of 10000 users ({:.2}%)",
            share * 100.0
        );
        // ideal: 10/210 = 4.8%
        assert!(share <= 0.08, "{share}");
        assert!(share > 0.0);
        // and whoever moved, moved to a new character
        for u in &users {
            let (b, a) = (before.assign(u).unwrap(), after.assign(u).unwrap());
            assert!(
                b == a || a >= 1_009_200,
                "{u} moved from {b} to the old character {a}"
            );
        }
    }

    #[test]
    fn removing_10_characters_moves_only_their_users() {
        let before = Assigner::new(ids(0..200));
        let after = Assigner::new(ids(10..200));
        let users = users(10_000);
        let mut moved = 0;
        for u in &users {
            let (b, a) = (before.assign(u).unwrap(), after.assign(u).unwrap());
            if b >= 1_009_010 {
                assert_eq!(a, b, "{u} had a kept character and moved");
            } else {
                moved += 1;
            }
        }
        println!("removing 10 of 200 characters moved {moved} of 10000 users");
        assert!((moved as f64) / 10_000.0 <= 0.08, "{moved}");
    }

    #[test]
    fn load_is_spread() {
        let a = Assigner::new(ids(0..200));
        let mut counts = std::collections::HashMap::new();
        for u in users(20_000) {
            *counts.entry(a.assign(&u).unwrap()).or_insert(0u32) += 1;
        }
        // 100 users each on average
        assert!(counts.len() > 190, "{}", counts.len());
        assert!(
            counts.values().all(|&c| c < 250),
            "{:?}",
            counts.values().max()
        );
    }

    #[test]
    fn empty_ring_assigns_nothing() {
        let a = Assigner::new([]);
        assert!(a.is_empty());
        assert_eq!(a.assign("alice"), None);
    }
}
