//! A work queue consumer's upkeep: its beats, the partitions it gives away
//! and takes on (see `members`), and the commits of positions that moved.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};

use super::{COMMIT_BATCH, Shared};
use crate::kafka::config::MAX_BATCH;
use crate::kafka::link::{Outgoing, REQUEST_TIMEOUT, Upkeep};
use crate::kafka::members::{BEAT, Beat, Plan, View};
use crate::kafka::topics;
use crate::{Consumer, now_ms};

/// How long a partition given away stays claimed, unread, while what was
/// delivered from it is settled. Past it, the partition is handed over with
/// those deliveries still out, and its next owner delivers them again.
const HANDOVER_DRAIN: Duration = Duration::from_secs(5);

impl Shared {
    /// Keeps this consumer's share of the queue: beats, what changes hands,
    /// and the commits of positions that moved, until the application has
    /// dropped its consumer and settled every delivery; then gives every
    /// partition away and says so.
    /// `_running` counts it as running (see `Link::upkeep`) until it
    /// returns.
    pub(super) async fn maintain(self: Arc<Self>, _running: Upkeep) {
        let me = format!("{:016x}", rand::random::<u64>());
        let mut view = View::new(me, self.link.config.partitions);
        let members = self.link.config.members_topic(&self.queue);
        let mut heard: Option<Consumer> = None;
        let mut tick = tokio::time::interval(BEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closed = self.link.closed();
        let mut reconnections = self.link.reconnections();
        reconnections.mark_unchanged();
        let mut up = self.link.watch_up();
        // The partitions draining, and until when they may.
        let mut draining: HashMap<i32, Instant> = HashMap::new();
        loop {
            let event = tokio::select! {
                () = self.commit.notified() => Event::Settled,
                _ = tick.tick() => Event::Beat,
                beat = next_beat(&mut heard) => Event::Heard(beat),
                changed = up.changed() => match changed {
                    Ok(()) if !*up.borrow_and_update() => Event::Down,
                    Ok(()) => Event::Heard(None),
                    Err(_) => return,
                },
                changed = reconnections.changed() => match changed {
                    Ok(()) => Event::Reconnected,
                    Err(_) => return,
                },
                _ = closed.wait_for(|closed| *closed) => return,
            };
            match event {
                Event::Settled => {
                    tokio::time::sleep(COMMIT_BATCH).await;
                    self.commit_moved();
                    // The last delivery out of a draining partition: its
                    // next owner hears at once that it may take it on.
                    if self.hand_over_drained(&mut draining).await {
                        self.beat(&view, &members, false);
                    }
                }
                Event::Beat => {
                    if heard.is_none() {
                        heard = self.hear(&members).await;
                    }
                    self.hand_over_drained(&mut draining).await;
                    self.beat(&view, &members, false);
                    self.follow(&mut view, &mut draining, &members).await;
                }
                Event::Down => {
                    // What is settled from now on is not committed: a
                    // broker that lost its topics would take the old
                    // positions for the new topics' and skip their start.
                    self.forget_positions();
                }
                Event::Reconnected => {
                    // The topics may be new ones (a broker that lost them
                    // was given them back): librdkafka would keep asking
                    // for the old ones, so they are read anew.
                    heard = None;
                    self.read_again().await;
                }
                Event::Heard(Some(beat)) => {
                    // At once, not at the next tick: a newcomer's range is
                    // given up, and a partition let go is taken on, up to
                    // a beat sooner each.
                    view.record(beat);
                    self.follow(&mut view, &mut draining, &members).await;
                }
                Event::Heard(None) => {}
            }
            if self.done.load(Ordering::Acquire) && Arc::strong_count(&self) == 1 {
                // Every delivery is settled (each held this upkeep's state).
                // The hand-over commits every position, synchronously.
                let owned = self.offsets.owned();
                self.stop_reading(&self.offsets.reading());
                self.hand_over(owned).await;
                self.beat(&view, &members, true);
                return;
            }
        }
    }

    /// Reads every partition owned again from its committed position,
    /// forgetting what was out (see [`Self::start_positions`]).
    async fn read_again(self: &Arc<Self>) {
        let owned = self.offsets.reading();
        if owned.is_empty() {
            return;
        }
        self.forget_positions();
        let (shared, partitions) = (Arc::clone(self), owned.clone());
        let Ok(start) =
            tokio::task::spawn_blocking(move || shared.start_positions(&partitions, true)).await
        else {
            return;
        };
        let mut stop = TopicPartitionList::new();
        for element in start.list.elements() {
            stop.add_partition(&self.topic, element.partition());
        }
        tracing::debug!(
            queue = %self.queue,
            positions = ?start.from,
            "reading partitions again after an outage"
        );
        self.offsets.start_at(&owned, &start.from);
        let assigned = self
            .consumer
            .incremental_unassign(&stop)
            .and_then(|()| self.consumer.incremental_assign(&start.list));
        if let Err(error) = assigned {
            tracing::warn!(queue = %self.queue, %error, "reading partitions again after an outage");
        }
    }

    /// Where to read `partitions` from (blocking): each one's committed
    /// position, asked for [`MAX_BATCH`] messages before it so that any
    /// broker gives the batch that holds it (what comes before is dropped
    /// as it arrives), or its start when nothing is committed there. After
    /// an outage, a position committed past the end of its partition can
    /// only come from before the broker lost its topics (tansu in memory
    /// answers a fetch there with nothing, not with an out-of-range
    /// error): such a partition is read from its start.
    fn start_positions(&self, partitions: &BTreeSet<i32>, after_outage: bool) -> Starts {
        let mut asked = TopicPartitionList::new();
        for partition in partitions {
            asked.add_partition(&self.topic, *partition);
        }
        let committed = self.consumer.committed_offsets(asked, REQUEST_TIMEOUT);
        let mut start = Starts {
            list: TopicPartitionList::new(),
            from: HashMap::new(),
        };
        for partition in partitions {
            let at = match &committed {
                Ok(committed) => committed
                    .find_partition(&self.topic, *partition)
                    .map_or(Offset::Invalid, |element| element.offset()),
                // Unknown for now: the client asks for it again itself.
                Err(_) => Offset::Stored,
            };
            let offset = match at {
                Offset::Offset(at)
                    if after_outage && self.end_of(*partition).is_some_and(|high| at > high) =>
                {
                    Offset::Beginning
                }
                Offset::Offset(at) => {
                    start.from.insert(*partition, at);
                    Offset::Offset(at.saturating_sub(MAX_BATCH).max(0))
                }
                Offset::Stored => Offset::Stored,
                _ => Offset::Beginning,
            };
            let _ = start
                .list
                .add_partition_offset(&self.topic, *partition, offset);
        }
        start
    }

    /// The end of `partition` (blocking). Its topic may not be back yet
    /// (the process that declared it may reconnect later than this one):
    /// asked again for up to 5 s.
    fn end_of(&self, partition: i32) -> Option<i64> {
        for _ in 0..25 {
            match self
                .consumer
                .fetch_watermarks(&self.topic, partition, REQUEST_TIMEOUT)
            {
                Ok((_, high)) => return Some(high),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(200)),
            }
        }
        None
    }

    /// Forgets what is out in every partition owned, which is delivered
    /// again: its settles move no position.
    fn forget_positions(&self) {
        self.offsets.forget();
    }

    /// Commits every position that moved.
    fn commit_moved(&self) {
        let positions = self.offsets.to_commit(&self.topic);
        if positions.count() > 0
            && let Err(error) = self.consumer.commit(&positions, CommitMode::Async)
        {
            tracing::debug!(queue = %self.queue, %error, "committing offsets");
        }
    }

    /// Starts reading the queue's members topic, when the broker answers.
    async fn hear(&self, members: &str) -> Option<Consumer> {
        let read = topics::read_from_end(Arc::clone(&self.link), members.to_owned(), members);
        match read.await {
            Ok(consumer) => Some(consumer),
            Err(error) => {
                tracing::debug!(queue = %self.queue, %error, "reading the queue's members");
                None
            }
        }
    }

    /// Says what this consumer reads, without waiting for the broker.
    fn beat(&self, view: &View, members: &str, leaving: bool) {
        let beat = Beat {
            member: view.me().to_owned(),
            at_ms: now_ms(),
            owned: self.offsets.owned(),
            leaving,
        };
        let Ok(body) = serde_json::to_vec(&beat) else {
            return;
        };
        let (link, members, queue) = (
            Arc::clone(&self.link),
            members.to_owned(),
            self.queue.clone(),
        );
        tokio::spawn(async move {
            let sent = async {
                link.ensure_broadcast_topic(&members).await?;
                let outgoing = Outgoing {
                    key: None,
                    payload: &body,
                    headers: None,
                };
                link.send(&members, outgoing).await
            };
            if let Err(error) = sent.await {
                tracing::debug!(%queue, %error, "sending a beat");
            }
        });
    }

    /// Gives away and takes on what the members heard so far call for, and
    /// says so at once when anything changed.
    async fn follow(
        self: &Arc<Self>,
        view: &mut View,
        draining: &mut HashMap<i32, Instant>,
        members: &str,
    ) {
        let mut plan = view.plan(&self.offsets.owned());
        plan.release
            .retain(|partition| !draining.contains_key(partition));
        if self.apply(plan, draining).await {
            self.hand_over_drained(draining).await;
            self.beat(view, members, false);
        }
    }

    /// Stops reading the partitions to give away (they drain, in
    /// `draining`, until [`Self::hand_over_drained`]) and takes others on;
    /// whether anything changed.
    async fn apply(self: &Arc<Self>, plan: Plan, draining: &mut HashMap<i32, Instant>) -> bool {
        let changed = !plan.release.is_empty() || !plan.acquire.is_empty();
        if !plan.release.is_empty() {
            tracing::debug!(queue = %self.queue, partitions = ?plan.release, "giving partitions away");
            self.stop_reading(&plan.release);
            let until = Instant::now() + HANDOVER_DRAIN;
            draining.extend(plan.release.iter().map(|partition| (*partition, until)));
        }
        if !plan.acquire.is_empty() {
            tracing::debug!(queue = %self.queue, partitions = ?plan.acquire, "taking partitions on");
            // From the positions committed under the queue's group id.
            let (shared, acquire) = (Arc::clone(self), plan.acquire.clone());
            let Ok(start) =
                tokio::task::spawn_blocking(move || shared.start_positions(&acquire, false)).await
            else {
                return changed;
            };
            self.offsets.acquired(&plan.acquire);
            self.offsets.start_at(&plan.acquire, &start.from);
            if let Err(error) = self.consumer.incremental_assign(&start.list) {
                tracing::warn!(queue = %self.queue, %error, "taking partitions on");
                self.offsets.released(&self.topic, &plan.acquire);
            }
        }
        changed
    }

    /// Stops reading `partitions`, which stay claimed while what was
    /// delivered from them is settled.
    fn stop_reading(&self, partitions: &BTreeSet<i32>) {
        if partitions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for partition in partitions {
            list.add_partition(&self.topic, *partition);
        }
        if let Err(error) = self.consumer.incremental_unassign(&list) {
            tracing::warn!(queue = %self.queue, %error, "giving partitions away");
        }
        self.offsets.drain(partitions);
    }

    /// Hands over the draining partitions with nothing out, and those that
    /// have drained for [`HANDOVER_DRAIN`]; whether there were any.
    async fn hand_over_drained(self: &Arc<Self>, draining: &mut HashMap<i32, Instant>) -> bool {
        let now = Instant::now();
        let mut done = self.offsets.drained();
        let late: BTreeSet<i32> = draining
            .iter()
            .filter(|(partition, until)| **until <= now && !done.contains(partition))
            .map(|(partition, _)| *partition)
            .collect();
        if !late.is_empty() {
            tracing::warn!(
                queue = %self.queue, partitions = ?late,
                "partitions handed over with deliveries still out: their next owner delivers those again"
            );
        }
        done.extend(late);
        draining.retain(|partition, _| !done.contains(partition));
        if done.is_empty() {
            return false;
        }
        self.hand_over(done).await;
        true
    }

    /// Gives `partitions` away, committing what is settled there before
    /// another consumer may take them on.
    async fn hand_over(self: &Arc<Self>, partitions: BTreeSet<i32>) {
        if partitions.is_empty() {
            return;
        }
        let positions = self.offsets.released(&self.topic, &partitions);
        if positions.count() == 0 {
            return;
        }
        let shared = Arc::clone(self);
        let committed = tokio::task::spawn_blocking(move || {
            shared.consumer.commit(&positions, CommitMode::Sync)
        })
        .await;
        if let Ok(Err(error)) = committed {
            tracing::debug!(queue = %self.queue, %error, "committing given-away partitions");
        }
    }
}

/// Where to read partitions from: the positions to ask the broker for, and
/// for each partition asked for from before its committed position, that
/// position.
struct Starts {
    list: TopicPartitionList,
    from: HashMap<i32, i64>,
}

/// What woke a consumer's upkeep.
enum Event {
    Settled,
    Beat,
    Down,
    Reconnected,
    Heard(Option<Beat>),
}

/// The next beat heard on a members topic; never, while it is not read.
async fn next_beat(heard: &mut Option<Consumer>) -> Option<Beat> {
    let Some(consumer) = heard.as_mut() else {
        return std::future::pending().await;
    };
    match consumer.next().await {
        Some(Ok(delivery)) => serde_json::from_slice(&delivery.bytes()).ok(),
        Some(Err(_)) => None,
        None => {
            *heard = None;
            None
        }
    }
}
