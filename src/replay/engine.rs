//! Sending every record with at most `concurrency` in flight and at most
//! `rate` started per second, and judging each answer as it arrives.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use funcmesh_core::ResponseEnvelope;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::compare::{self, CompareRules, Difference};
use super::files::Located;
use super::progress::Progress;
use super::send::Sender;

/// How fast to replay.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Requests started per second at most.
    pub rate: Option<f64>,
}

/// What became of one record.
#[derive(Debug)]
pub enum Verdict {
    /// The answer is the captured one.
    Same,
    /// It is not.
    Different(Difference),
    /// Answered, with no captured answer to compare with.
    Unverified,
    /// Not replayed: why.
    Failed(String),
}

/// One record's verdict, its latency and (when saving) its answer.
#[derive(Debug)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// From sending to the whole answer, when one came.
    pub latency: Option<Duration>,
    /// The answer and when it came (ms since the epoch), kept for `--save`.
    pub answer: Option<(ResponseEnvelope, u64)>,
}

/// Replays `records`; the outcomes are in the records' order.
pub async fn replay_all(
    records: &[Arc<Located>],
    sender: Arc<Sender>,
    rules: Arc<CompareRules>,
    pace: Pace,
    keep_answers: bool,
    progress: &mut Progress,
) -> Vec<Outcome> {
    let slots = Arc::new(Semaphore::new(pace.concurrency.max(1)));
    let started = Instant::now();
    let mut outcomes: Vec<Option<Outcome>> = (0..records.len()).map(|_| None).collect();
    let mut running = JoinSet::new();
    let mut settle = |done: (usize, Outcome), progress: &mut Progress| {
        let (index, outcome) = done;
        progress.tick(!matches!(
            outcome.verdict,
            Verdict::Same | Verdict::Unverified
        ));
        outcomes[index] = Some(outcome);
    };
    for (index, located) in records.iter().enumerate() {
        if let Some(rate) = pace.rate.filter(|r| *r > 0.0) {
            tokio::time::sleep_until(started + Duration::from_secs_f64(index as f64 / rate)).await;
        }
        // The semaphore is never closed.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        while let Some(Ok(done)) = running.try_join_next() {
            settle(done, progress);
        }
        let (located, sender, rules) =
            (Arc::clone(located), Arc::clone(&sender), Arc::clone(&rules));
        running.spawn(async move {
            let outcome = one(&located, &sender, &rules, keep_answers).await;
            drop(slot);
            (index, outcome)
        });
    }
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(done) => settle(done, progress),
            Err(error) => tracing::warn!(%error, "a replay task failed"),
        }
    }
    progress.finish();
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or(Outcome {
                verdict: Verdict::Failed("the replay of this request was lost".into()),
                latency: None,
                answer: None,
            })
        })
        .collect()
}

async fn one(
    located: &Located,
    sender: &Sender,
    rules: &CompareRules,
    keep_answer: bool,
) -> Outcome {
    let record = &located.record;
    let answer = match sender.send(record).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::debug!(request_id = %record.request.id, %error, "not replayed");
            return Outcome {
                verdict: Verdict::Failed(error.to_string()),
                latency: None,
                answer: None,
            };
        }
    };
    let verdict = match &record.response {
        None => Verdict::Unverified,
        Some(captured) => {
            let difference = compare::compare(captured, &answer.response, rules);
            match difference.is_empty() {
                true => Verdict::Same,
                false => Verdict::Different(difference),
            }
        }
    };
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Outcome {
        verdict,
        latency: Some(answer.latency),
        answer: keep_answer.then_some((answer.response, at_ms)),
    }
}
