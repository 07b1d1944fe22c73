//! Promises that hold over minutes, not only over the quarter second a
//! check lasts: the pipeline runs on a paused clock of its own
//! ([`PausedClock`](super::PausedClock)), and the check lets a year pass
//! on it while a client or a plugin does nothing. A timer the pipeline set
//! (on a slow client, on a slow try, on an idle connection), however long,
//! fires then: the pipeline has no timer of its own but a retry's wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use lesson::{HandlerError, Message, Plugin, RetryPolicy};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::{
    Look, Stuck, all_taken, assert_complete_and_in_order, config, connect_ingest, frame, quiet,
    receive, send_frames, start_paused, stuck_config, subscribe, subscribe_with_small_window,
    through, until, watched, wire,
};

/// Longer than any timeout a pipeline might set for itself, and free on a
/// paused clock.
const A_YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

#[tokio::test]
async fn a_client_silent_for_minutes_inside_a_frame_is_not_closed() {
    let (clock, pipeline) = start_paused(config()).await;
    let mut stream = subscribe(&pipeline).await;
    let mut silent = connect_ingest(&pipeline).await;
    // Half a frame, then nothing for a year.
    silent.write_all(&[0, 0, 0, 16, 1, 2]).await.unwrap();
    until(&pipeline, "the client to be accepted", |s| {
        s.connections == 1
    })
    .await;
    quiet(&pipeline).await;
    clock.pass(A_YEAR).await;

    silent
        .write_all(&[0; 14])
        .await
        .expect("the pipeline closed a slow client's connection");
    let snapshots = receive(&pipeline, &mut stream, 1).await;
    assert_eq!(snapshots[0].payload.len(), 16, "the frame it finished");
    let summary = until(&pipeline, "the frame to be published", |s| s.published == 1).await;
    assert!(
        summary.connection_errors.is_empty(),
        "a slow client is not a bad one: {:?}",
        summary.connection_errors
    );
}

#[tokio::test]
async fn a_client_waiting_minutes_for_its_turn_is_served_in_it() {
    let mut config = config();
    config.max_connections = 1;
    let (clock, pipeline) = start_paused(config).await;
    let mut stream = subscribe(&pipeline).await;
    // The one turn: a client that sends a frame and stays connected.
    let mut served = connect_ingest(&pipeline).await;
    served.write_all(&wire([frame(1, 0, 16)])).await.unwrap();
    receive(&pipeline, &mut stream, 1).await;
    // The next one sends its frame into the backlog, and waits a year
    // (on the pipeline's paused clock) for its turn.
    let mut waiting = connect_ingest(&pipeline).await;
    waiting.write_all(&wire([frame(2, 0, 16)])).await.unwrap();
    quiet(&pipeline).await;
    clock.pass(A_YEAR).await;
    quiet(&pipeline).await;

    // Its turn comes when the served one hangs up, however long that took.
    served.shutdown().await.unwrap();
    let snapshots = receive(&pipeline, &mut stream, 1).await;
    assert_complete_and_in_order(&snapshots, &[(2, 1)]);
    let summary = until(&pipeline, "both frames to be published", |s| {
        s.published == 2
    })
    .await;
    assert!(
        summary.connection_errors.is_empty(),
        "a client waiting for its turn is not a bad one: {:?}",
        summary.connection_errors
    );
    drop(waiting);
}

#[tokio::test]
async fn a_plugin_stuck_for_minutes_still_holds_the_pipeline_and_loses_nothing() {
    // Small bounds, as configured: a queue of the learner's own size (a
    // floor under the configured one, say) shows against them.
    const INGEST: usize = 4;
    const MAILBOX: usize = 2;
    const FRAMES: u32 = 200;
    let config = stuck_config(INGEST, MAILBOX);
    let (clock, pipeline) = start_paused(config).await;
    let (stuck, _) = Stuck::start(&pipeline, INGEST, MAILBOX, 4, FRAMES).await;
    clock.pass(A_YEAR).await;

    // A year on, a handler that has not returned is still running: not
    // a failed try, and nothing has moved.
    let held = quiet(&pipeline).await;
    stuck.assert_held(&held, "after a year");
    assert_eq!(held.retries, 0, "a try that has not ended has not failed");
    assert!(held.dead_letters.is_empty(), "{:?}", held.dead_letters);

    let seen = stuck.let_go(&pipeline).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        FRAMES as usize,
        "each handled once"
    );
}

#[tokio::test]
async fn a_subscriber_that_reads_nothing_for_minutes_loses_nothing() {
    // Frames of 1 KiB: the silent one's channel and HTTP/2 window hold
    // about 140 of them, far fewer than are sent.
    const FRAMES: u32 = 300;
    let mut config = config();
    config.subscriber_capacity = 8;
    let (clock, pipeline) = start_paused(config).await;
    let mut silent = subscribe_with_small_window(&pipeline).await;
    let client = send_frames(&pipeline, 3, FRAMES, 1024);
    until(&pipeline, "a frame to be published", |s| s.published > 0).await;
    let held = quiet(&pipeline).await;
    assert!(
        held.published < u64::from(FRAMES),
        "all {FRAMES} frames were published while the subscriber read none: it was dropped \
         for being slow, or its frames were"
    );
    // A year with no room: slow is not gone, and a subscriber is
    // dropped only when it disconnects.
    clock.pass(A_YEAR).await;

    let snapshots = receive(&pipeline, &mut silent, FRAMES as usize).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(3, FRAMES)]);
}

/// Fails the first four tries of every message, each after working on it
/// for [`SLOW`] (longer than the first two waits), and notes when, on the
/// pipeline's clock, each try began and each failed one ended.
#[derive(Default)]
struct Stubborn {
    tries: Arc<Mutex<HashMap<u64, Vec<Instant>>>>,
    failed: Arc<Mutex<HashMap<u64, Vec<Instant>>>>,
}

/// How long a failing try of [`Stubborn`] takes.
const SLOW: Duration = Duration::from_secs(3);

impl Plugin for Stubborn {
    fn name(&self) -> &str {
        "stubborn"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        let mut tries = self.tries.lock().unwrap();
        let times = tries.entry(message.id).or_default();
        times.push(Instant::now());
        let fails = times.len() <= 4;
        let failed = Arc::clone(&self.failed);
        Box::pin(async move {
            if fails {
                tokio::time::sleep(SLOW).await;
                let mut failed = failed.lock().unwrap();
                failed.entry(message.id).or_default().push(Instant::now());
                Err(HandlerError("not yet".into()))
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn every_message_waits_the_policy_s_backoff_from_its_own_first_retry() {
    const MESSAGES: u32 = 6;
    let mut config = config();
    // Seconds, on the paused clock: each retry's wait is exact there. Four
    // retries: the third tells doubling from growing by `base`, the fourth
    // meets the cap.
    config.retry = RetryPolicy {
        max_tries: 5,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(6),
    };
    let (_clock, pipeline) = start_paused(config).await;
    let stubborn = Stubborn::default();
    let tries = Arc::clone(&stubborn.tries);
    let failed = Arc::clone(&stubborn.failed);
    through(&pipeline, stubborn, 6, MESSAGES, 16).await;

    // Every message's retries wait 1 s, 2 s, 4 s, then 6 s (the cap, not
    // 8 s): `min(cap, base * 2^(n - 1))`, each message's own, starting
    // again at its first retry, and counted from when the try before it
    // failed (each took 3 s to fail), not from when it began.
    let schedule = [1, 2, 4, 6].map(Duration::from_secs);
    let tries = tries.lock().unwrap();
    let failed = failed.lock().unwrap();
    for id in 0..u64::from(MESSAGES) {
        let (began, ended) = (&tries[&id], &failed[&id]);
        assert_eq!(began.len(), 5, "message {id}: five tries");
        assert_eq!(ended.len(), 4, "message {id}: four failed");
        for (n, wait) in schedule.into_iter().enumerate() {
            let waited = began[n + 1] - ended[n];
            assert!(
                waited >= wait && waited < wait + Duration::from_millis(100),
                "message {id}: retry {} came {waited:?} after the try before it failed; the \
                 policy says {wait:?}",
                n + 1
            );
        }
    }
}

/// Refuses every try at once, and notes when, on the pipeline's clock,
/// each try began.
#[derive(Default)]
struct Refuser {
    tries: Arc<Mutex<HashMap<u64, Vec<Instant>>>>,
}

impl Plugin for Refuser {
    fn name(&self) -> &str {
        "refuser"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        let mut tries = self.tries.lock().unwrap();
        tries.entry(message.id).or_default().push(Instant::now());
        Box::pin(async { Err(HandlerError("never".into())) })
    }
}

#[tokio::test]
async fn a_message_after_a_dead_letter_waits_the_policy_s_backoff_from_its_own_first_retry() {
    const MESSAGES: u32 = 3;
    let mut config = config();
    // A cap far above the waits: a backoff carried from one message into
    // the next grows past the policy's 1 s and 2 s.
    config.retry = RetryPolicy {
        max_tries: 3,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
    };
    let (_clock, pipeline) = start_paused(config).await;
    let refuser = Refuser::default();
    let tries = Arc::clone(&refuser.tries);
    through(&pipeline, refuser, 7, MESSAGES, 16).await;
    let summary = until(&pipeline, "every message to be dead-lettered", |s| {
        s.dead_letters.len() == MESSAGES as usize
    })
    .await;
    assert_eq!(summary.retries, u64::from(2 * MESSAGES), "two retries each");

    // Each message is out of tries after 1 s and 2 s of waiting, the first
    // as much as the ones after a dead letter: the policy's waits are each
    // message's own, not a plugin's run of failures.
    let schedule = [1, 2].map(Duration::from_secs);
    let tries = tries.lock().unwrap();
    for id in 0..u64::from(MESSAGES) {
        let began = &tries[&id];
        assert_eq!(began.len(), 3, "message {id}: three tries");
        for (n, wait) in schedule.into_iter().enumerate() {
            let waited = began[n + 1] - began[n];
            assert!(
                waited >= wait && waited < wait + Duration::from_millis(100),
                "message {id}: retry {} came {waited:?} after the try before it failed; the \
                 policy says {wait:?}",
                n + 1
            );
        }
    }
}

/// A policy whose waits are as long as a `Duration` can be (`Duration::MAX`
/// as "no cap"): a retry due in centuries is a wait like any other, not a
/// panic (`Instant::now() + wait` overflows) that takes the plugin's actor
/// down. The pipeline runs on the check's thread, where its panics are
/// counted, on the real clock: the first retry's wait is all it takes.
#[tokio::test]
async fn a_retry_due_in_centuries_is_a_wait_not_a_crash() {
    let mut config = config();
    config.retry = RetryPolicy {
        max_tries: 3,
        base: Duration::MAX,
        cap: Duration::MAX,
    };
    let pipeline = super::start(config).await;
    let panics = lesson_support::panics_on_this_thread();
    let refuser = Refuser::default();
    let tries = Arc::clone(&refuser.tries);
    super::plug(&pipeline, refuser).await;
    all_taken(&pipeline, 7, 2, 16).await;
    watched(Look::Pipeline(&pipeline), "the first try", async {
        while tries.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    quiet(&pipeline).await;
    assert_eq!(
        lesson_support::panics_on_this_thread() - panics,
        0,
        "the pipeline panicked waiting for a retry due in centuries (an `Instant` plus the \
         wait overflows: `tokio::time::sleep` takes any `Duration`)"
    );
    let tried: Vec<usize> = (0..2)
        .map(|id| tries.lock().unwrap().get(&id).map_or(0, Vec::len))
        .collect();
    assert_eq!(
        tried,
        [1, 0],
        "the first message tried once and waiting, the second behind it"
    );
    // Still owed, both: unplugged, the plugin leaves a dead letter for each,
    // and both frames are published.
    assert_eq!(super::unplug(&pipeline, "refuser").await, 1);
    let summary = until(&pipeline, "both frames to be published", |s| {
        s.published == 2
    })
    .await;
    assert_eq!(summary.dead_letters.len(), 2, "{:?}", summary.dead_letters);
    assert!(
        summary
            .dead_letters
            .iter()
            .all(|letter| letter.reason == lesson::Reason::Unplugged),
        "both owed at the unplug: {:?}",
        summary.dead_letters
    );
}
