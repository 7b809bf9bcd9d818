//! KEDA's defaults on a RabbitMQ queue, with the Kubernetes HPA it drives.
//!
//! - KEDA's own loop polls the queue every `pollingInterval` (30 s): a
//!   deployment at zero with messages goes to one replica (activation
//!   threshold 0); one that has shown no messages for `cooldownPeriod`
//!   (300 s) since the last active poll goes to zero (`minReplicaCount` 0).
//! - From one replica up, the HPA syncs every 15 s and reads the metric
//!   afresh from KEDA's metrics server: the queue length target is an
//!   `AverageValue`, so it recommends `ceil(messages / target)`, unless
//!   `messages / (target x current)` is within the 10% tolerance of 1, and
//!   never below 1.
//! - HPA's default behaviour: up at once (no up window), by at most the
//!   larger of 100% or 4 pods per 15 s; down to the highest recommendation
//!   of the last 300 s, by up to 100% per 15 s.
//!
//! Simplified: the queue length is read as RabbitMQ's management API counts
//! it (KEDA's `http` protocol): ready plus unacknowledged messages, here
//! depth plus calls in flight. With the `amqp` protocol KEDA reads only the
//! ready ones, which are near zero whenever the pool keeps up, and would
//! shrink a pool that is exactly right. The polls and syncs fall on
//! multiples of their periods from the trace's start. The rate limits are
//! applied to the count at the last sync, as they are when syncs are 15 s
//! apart.

use std::collections::VecDeque;

use crate::pool::{Policy, View};

const POLLING_MS: u64 = 30_000;
const COOLDOWN_MS: u64 = 300_000;
const HPA_SYNC_MS: u64 = 15_000;
const TOLERANCE: f64 = 0.1;
const DOWN_WINDOW_MS: u64 = 300_000;

pub struct Keda {
    target: u32,
    max: u32,
    desired: u32,
    last_active_ms: u64,
    /// HPA recommendations within the scale-down window.
    recent: VecDeque<(u64, u32)>,
}

impl Keda {
    pub fn new(target: u32, max: u32) -> Self {
        Self {
            target,
            max,
            desired: 0,
            last_active_ms: 0,
            recent: VecDeque::new(),
        }
    }

    fn hpa(&mut self, at_ms: u64, messages: f64, current: u32) -> u32 {
        let target = f64::from(self.target);
        let ratio = messages / (target * f64::from(current));
        let recommended = match (ratio - 1.0).abs() <= TOLERANCE {
            true => current,
            false => ((messages / target).ceil() as u32).clamp(1, self.max),
        };
        self.recent.push_back((at_ms, recommended));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| at + DOWN_WINDOW_MS < at_ms)
        {
            self.recent.pop_front();
        }
        if recommended > current {
            let limit = (current * 2).max(current + 4);
            return recommended.min(limit);
        }
        let highest = self.recent.iter().map(|(_, n)| *n).max().unwrap_or(current);
        highest.min(current)
    }
}

impl Policy for Keda {
    fn tick(&mut self, view: &View) -> u32 {
        let messages = (view.depth + view.in_flight) as f64;
        if view.at_ms.is_multiple_of(POLLING_MS) {
            if messages > 0.0 {
                self.last_active_ms = view.at_ms;
                if self.desired == 0 {
                    self.desired = 1;
                }
            } else if self.desired > 0 && view.at_ms - self.last_active_ms >= COOLDOWN_MS {
                self.desired = 0;
                self.recent.clear();
            }
        }
        if view.at_ms.is_multiple_of(HPA_SYNC_MS) && self.desired > 0 && view.current > 0 {
            self.desired = self.hpa(view.at_ms, messages, view.current);
        }
        self.desired
    }
}
