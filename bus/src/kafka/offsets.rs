//! The positions of the partitions a work queue's consumer owns.
//!
//! Kafka keeps one position per partition, not one acknowledgement per
//! message, and the application settles messages in any order. Each
//! partition's position is therefore the lowest offset still out (or the
//! next one to come when none is), and it is committed when it moves. A
//! message is committed only once it and every message before it in its
//! partition are settled, which is what at-least-once asks.

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;
use rdkafka::{Offset, TopicPartitionList};

/// The positions of the partitions this consumer owns.
#[derive(Default)]
pub(crate) struct Offsets {
    inner: Mutex<OffsetsInner>,
}

#[derive(Default)]
struct OffsetsInner {
    /// The partitions this consumer reads; a message of any other (one
    /// still buffered after its partition was given away) is not handed out.
    owned: BTreeSet<i32>,
    /// Partitions no longer read, still claimed until what was delivered
    /// from them is settled (see [`Offsets::drain`]).
    draining: BTreeSet<i32>,
    partitions: HashMap<i32, Partition>,
    /// For a partition read again from before its committed position (see
    /// [`Offsets::start_at`]), that position: what comes before it was
    /// settled by whoever committed it, and is not handed out again.
    starts: HashMap<i32, i64>,
    /// Numbers each partition's ownership, so that a settle from before a
    /// partition was given away does not move the position of a later owner.
    next_epoch: u64,
}

struct Partition {
    epoch: u64,
    /// Offsets delivered and not yet settled.
    out: BTreeSet<i64>,
    /// The offset after the last one received.
    next: i64,
    /// The position last committed (or about to be).
    committed: i64,
    /// The position the group is sure to have: where reading started. A
    /// commit on the way (`committed`) may still be lost with the process.
    started: i64,
    /// Whether the position moved since the last commit.
    moved: bool,
}

impl Partition {
    fn position(&self) -> i64 {
        self.out.first().copied().unwrap_or(self.next)
    }
}

impl Offsets {
    /// The partitions claimed: read, or draining.
    pub(crate) fn owned(&self) -> BTreeSet<i32> {
        let inner = self.inner.lock();
        inner.owned.union(&inner.draining).copied().collect()
    }

    /// How many messages received here the group's lag still counts: from
    /// each partition's committed position (or the one about to be) up to
    /// the last message received, whether settled or not.
    pub(crate) fn held(&self) -> u64 {
        let inner = self.inner.lock();
        inner
            .partitions
            .values()
            .map(|part| u64::try_from(part.next - part.committed).unwrap_or(0))
            .sum()
    }

    /// The partitions read.
    pub(crate) fn reading(&self) -> BTreeSet<i32> {
        self.inner.lock().owned.clone()
    }

    /// Stops handing out messages of `partitions` while keeping them
    /// claimed: what was delivered from them is still settled here, and
    /// their positions still move and are committed, until [`Self::drained`]
    /// says nothing is out there.
    pub(crate) fn drain(&self, partitions: &BTreeSet<i32>) {
        let mut inner = self.inner.lock();
        for partition in partitions {
            if inner.owned.remove(partition) {
                inner.draining.insert(*partition);
            }
        }
    }

    /// The draining partitions with nothing out.
    pub(crate) fn drained(&self) -> BTreeSet<i32> {
        let inner = self.inner.lock();
        let idle = |p: &&i32| {
            inner
                .partitions
                .get(*p)
                .is_none_or(|part| part.out.is_empty())
        };
        inner.draining.iter().filter(idle).copied().collect()
    }

    /// Records partitions taken on.
    pub(crate) fn acquired(&self, partitions: &BTreeSet<i32>) {
        self.inner.lock().owned.extend(partitions);
    }

    /// Records where `partitions`, about to be read (again), are handed
    /// out from: the committed positions in `starts`, read from a little
    /// before (see `consume::upkeep`), so the messages before are dropped
    /// as they come; those not in `starts` from wherever they are read.
    pub(crate) fn start_at(&self, partitions: &BTreeSet<i32>, starts: &HashMap<i32, i64>) {
        let mut inner = self.inner.lock();
        inner
            .starts
            .retain(|partition, _| !partitions.contains(partition));
        inner.starts.extend(starts);
    }

    /// Records a message received; its partition's epoch, or `None` when
    /// the partition is not this consumer's (any more).
    pub(crate) fn taken(&self, partition: i32, offset: i64) -> Option<u64> {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        if !inner.owned.contains(&partition) {
            return None;
        }
        if let Some(start) = inner.starts.get(&partition).copied() {
            if offset < start {
                // Settled before, by whoever committed the position.
                return None;
            }
            inner.starts.remove(&partition);
        }
        let part = inner.partitions.entry(partition).or_insert_with(|| {
            inner.next_epoch += 1;
            Partition {
                epoch: inner.next_epoch,
                out: BTreeSet::new(),
                next: offset,
                committed: offset,
                started: offset,
                moved: false,
            }
        });
        part.out.insert(offset);
        part.next = part.next.max(offset + 1);
        Some(part.epoch)
    }

    /// Records a message settled; whether its partition's position moved.
    pub(crate) fn settled(&self, partition: i32, offset: i64, epoch: u64) -> bool {
        let mut inner = self.inner.lock();
        let Some(part) = inner.partitions.get_mut(&partition) else {
            return false;
        };
        if part.epoch != epoch || !part.out.remove(&offset) {
            return false;
        }
        if part.position() > part.committed {
            part.moved = true;
        }
        part.moved
    }

    /// The positions that moved, marked as committed.
    pub(crate) fn to_commit(&self, topic: &str) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        let mut inner = self.inner.lock();
        for (partition, part) in &mut inner.partitions {
            if part.moved {
                let position = part.position();
                if list
                    .add_partition_offset(topic, *partition, Offset::Offset(position))
                    .is_ok()
                {
                    part.committed = position;
                    part.moved = false;
                }
            }
        }
        list
    }

    /// Forgets what is out in every partition owned, which stay owned:
    /// settles from before move no position, and the next message received
    /// starts a new epoch. One step, so that no message received meanwhile
    /// is taken for another consumer's and skipped.
    pub(crate) fn forget(&self) {
        self.inner.lock().partitions.clear();
    }

    /// Gives partitions away (read or draining), returning the positions to
    /// commit: what is settled there; the rest is the next owner's to
    /// deliver again. A position already committed asynchronously is
    /// committed again: that commit may not have reached the broker when
    /// the next owner asks for the position, or ever, when this process
    /// exits.
    pub(crate) fn released(&self, topic: &str, released: &BTreeSet<i32>) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        let mut inner = self.inner.lock();
        for partition in released {
            inner.owned.remove(partition);
            inner.draining.remove(partition);
            inner.starts.remove(partition);
            if let Some(part) = inner.partitions.remove(partition)
                && part.position() > part.started
            {
                let _ =
                    list.add_partition_offset(topic, *partition, Offset::Offset(part.position()));
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owning(partitions: &[i32]) -> Offsets {
        let offsets = Offsets::default();
        offsets.acquired(&partitions.iter().copied().collect());
        offsets
    }

    #[test]
    fn the_position_waits_for_the_lowest_offset_out() {
        let offsets = owning(&[0]);
        let epoch = offsets.taken(0, 10).unwrap_or_default();
        offsets.taken(0, 11);
        offsets.taken(0, 12);
        assert!(!offsets.settled(0, 11, epoch), "10 is still out");
        assert_eq!(offsets.to_commit("t").count(), 0);
        assert!(offsets.settled(0, 10, epoch));
        let list = offsets.to_commit("t");
        assert_eq!(
            list.find_partition("t", 0).map(|e| e.offset()),
            Some(Offset::Offset(12))
        );
        assert!(offsets.settled(0, 12, epoch));
        let list = offsets.to_commit("t");
        assert_eq!(
            list.find_partition("t", 0).map(|e| e.offset()),
            Some(Offset::Offset(13))
        );
    }

    #[test]
    fn what_is_held_runs_from_the_committed_position_to_the_last_received() {
        let offsets = owning(&[0, 1]);
        let epoch = offsets.taken(0, 10).unwrap_or_default();
        offsets.taken(0, 11);
        offsets.taken(0, 12);
        offsets.taken(1, 3);
        assert_eq!(offsets.held(), 4);
        // Settled behind 10, still out: the lag counts them.
        offsets.settled(0, 11, epoch);
        offsets.settled(0, 12, epoch);
        assert_eq!(offsets.held(), 4);
        offsets.settled(0, 10, epoch);
        assert_eq!(offsets.held(), 4, "settled, not committed yet");
        offsets.to_commit("t");
        assert_eq!(offsets.held(), 1, "only partition 1's message");
        offsets.released("t", &BTreeSet::from([1]));
        assert_eq!(offsets.held(), 0);
    }

    #[test]
    fn what_comes_before_the_start_of_a_partition_read_again_is_not_handed_out() {
        let offsets = owning(&[0, 1]);
        offsets.start_at(&BTreeSet::from([0, 1]), &HashMap::from([(0, 40)]));
        // Read again from elsewhere before anything came (a broker that
        // lost its topics): the earlier start no longer holds.
        offsets.start_at(&BTreeSet::from([0, 1]), &HashMap::from([(0, 12)]));
        assert_eq!(offsets.taken(0, 10), None, "settled by its previous owner");
        assert_eq!(offsets.taken(0, 11), None);
        let epoch = offsets.taken(0, 12).expect("the committed position");
        assert!(offsets.taken(0, 13).is_some());
        assert!(
            offsets.taken(1, 0).is_some(),
            "another partition: from its start"
        );
        assert_eq!(offsets.held(), 3);
        assert!(offsets.settled(0, 12, epoch));
        let list = offsets.to_commit("t");
        assert_eq!(
            list.find_partition("t", 0).map(|e| e.offset()),
            Some(Offset::Offset(13))
        );
        offsets.start_at(&BTreeSet::from([1]), &HashMap::from([(1, 5)]));
        offsets.start_at(&BTreeSet::from([1]), &HashMap::new());
        assert!(offsets.taken(1, 1).is_some(), "read from its start now");
    }

    #[test]
    fn a_settle_from_before_a_partition_was_given_away_moves_nothing() {
        let offsets = owning(&[3]);
        let old = offsets.taken(3, 5);
        assert_eq!(offsets.released("t", &BTreeSet::from([3])).count(), 0);
        assert_eq!(offsets.taken(3, 5), None, "no longer ours");
        offsets.acquired(&BTreeSet::from([3]));
        let new = offsets.taken(3, 5);
        assert_ne!(old, new);
        assert!(!offsets.settled(3, 5, old.unwrap_or_default()));
        assert!(offsets.settled(3, 5, new.unwrap_or_default()));
    }

    #[test]
    fn forgetting_keeps_the_partition_and_starts_a_new_epoch() {
        let offsets = owning(&[2]);
        let old = offsets.taken(2, 40).unwrap_or_default();
        offsets.forget();
        assert_eq!(offsets.owned(), BTreeSet::from([2]));
        let new = offsets.taken(2, 41).expect("still ours");
        assert_ne!(old, new);
        assert!(!offsets.settled(2, 40, old), "out before: moves nothing");
        assert!(offsets.settled(2, 41, new));
    }

    #[test]
    fn a_draining_partition_stays_claimed_until_what_is_out_is_settled() {
        let offsets = owning(&[1, 2]);
        let epoch = offsets.taken(1, 7).unwrap_or_default();
        offsets.taken(1, 8);
        offsets.drain(&BTreeSet::from([1]));
        assert_eq!(offsets.reading(), BTreeSet::from([2]));
        assert_eq!(offsets.owned(), BTreeSet::from([1, 2]), "still claimed");
        assert_eq!(offsets.taken(1, 9), None, "buffered after: not handed out");
        assert!(offsets.drained().is_empty(), "7 and 8 are out");
        assert!(offsets.settled(1, 7, epoch));
        assert!(offsets.settled(1, 8, epoch));
        assert_eq!(offsets.drained(), BTreeSet::from([1]));
        let list = offsets.released("t", &BTreeSet::from([1]));
        assert_eq!(
            list.find_partition("t", 1).map(|e| e.offset()),
            Some(Offset::Offset(9)),
            "everything delivered is committed: its next owner starts after it"
        );
        assert_eq!(offsets.owned(), BTreeSet::from([2]));
        assert!(offsets.drained().is_empty());
    }

    #[test]
    fn giving_a_partition_away_commits_again_what_an_asynchronous_commit_took() {
        let offsets = owning(&[1]);
        let epoch = offsets.taken(1, 7).unwrap_or_default();
        assert!(offsets.settled(1, 7, epoch));
        assert_eq!(offsets.to_commit("t").count(), 1, "8, on its way");
        let list = offsets.released("t", &BTreeSet::from([1]));
        assert_eq!(
            list.find_partition("t", 1).map(|e| e.offset()),
            Some(Offset::Offset(8)),
            "committed before the partition changes hands"
        );
    }

    #[test]
    fn a_partition_drained_before_anything_came_is_drained_at_once() {
        let offsets = owning(&[4]);
        offsets.drain(&BTreeSet::from([4]));
        assert_eq!(offsets.drained(), BTreeSet::from([4]));
        assert_eq!(offsets.released("t", &BTreeSet::from([4])).count(), 0);
    }

    #[test]
    fn giving_a_partition_away_commits_what_is_settled_there() {
        let offsets = owning(&[1]);
        let epoch = offsets.taken(1, 7).unwrap_or_default();
        offsets.taken(1, 8);
        assert!(offsets.settled(1, 7, epoch));
        let list = offsets.released("t", &BTreeSet::from([1]));
        assert_eq!(
            list.find_partition("t", 1).map(|e| e.offset()),
            Some(Offset::Offset(8)),
            "8 is still out: its next owner delivers it again"
        );
        assert!(offsets.owned().is_empty());
    }
}
