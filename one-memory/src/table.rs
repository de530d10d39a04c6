//! The table inside each shard: open addressing with linear probing in Robin Hood order.
//!
//! A record is 24 bytes, stored inline: the key's 16 bytes and its deadline. Keys are already
//! uniform hashes, so a key's home slot is its first eight bytes scaled to the table's size
//! (any size, not only powers of two). Keeping the key and its deadline together means an
//! operation touches one place in memory, and growing by half (not doubling) at up to 90% full
//! keeps the table between 60% and 90% full: at most 40 bytes per record, whatever the count.
//!
//! Robin Hood order (entries along a run sorted by home slot) bounds probe lengths at high load
//! and lets a lookup of an absent key stop early; removal shifts the rest of the run back
//! (no tombstones), so a table never degrades with churn.

/// A stored record; `deadline == EMPTY` marks a free slot.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) key: [u64; 2],
    /// Nanoseconds on the store's clock; never [`EMPTY`] for a record (every deadline is at
    /// least one millisecond after the clock's origin).
    pub(crate) deadline: u64,
}

pub(crate) const EMPTY: u64 = 0;

/// Where a key is, or where it would go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    Found(usize),
    /// Absent: it would be inserted at this slot.
    Vacant(usize),
}

/// The most a table is filled to, in percent, before it grows by half.
const MAX_LOAD_PERCENT: usize = 90;
const MIN_SLOTS: usize = 16;

#[derive(Debug)]
pub(crate) struct Table {
    slots: Box<[Slot]>,
    len: usize,
    /// The next slot the incremental sweep looks at; slots before it were looked at in this
    /// pass.
    cursor: usize,
    /// The earliest deadline among the records this pass has kept, or that entered the part
    /// already swept (inserted, or moved there): at the end of a pass, a lower bound of every
    /// deadline in the table.
    pass_earliest: u64,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            slots: Box::default(),
            len: 0,
            cursor: 0,
            pass_earliest: u64::MAX,
        }
    }
}

impl Table {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The number of slots allocated.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Whether one more record needs a larger table.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        (self.len + 1) * 100 > self.slots.len() * MAX_LOAD_PERCENT
    }

    #[inline]
    fn home(&self, lo: u64) -> usize {
        // Scales the key's uniform 64 bits onto [0, slots): a multiply instead of a modulo.
        ((u128::from(lo) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    /// How far the record in slot `i` is from its home.
    #[inline]
    fn dist(&self, i: usize) -> usize {
        let home = self.home(self.slots[i].key[0]);
        if i >= home {
            i - home
        } else {
            i + self.slots.len() - home
        }
    }

    /// Finds `key`, or the slot where it belongs.
    #[inline]
    pub(crate) fn find(&self, key: &[u64; 2]) -> Probe {
        if self.slots.is_empty() {
            return Probe::Vacant(0);
        }
        let mut i = self.home(key[0]);
        let mut dist = 0;
        loop {
            let slot = &self.slots[i];
            if slot.deadline == EMPTY {
                return Probe::Vacant(i);
            }
            if slot.key == *key {
                return Probe::Found(i);
            }
            // Robin Hood: a record nearer its home than we are to ours means `key` would
            // have been placed before it.
            if self.dist(i) < dist {
                return Probe::Vacant(i);
            }
            i = self.next(i);
            dist += 1;
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> &Slot {
        &self.slots[i]
    }

    /// Moves the deadline of the record in slot `i`.
    #[inline]
    pub(crate) fn set_deadline(&mut self, i: usize, deadline: u64) {
        debug_assert_ne!(deadline, EMPTY);
        self.slots[i].deadline = deadline;
        self.pass_earliest = self.pass_earliest.min(deadline);
    }

    /// Inserts a record whose key is absent, where [`find`](Self::find) said it goes. The
    /// table must not be [full](Self::is_full) (grow it first, then find again).
    ///
    /// The records from `index` to the end of the run move one slot on, keeping their order:
    /// every one of them is nearer its home than the new record is to its own, so Robin Hood
    /// order holds, and one block move beats swapping slot by slot.
    #[inline]
    pub(crate) fn insert_at(&mut self, index: usize, slot: Slot) {
        debug_assert!(self.len < self.slots.len());
        let mut end = index;
        while self.slots[end].deadline != EMPTY {
            end = self.next(end);
        }
        if end >= index {
            self.slots.copy_within(index..end, index + 1);
        } else {
            // The run wraps around the end of the table: its last record moves to the first
            // slot, which the sweep may have passed.
            let last = self.slots.len() - 1;
            self.slots.copy_within(0..end, 1);
            self.slots[0] = self.slots[last];
            self.pass_earliest = self.pass_earliest.min(self.slots[0].deadline);
            self.slots.copy_within(index..last, index + 1);
        }
        self.slots[index] = slot;
        self.pass_earliest = self.pass_earliest.min(slot.deadline);
        self.len += 1;
    }

    /// Inserts a record whose key is absent, growing the table if needed.
    pub(crate) fn insert_new(&mut self, slot: Slot) {
        if self.is_full() {
            self.grow();
        }
        match self.find(&slot.key) {
            Probe::Vacant(index) => self.insert_at(index, slot),
            Probe::Found(i) => self.slots[i] = slot,
        }
    }

    /// Removes the record in slot `i`; the rest of its run moves back one slot.
    pub(crate) fn remove_at(&mut self, mut i: usize) -> Slot {
        let removed = self.slots[i];
        loop {
            let j = self.next(i);
            let moved = self.slots[j];
            if moved.deadline == EMPTY || self.home(moved.key[0]) == j {
                break;
            }
            if j == self.cursor {
                // Moved back into the part this pass has swept.
                self.pass_earliest = self.pass_earliest.min(moved.deadline);
            }
            self.slots[i] = moved;
            i = j;
        }
        self.slots[i] = Slot::default();
        self.len -= 1;
        removed
    }

    /// Continues the incremental sweep over at most `budget` slots, removing the records
    /// expired at `now` (`removed` is told of each). Returns the earliest deadline left in the
    /// table when this finished a pass over the whole table.
    pub(crate) fn sweep_step(
        &mut self,
        budget: usize,
        now: u64,
        mut removed: impl FnMut(&Slot),
    ) -> Option<u64> {
        if self.cursor >= self.slots.len() {
            return self.end_pass();
        }
        for _ in 0..budget {
            let slot = self.slots[self.cursor];
            if slot.deadline != EMPTY && now >= slot.deadline {
                // The rest of the run moves back: the cursor's slot is looked at again.
                self.remove_at(self.cursor);
                removed(&slot);
                continue;
            }
            if slot.deadline != EMPTY {
                self.pass_earliest = self.pass_earliest.min(slot.deadline);
            }
            self.cursor += 1;
            if self.cursor == self.slots.len() {
                return self.end_pass();
            }
        }
        None
    }

    fn end_pass(&mut self) -> Option<u64> {
        self.cursor = 0;
        Some(std::mem::replace(&mut self.pass_earliest, u64::MAX))
    }

    /// Calls `keep` once on every record and removes those it refuses.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Slot) -> bool) {
        if self.len == 0 {
            return;
        }
        // Start just after a free slot: no run crosses it, so every run is visited whole and
        // removals only ever move records that are still to be visited.
        let Some(start) = self.slots.iter().position(|s| s.deadline == EMPTY) else {
            return; // unreachable: the table is never full
        };
        let mut i = self.next(start);
        let mut visited = 1;
        while visited < self.slots.len() {
            let slot = self.slots[i];
            if slot.deadline != EMPTY && !keep(&slot) {
                self.remove_at(i); // the next record, if it moved, is now in slot `i`
                continue;
            }
            i = self.next(i);
            visited += 1;
        }
    }

    /// Every record.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.deadline != EMPTY)
    }

    fn grow(&mut self) {
        let slots = self.slots.len();
        self.rebuild((slots + slots / 2).max(MIN_SLOTS));
    }

    /// Gives memory back once the table is mostly empty: down to about half full.
    pub(crate) fn shrink_if_sparse(&mut self) {
        let slots = self.slots.len();
        if slots > 4 * MIN_SLOTS && self.len * 4 < slots {
            let target = (self.len * 2).max(MIN_SLOTS);
            self.rebuild(if self.len == 0 { 0 } else { target });
        }
    }

    fn rebuild(&mut self, slots: usize) {
        debug_assert!(self.len * 100 <= slots * MAX_LOAD_PERCENT || self.len == 0);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots].into());
        self.len = 0;
        // Every record moves: the sweep starts a new pass.
        self.cursor = 0;
        self.pass_earliest = u64::MAX;
        for slot in old.iter().filter(|s| s.deadline != EMPTY) {
            match self.find(&slot.key) {
                Probe::Vacant(index) => self.insert_at(index, *slot),
                Probe::Found(_) => unreachable!("keys in a table are distinct"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> [u64; 2] {
        // SplitMix64: uniform like real keys.
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        [z ^ (z >> 31), i]
    }

    fn slot(i: u64) -> Slot {
        Slot {
            key: key(i),
            deadline: i + 1,
        }
    }

    /// Every record is reachable from its home, and runs are in Robin Hood order.
    fn check(t: &Table) {
        assert_eq!(t.iter().count(), t.len());
        for (i, s) in t.slots.iter().enumerate() {
            if s.deadline == EMPTY {
                continue;
            }
            assert_eq!(t.find(&s.key), Probe::Found(i));
            let prev = if i == 0 { t.slots.len() - 1 } else { i - 1 };
            if t.dist(i) > 0 {
                assert_ne!(
                    t.slots[prev].deadline, EMPTY,
                    "a gap before a displaced record"
                );
                assert!(t.dist(prev) + 1 >= t.dist(i), "Robin Hood order");
            }
        }
    }

    #[test]
    fn insert_find_remove_retain_stay_consistent() {
        let mut t = Table::default();
        for i in 0..5000 {
            assert!(matches!(t.find(&key(i)), Probe::Vacant(_)));
            t.insert_new(slot(i));
        }
        check(&t);
        assert!(t.len() * 100 <= t.slots() * MAX_LOAD_PERCENT);
        assert!(
            t.len() * 100 >= t.slots() * 56,
            "{} in {}",
            t.len(),
            t.slots()
        );
        for i in (0..5000).step_by(3) {
            let Probe::Found(at) = t.find(&key(i)) else {
                panic!("{i} is in the table")
            };
            assert_eq!(t.remove_at(at), slot(i));
        }
        check(&t);
        let mut seen = 0;
        t.retain(|s| {
            seen += 1;
            s.deadline % 2 == 0
        });
        assert_eq!(seen, 5000 - 5000usize.div_ceil(3));
        check(&t);
        for i in 0..5000 {
            let kept = i % 3 != 0 && (i + 1) % 2 == 0;
            assert_eq!(matches!(t.find(&key(i)), Probe::Found(_)), kept, "{i}");
        }
        t.retain(|_| false);
        assert_eq!(t.len(), 0);
        t.shrink_if_sparse();
        assert_eq!(t.slots(), 0);
        check(&t);
        t.insert_new(slot(7));
        assert_eq!(
            t.find(&key(7)),
            Probe::Found(t.find(&key(7)).found().unwrap())
        );
    }

    #[test]
    fn small_tables_wrap_around() {
        for n in 1..40 {
            let mut t = Table::default();
            for i in 0..n {
                t.insert_new(slot(i * 7919));
            }
            check(&t);
            t.retain(|s| s.deadline % 3 != 1);
            check(&t);
        }
    }

    /// Incremental sweeping under random inserts, removals and deadline moves: every pass
    /// reports a lower bound of the deadlines left, and what had expired before the previous
    /// pass began is gone (a record moved back across the cursor can wait one more pass).
    #[test]
    fn sweep_steps_interleaved_with_updates_keep_their_promises() {
        let mut t = Table::default();
        let mut rng = 0x1234_5678_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut now = 1;
        let mut id = 0;
        let mut pass_starts = [now, now];
        for _ in 0..200_000 {
            match next() % 8 {
                0..=2 => {
                    id += 1;
                    t.insert_new(Slot {
                        key: key(id),
                        deadline: now + 1 + next() % 5000,
                    });
                }
                3 => {
                    let victim = key(next() % (id + 1));
                    if let Probe::Found(i) = t.find(&victim) {
                        t.remove_at(i);
                    }
                }
                4 => {
                    let moved = key(next() % (id + 1));
                    if let Probe::Found(i) = t.find(&moved) {
                        t.set_deadline(i, now + 1 + next() % 5000);
                    }
                }
                _ => {
                    now += next() % 3;
                    if let Some(earliest) = t.sweep_step(1 + (next() % 16) as usize, now, |_| ()) {
                        let actual = t.iter().map(|s| s.deadline).min().unwrap_or(u64::MAX);
                        assert!(earliest <= actual, "{earliest} > {actual}");
                        assert!(t.iter().all(|s| s.deadline > pass_starts[0]));
                        pass_starts = [pass_starts[1], now];
                    }
                }
            }
        }
        check(&t);
    }

    impl Probe {
        fn found(self) -> Option<usize> {
            match self {
                Probe::Found(i) => Some(i),
                Probe::Vacant(_) => None,
            }
        }
    }
}
