//! Sharing a work queue's partitions among its consumers, without the
//! broker's consumer groups.
//!
//! Each consumer sends a beat every [`BEAT`] to the queue's members topic
//! (one partition, read by every consumer of the queue from its end): its
//! member id, the time, and the partitions it reads. A member is alive
//! while this consumer has heard at most [`SESSION_BEATS`] beats of its own
//! since the member's last one. The topic's one partition orders every
//! beat, so no clock is compared (hosts whose clocks differ agree on who
//! is alive), and nobody ages while the broker is unreachable. The live members, sorted by id, split the partitions in
//! ranges, as Kafka's range assignor would; each consumer stops reading
//! what is no longer in its range at once and gives it away once what it
//! delivered from there is settled (committing it), and takes on a
//! partition of its range only once no live member says it reads it, and
//! not before it has listened for a session (3 s): a member it has not
//! heard yet would still be reading. A partition thus changes hands
//! without a message run twice, read by nobody for the time its last
//! deliveries take and a beat, and a killed consumer's partitions go to
//! the others one session after its last beat.
//!
//! Why not the broker's groups: on tansu 0.6, the test broker, a group
//! whose member's session ends stays formed with the old assignments
//! (`Inner<Formed>::heartbeat` drops the member and answers the others
//! "rebalance in progress", but the group is left formed, with the same
//! generation), the survivors' JoinGroup then takes the "existing member"
//! path, and SyncGroup in that state ignores the leader's new assignment and
//! hands each member its previous one
//! (tansu-broker-0.6.0/src/coordinator/group/administrator.rs). The killed
//! member's partitions were read by nobody. Offsets are still committed
//! under the queue's group id, which every broker accepts from a consumer
//! outside the group.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often a consumer says it is alive and what it reads.
pub(crate) const BEAT: Duration = Duration::from_millis(500);

/// How many of a consumer's own beats may pass after another member's last
/// one before that member is taken for dead: 3 s, so that a process busy
/// for a moment keeps its partitions.
pub(crate) const SESSION_BEATS: u32 = 6;

/// What a consumer says of itself, every beat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Beat {
    pub(crate) member: String,
    /// When it was sent (ms since the epoch, the sender's clock).
    pub(crate) at_ms: u64,
    pub(crate) owned: BTreeSet<i32>,
    /// Its last beat: its partitions are free at once.
    #[serde(default)]
    pub(crate) leaving: bool,
}

/// What changes hands at this consumer.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) release: BTreeSet<i32>,
    pub(crate) acquire: BTreeSet<i32>,
}

/// One consumer's view of the queue's members.
pub(crate) struct View {
    me: String,
    partitions: i32,
    /// Each other member's last beat, with how many of this consumer's own
    /// beats had been heard when it came.
    others: HashMap<String, (Beat, u32)>,
    /// How many of its own beats it heard: once [`SESSION_BEATS`] have come
    /// back, it has heard every member that is alive (one heard last
    /// before this consumer started reading is taken for alive that long).
    my_beats: u32,
}

impl View {
    pub(crate) fn new(me: String, partitions: i32) -> Self {
        Self {
            me,
            partitions,
            others: HashMap::new(),
            my_beats: 0,
        }
    }

    pub(crate) fn me(&self) -> &str {
        &self.me
    }

    /// Takes in a beat heard on the members topic.
    pub(crate) fn record(&mut self, beat: Beat) {
        if beat.member == self.me {
            self.my_beats = self.my_beats.saturating_add(1);
            return;
        }
        if beat.leaving {
            self.others.remove(&beat.member);
            return;
        }
        // The topic orders the beats: the one heard last is the newest.
        self.others
            .insert(beat.member.clone(), (beat, self.my_beats));
    }

    /// The other members alive, forgetting the dead ones.
    fn live_others(&mut self) -> Vec<&Beat> {
        let now = self.my_beats;
        self.others
            .retain(|_, (_, heard)| now.saturating_sub(*heard) <= SESSION_BEATS);
        self.others.values().map(|(beat, _)| beat).collect()
    }

    /// What to give away and take on, owning `owned`. Nothing is given away
    /// before this consumer has heard two of its own beats, and nothing is
    /// taken on before it has heard [`SESSION_BEATS`] of them: a member
    /// whose beats it has not heard yet (they came before it started
    /// reading, or come late from a busy process) may still read a
    /// partition, which taken on as well would run its messages twice.
    pub(crate) fn plan(&mut self, owned: &BTreeSet<i32>) -> Plan {
        if self.my_beats < 2 {
            return Plan::default();
        }
        let settled = self.my_beats >= SESSION_BEATS;
        let (me, partitions) = (self.me.clone(), self.partitions);
        let live = self.live_others();
        let claimed: BTreeSet<i32> = live.iter().flat_map(|beat| beat.owned.clone()).collect();
        let mut members: Vec<&str> = live.iter().map(|beat| beat.member.as_str()).collect();
        members.push(&me);
        let target = share(&mut members, &me, partitions);
        Plan {
            release: owned.difference(&target).copied().collect(),
            acquire: target
                .iter()
                .filter(|p| settled && !owned.contains(p) && !claimed.contains(p))
                .copied()
                .collect(),
        }
    }
}

/// `me`'s range of `partitions` among `members`, split as Kafka's range
/// assignor does: in member order, the first `partitions % n` get one more.
fn share(members: &mut [&str], me: &str, partitions: i32) -> BTreeSet<i32> {
    members.sort_unstable();
    let n = i32::try_from(members.len()).unwrap_or(i32::MAX).max(1);
    let Some(index) = members.iter().position(|member| *member == me) else {
        return BTreeSet::new();
    };
    let i = i32::try_from(index).unwrap_or(i32::MAX);
    let (per, extra) = (partitions / n, partitions % n);
    let start = i * per + i.min(extra);
    let len = per + i32::from(i < extra);
    (start..start + len).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(member: &str, at_ms: u64, owned: &[i32]) -> Beat {
        Beat {
            member: member.to_owned(),
            at_ms,
            owned: owned.iter().copied().collect(),
            leaving: false,
        }
    }

    fn set(range: std::ops::Range<i32>) -> BTreeSet<i32> {
        range.collect()
    }

    #[test]
    fn ranges_cover_every_partition_once() {
        let mut members = ["c", "a", "b"];
        let all: Vec<i32> = ["a", "b", "c"]
            .iter()
            .flat_map(|me| share(&mut members, me, 16))
            .collect();
        assert_eq!(all, (0..16).collect::<Vec<_>>());
        assert_eq!(share(&mut members, "a", 16), set(0..6));
    }

    /// `n` more of `me`'s own beats, empty-handed.
    fn own_beats(view: &mut View, me: &str, n: u32) {
        for _ in 0..n {
            view.record(beat(me, 1_000, &[]));
        }
    }

    #[test]
    fn nothing_is_taken_before_the_consumer_has_heard_a_session_of_itself() {
        let mut view = View::new("a".into(), 4);
        assert_eq!(view.plan(&BTreeSet::new()), Plan::default());
        own_beats(&mut view, "a", SESSION_BEATS - 1);
        assert_eq!(view.plan(&BTreeSet::new()), Plan::default());
        own_beats(&mut view, "a", 1);
        assert_eq!(view.plan(&BTreeSet::new()).acquire, set(0..4));
    }

    #[test]
    fn a_member_heard_late_is_heard_before_anything_is_taken() {
        // b's beats come late from a busy process: two of a's own beats
        // come back first, and b still reads everything.
        let mut view = View::new("a".into(), 4);
        own_beats(&mut view, "a", 2);
        assert!(view.plan(&BTreeSet::new()).acquire.is_empty());
        view.record(beat("b", 1_000, &[0, 1, 2, 3]));
        own_beats(&mut view, "a", SESSION_BEATS);
        assert!(
            view.plan(&BTreeSet::new()).acquire.is_empty(),
            "b reads them"
        );
    }

    #[test]
    fn a_partition_another_member_reads_waits_until_it_lets_go() {
        let mut view = View::new("b".into(), 4);
        view.record(beat("b", 1_000, &[]));
        view.record(beat("a", 1_200, &[0, 1, 2, 3]));
        own_beats(&mut view, "b", SESSION_BEATS - 1);
        assert_eq!(view.plan(&BTreeSet::new()), Plan::default());
        view.record(beat("a", 1_700, &[0, 1]));
        assert_eq!(view.plan(&BTreeSet::new()).acquire, set(2..4));
    }

    #[test]
    fn a_silent_members_partitions_go_to_the_others_after_a_session() {
        let mut view = View::new("a".into(), 4);
        view.record(beat("b", 1_000, &[2, 3]));
        view.record(beat("a", 1_000, &[0, 1]));
        view.record(beat("a", 1_500, &[0, 1]));
        let owned = set(0..2);
        assert_eq!(view.plan(&owned), Plan::default());
        for n in 3..=SESSION_BEATS {
            view.record(beat("a", 1_000 + 500 * u64::from(n), &[0, 1]));
        }
        assert_eq!(view.plan(&owned), Plan::default(), "not dead yet");
        view.record(beat("a", 10_000, &[0, 1]));
        assert_eq!(view.plan(&owned).acquire, set(2..4));
    }

    #[test]
    fn clocks_that_differ_between_hosts_do_not_decide_who_is_alive() {
        let mut view = View::new("a".into(), 4);
        view.record(beat("a", 1_000_000, &[0, 1]));
        // b's clock is an hour behind; it keeps beating, so it stays alive.
        for n in 0..20 {
            view.record(beat("b", 1_000 + n, &[2, 3]));
            view.record(beat("a", 1_000_500 + 500 * n, &[0, 1]));
        }
        assert_eq!(view.plan(&set(0..2)), Plan::default());
    }

    #[test]
    fn a_newcomer_gets_its_range_from_the_members_before_it() {
        let mut view = View::new("a".into(), 4);
        view.record(beat("a", 1_000, &[0, 1, 2, 3]));
        view.record(beat("a", 1_500, &[0, 1, 2, 3]));
        view.record(beat("b", 1_600, &[]));
        let plan = view.plan(&set(0..4));
        assert_eq!(plan.release, set(2..4));
        assert!(plan.acquire.is_empty());
        view.record(beat("b", 1_700, &[]));
        view.record(beat("b", 1_800, &[]).clone());
        let mut leaving = beat("b", 1_900, &[]);
        leaving.leaving = true;
        view.record(leaving);
        assert!(view.plan(&set(0..2)).acquire.is_empty(), "a session first");
        own_beats(&mut view, "a", SESSION_BEATS - 2);
        assert_eq!(view.plan(&set(0..2)).acquire, set(2..4), "b left");
    }
}
