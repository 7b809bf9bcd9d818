//! What a process acknowledged just before it exits stays acknowledged.
//!
//! A runner told to stop drops its consumer, finishes the deliveries in
//! hand, acknowledges them, calls [`Bus::finish`] and exits. The broker must
//! apply those acknowledgements: a message it gave back would run again
//! elsewhere, and its client would be answered twice.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use funcmesh_bus::{Bus, ConsumeOptions, QueueSpec};
use tokio::io::AsyncBufReadExt;

use super::{Backend, Run};
use crate::common::{assert_quiet, connected, next_within, publish_numbered, text};

/// Set in a process of [`a_stopping_process`]: the bus URL it works on.
const HELPER: &str = "FUNCMESH_TEST_STOPPING_PROCESS";

/// How many times each message was delivered.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

fn count(seen: &Seen, body: String) {
    *seen.lock().unwrap().entry(body).or_default() += 1;
}

/// While a steady consumer keeps the queue busy, `processes` processes
/// (the test binary again, running [`a_stopping_process`]) come one after
/// another, each taking what its consumer holds, dropping the consumer,
/// acknowledging what it held, finishing and exiting at once: every
/// message is delivered once. (Without `finish` on RabbitMQ, whole batches
/// that such processes acknowledged came back.)
pub async fn what_a_process_acknowledged_as_it_exits_does_not_come_back<B: Backend>(
    processes: usize,
) {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    const MESSAGES: usize = 1500;
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    publish_numbered(&**bus, "jobs", "", MESSAGES).await;
    let seen = Seen::default();
    let mut through_them = 0;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let steady = {
        let (bus, seen) = (Arc::clone(bus), Arc::clone(&seen));
        tokio::spawn(async move { consume_steadily(&*bus, &seen, stopped).await })
    };
    for _ in 0..processes {
        let exe = std::env::current_exe().unwrap();
        let mut child = tokio::process::Command::new(exe)
            .args(["--exact", "stopping::a_stopping_process", "--nocapture"])
            .env(HELPER, run.url())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(body) = line.strip_prefix("acked ") {
                count(&seen, body.to_owned());
                through_them += 1;
            }
        }
        assert!(child.wait().await.unwrap().success());
    }
    stop.send_replace(true);
    steady.await.unwrap();
    // The rest, and what came back.
    let mut last = bus
        .consume("jobs", ConsumeOptions { prefetch: 64 })
        .await
        .unwrap();
    while seen.lock().unwrap().len() < MESSAGES {
        let delivery = run.next(&mut last).await;
        count(&seen, text(&delivery));
        delivery.ack().await.unwrap();
    }
    assert_quiet(&mut last, Duration::from_secs(1)).await;
    eprintln!("{through_them} of {MESSAGES} through {processes} processes that exited");
    let again: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(body, n)| format!("{body} x{n}"))
        .collect();
    assert!(
        again.is_empty(),
        "delivered again after their ack: {again:?}"
    );
    run.finish().await;
}

/// Takes and acknowledges deliveries of `jobs`, as a busy runner does,
/// until told to stop.
async fn consume_steadily(
    bus: &dyn Bus,
    seen: &Seen,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let options = ConsumeOptions { prefetch: 8 };
    let mut consumer = bus.consume("jobs", options).await.unwrap();
    loop {
        let delivery = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            next = consumer.next() => next.unwrap().unwrap(),
        };
        let body = text(&delivery);
        tokio::time::sleep(Duration::from_millis(20)).await; // the work
        delivery.ack().await.unwrap();
        count(seen, body);
    }
}

/// One process of the test above; passes at once in a test run.
pub fn a_stopping_process<B: Backend>() {
    let Ok(url) = std::env::var(HELPER) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let bus = connected(&url).await;
        let options = ConsumeOptions { prefetch: 8 };
        let mut consumer = bus.consume("jobs", options).await.unwrap();
        // The first may wait for the consumer to be given work (on Kafka, a
        // share of the partitions).
        let mut held = vec![next_within(&mut consumer, B::SHAPE.wait).await];
        while held.len() < 8 {
            let wait = Duration::from_millis(300);
            match tokio::time::timeout(wait, consumer.next()).await {
                Ok(Some(delivery)) => held.push(delivery.unwrap()),
                _ => break,
            }
        }
        // Dropped with deliveries in hand, which are acknowledged after.
        drop(consumer);
        for delivery in held {
            let body = text(&delivery);
            delivery.ack().await.unwrap();
            println!("acked {body}");
        }
        let finish = bus.finish();
        assert!(
            tokio::time::timeout(Duration::from_secs(10), finish)
                .await
                .is_ok()
        );
    });
    // As a process ends: nothing of the runtime runs any more.
    std::process::exit(0);
}
