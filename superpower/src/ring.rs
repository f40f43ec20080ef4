//! The consistent-hash ring of healthy powersource instances, keyed by user id.
//!
//! Built once per membership change (never per request): [`VNODES_PER_INSTANCE`] points per
//! instance, sorted into one array of (point, member). A key's owner is the member of the first
//! point at or after the key's hash (wrapping round), exactly where `hashring` would put it (a
//! test holds the two together). Walking on from there past the owner's points gives "the next
//! distinct instance clockwise": where the key would land with the owner removed, the failover
//! target consistent hashing prescribes, without building a ring per member left out (which made
//! a rebuild grow with N² log N: 2 s of CPU at 300 members). (`hashring::get_with_replicas`
//! would answer the same, but clones the whole ring on every call.)
//!
//! The ring is a pure data structure over any [`Member`] (something with a stable name): it
//! knows nothing of health, HTTP or metrics, so its tests and benchmarks build it over plain
//! names.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::hashing::stable_hash;

/// What the ring places: anything with a stable, unique name (`host:port` for an instance).
/// The name alone decides where its points go.
pub trait Member {
    /// The member's identity on the ring.
    fn name(&self) -> &str;
}

impl Member for String {
    fn name(&self) -> &str {
        self
    }
}

/// Virtual nodes per instance: enough that 3 instances each get 33% ± a few points of users.
pub const VNODES_PER_INSTANCE: u32 = 160;

/// Most instances one answer tries (first choice, failover, one more).
pub const MAX_CANDIDATES: usize = 3;

/// The bytes whose stable hash places virtual node `replica` of the member named `name`:
/// `name#` and the replica as 4 big-endian bytes.
fn point_key(name: &str, replica: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 5);
    key.extend_from_slice(name.as_bytes());
    key.push(b'#');
    key.extend_from_slice(&replica.to_be_bytes());
    key
}

/// The members to try for one key, in order, without allocating.
pub struct Candidates<M> {
    list: [Option<Arc<M>>; MAX_CANDIDATES],
}

impl<M> Default for Candidates<M> {
    fn default() -> Self {
        Candidates {
            list: std::array::from_fn(|_| None),
        }
    }
}

impl<M> Clone for Candidates<M> {
    fn clone(&self) -> Self {
        Candidates {
            list: self.list.clone(),
        }
    }
}

impl<M> Candidates<M> {
    /// The candidates in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<M>> {
        self.list.iter().map_while(Option::as_ref)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// No healthy instance at all.
    pub fn is_empty(&self) -> bool {
        self.list[0].is_none()
    }

    /// The candidate at position `i`.
    pub fn get(&self, i: usize) -> Option<&Arc<M>> {
        self.list.get(i).and_then(Option::as_ref)
    }
}

/// A snapshot of the ring; swapped whole when membership or health changes.
pub struct RouteRing<M> {
    members: Vec<Arc<M>>,
    /// Every point in ring order: (its hash, the index of its member in `members`).
    points: Vec<(u64, u32)>,
    round_robin: AtomicUsize,
}

impl<M: Member> RouteRing<M> {
    /// Builds the ring over `members` (the healthy instances).
    pub fn build(mut members: Vec<Arc<M>>) -> Self {
        members.sort_by(|a, b| a.name().cmp(b.name()));
        members.dedup_by(|a, b| a.name() == b.name());
        let mut points: Vec<(u64, u32)> = members
            .iter()
            .zip(0u32..)
            .flat_map(|(m, index)| {
                (0..VNODES_PER_INSTANCE)
                    .map(move |replica| (stable_hash(&point_key(m.name(), replica)), index))
            })
            .collect();
        // By point, ties in insertion order (a stable sort, as hashring's).
        points.sort_by_key(|&(point, _)| point);
        RouteRing {
            members,
            points,
            round_robin: AtomicUsize::new(0),
        }
    }

    /// An empty ring (no healthy instance).
    pub fn empty() -> Self {
        Self::build(Vec::new())
    }

    /// Healthy instances on the ring.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// No healthy instance.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The instances on the ring, sorted by name.
    pub fn members(&self) -> &[Arc<M>] {
        &self.members
    }

    /// The instance that owns `key`.
    pub fn owner(&self, key: &[u8]) -> Option<&Arc<M>> {
        self.walk(key).next().map(|i| &self.members[i])
    }

    /// The instances to try for `key`: its owner, the next distinct instance clockwise, then one
    /// more chosen deterministically from the key.
    pub fn candidates(&self, key: &[u8]) -> Candidates<M> {
        let mut c = Candidates::default();
        let mut walk = self.walk(key);
        let Some(first_pos) = walk.next() else {
            return c;
        };
        c.list[0] = Some(self.members[first_pos].clone());
        if self.members.len() < 2 {
            return c;
        }
        let second_pos = walk.find(|&i| i != first_pos);
        c.list[1] = second_pos.map(|i| self.members[i].clone());
        if self.members.len() > 2 {
            let n = self.members.len();
            let start = (stable_hash(key) % n as u64) as usize;
            c.list[2] = (0..n)
                .map(|i| (start + i) % n)
                .find(|&i| i != first_pos && Some(i) != second_pos)
                .map(|i| self.members[i].clone());
        }
        c
    }

    /// Candidates that ignore the key: the next instances in turn (the "ring off" switch).
    pub fn round_robin(&self) -> Candidates<M> {
        let mut c = Candidates::default();
        let n = self.members.len();
        if n == 0 {
            return c;
        }
        let start = self.round_robin.fetch_add(1, Ordering::Relaxed);
        for (slot, i) in c.list.iter_mut().zip(0..n.min(MAX_CANDIDATES)) {
            *slot = Some(self.members[(start + i) % n].clone());
        }
        c
    }

    /// The members of the points from `key`'s onwards, clockwise once round: from the first
    /// point not below the key's hash (as `hashring` finds it), wrapping round.
    fn walk(&self, key: &[u8]) -> impl Iterator<Item = usize> + '_ {
        let hash = stable_hash(key);
        let start = self.points.partition_point(|&(point, _)| point < hash);
        let (earlier, from_key) = self.points.split_at(start);
        from_key
            .iter()
            .chain(earlier)
            .map(|&(_, index)| index as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn instances(n: usize) -> Vec<Arc<String>> {
        (0..n)
            .map(|i| Arc::new(format!("127.0.0.1:{}", 7000 + i)))
            .collect()
    }

    fn users(n: u32) -> Vec<[u8; 16]> {
        (0..n)
            .map(|i| {
                u128::from(i)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834)
                    .to_be_bytes()
            })
            .collect()
    }

    fn owners(ring: &RouteRing<String>, users: &[[u8; 16]]) -> Vec<String> {
        users
            .iter()
            .map(|u| ring.owner(u).unwrap().name().to_owned())
            .collect()
    }

    #[test]
    fn three_instances_share_users_evenly() {
        let ring = RouteRing::build(instances(3));
        let us = users(10_000);
        let mut counts: HashMap<String, usize> = HashMap::new();
        for o in owners(&ring, &us) {
            *counts.entry(o).or_default() += 1;
        }
        assert_eq!(counts.len(), 3);
        for (name, c) in &counts {
            assert!(*c <= 4_000, "{name} got {c} of 10000 users");
        }
    }

    #[test]
    fn losing_one_of_four_moves_only_its_users_and_they_come_back() {
        let all = instances(4);
        let before = RouteRing::build(all.clone());
        let us = users(10_000);
        let o1 = owners(&before, &us);
        let gone = all[2].name().to_owned();
        let after = RouteRing::build(all.iter().filter(|i| i.name() != gone).cloned().collect());
        let o2 = owners(&after, &us);
        let mut moved = 0;
        for (a, b) in o1.iter().zip(&o2) {
            if a != b {
                assert_eq!(a, &gone, "only the lost instance's users move");
                moved += 1;
            }
        }
        let share = moved as f64 / us.len() as f64;
        assert!((0.18..=0.32).contains(&share), "moved {share}");
        let back = RouteRing::build(all.clone());
        assert_eq!(owners(&back, &us), o1, "users return to their instance");
    }

    #[test]
    fn failover_goes_where_the_ring_without_the_owner_sends_the_key() {
        let all = instances(4);
        let ring = RouteRing::build(all.clone());
        for u in users(2_000) {
            let c = ring.candidates(&u);
            assert_eq!(c.len(), 3);
            let first = c.get(0).unwrap().name().to_owned();
            let second = c.get(1).unwrap().name().to_owned();
            let third = c.get(2).unwrap().name().to_owned();
            assert!(first != second && second != third && first != third);
            let without =
                RouteRing::build(all.iter().filter(|i| i.name() != first).cloned().collect());
            assert_eq!(without.owner(&u).unwrap().name(), second);
        }
    }

    /// A virtual node as `hashring` places it, from the same bytes as the ring's points.
    struct Placed(String, u32);

    impl std::hash::Hash for Placed {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            common::hashing::RingKey(&point_key(&self.0, self.1)).hash(state);
        }
    }

    #[test]
    fn owners_are_where_hashring_puts_them() {
        for n in [1, 3, 30] {
            let all = instances(n);
            let ring = RouteRing::build(all.clone());
            let mut reference = common::hashing::ring();
            reference.batch_add(
                all.iter()
                    .flat_map(|m| (0..VNODES_PER_INSTANCE).map(|r| Placed(m.name().to_owned(), r)))
                    .collect(),
            );
            for u in users(5_000) {
                let expected = reference.get(&common::hashing::RingKey(&u)).unwrap();
                assert_eq!(ring.owner(&u).unwrap().name(), expected.0, "{n} members");
            }
        }
    }

    #[test]
    fn the_next_distinct_member_is_the_owner_on_the_ring_without_it_at_every_size() {
        for n in [2, 3, 7, 40] {
            let all = instances(n);
            let ring = RouteRing::build(all.clone());
            let mut without: HashMap<String, RouteRing<String>> = HashMap::new();
            for u in users(500) {
                let c = ring.candidates(&u);
                assert_eq!(c.len(), n.min(MAX_CANDIDATES));
                let first = c.get(0).unwrap().name().to_owned();
                let ring_without = without.entry(first.clone()).or_insert_with(|| {
                    RouteRing::build(all.iter().filter(|i| i.name() != first).cloned().collect())
                });
                assert_eq!(
                    ring_without.owner(&u).unwrap().name(),
                    c.get(1).unwrap().name(),
                    "{n} members"
                );
            }
        }
    }

    #[test]
    fn building_is_deterministic_and_order_independent() {
        let mut a = instances(5);
        let r1 = RouteRing::build(a.clone());
        a.reverse();
        let r2 = RouteRing::build(a);
        let us = users(1_000);
        assert_eq!(owners(&r1, &us), owners(&r2, &us));
    }

    #[test]
    fn empty_and_single_rings() {
        let e = RouteRing::<String>::empty();
        assert!(e.candidates(b"x").is_empty());
        assert!(e.round_robin().is_empty());
        let one = RouteRing::build(instances(1));
        assert_eq!(one.candidates(b"x").len(), 1);
    }

    #[test]
    fn round_robin_visits_every_instance() {
        let ring = RouteRing::build(instances(3));
        let firsts: std::collections::HashSet<String> = (0..3)
            .map(|_| ring.round_robin().get(0).unwrap().name().to_owned())
            .collect();
        assert_eq!(firsts.len(), 3);
    }
}
