//! Plugins get owned messages that share the frame's bytes; a failing or
//! panicking handler is retried; a message a plugin cannot take is
//! dead-lettered and still goes on; a plugin unplugged mid-run loses
//! nothing.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lesson::{HandlerError, Message, Pipeline, Plugin, Reason, Snapshot};
use lesson_support::count_allocations;
use tokio::io::AsyncWriteExt;
use tonic::Streaming;

use super::{
    Gated, Look, Recorder, Seen, assert_complete_and_in_order, config, connect_ingest, frame, ids,
    plug, quiet, receive, send_frames, start, start_elsewhere, start_on_this_thread, subscribe,
    summary, through, unplug, until, watched, wire,
};

#[tokio::test]
async fn every_plugin_gets_a_view_of_the_same_bytes_not_a_copy() {
    let pipeline = start(config()).await;
    let (one, seen_one) = Recorder::new("one");
    let (two, seen_two) = Recorder::new("two");
    plug(&pipeline, one).await;
    plug(&pipeline, two).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 0, 300, 256);
    receive(&pipeline, &mut stream, 300).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();

    let one = seen_one.lock().unwrap();
    let two = seen_two.lock().unwrap();
    assert_eq!((one.len(), two.len()), (300, 300));
    for (a, b) in one.iter().zip(two.iter()) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.payload, b.payload);
        assert_eq!(
            a.payload.as_ptr(),
            b.payload.as_ptr(),
            "message {}: two plugins got two copies of one frame; share it (a `Bytes` clone is a reference count)",
            a.id
        );
    }
}

/// What a plugin gets is a view of the bytes the pipeline read the frame
/// into (lesson 04's `FrameReader` hands out such views), not a copy made
/// on the way in, at the door or in the queue. Frames that came in one
/// read lie next to each other in that buffer, each after its 4-byte
/// length: a thousand small frames sent at once reach the plugin mostly
/// as neighbours. A copy of each frame lies wherever the allocator puts
/// it, and never exactly 4 bytes after the one before.
#[tokio::test]
async fn a_frame_reaches_the_plugins_as_a_view_of_the_bytes_it_was_read_into() {
    const FRAMES: u32 = 1_024;
    const FRAME: usize = 64;
    // As fast as the pipeline goes, and then behind a plugin slower than
    // the client, with a queue and a mailbox of 1: there, nearly every
    // frame finds the queue full and waits for room, and is not copied
    // for the wait either.
    for (queue, unhurried) in [(256, false), (1, true)] {
        let mut config = config();
        config.ingest_capacity = queue;
        config.mailbox_capacity = queue;
        let pipeline = start(config).await;
        let seen = Seen::default();
        let plugin = Unhurried {
            yields: if unhurried { 8 } else { 0 },
            seen: Arc::clone(&seen),
        };
        plug(&pipeline, plugin).await;
        let client = send_frames(&pipeline, 3, FRAMES, FRAME);
        watched(Look::Pipeline(&pipeline), "the client to finish", client)
            .await
            .unwrap();
        until(&pipeline, "every frame to be handled", |s| {
            s.published == u64::from(FRAMES)
        })
        .await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), FRAMES as usize, "every frame handled once");
        let neighbours = seen
            .windows(2)
            .filter(|pair| {
                let (a, b) = (&pair[0].payload, &pair[1].payload);
                b.as_ptr() as usize == a.as_ptr() as usize + a.len() + 4
            })
            .count();
        let how = if unhurried {
            "to a plugin slower than the client, through a queue and a mailbox of 1"
        } else {
            "at once"
        };
        assert!(
            neighbours >= FRAMES as usize / 2,
            "of {FRAMES} frames of {FRAME} bytes sent {how}, {neighbours} reached the plugin \
             right after the frame before and its 4-byte length, as they lay in the bytes \
             read: each frame is copied on its way in (`copy_from_slice`, `to_vec`, a buffer \
             of its own at the door, in the queue, or while it waits for room?), where the \
             view `FrameReader` made of the bytes it read is enough"
        );
    }
}

/// Records what it is handed, after `yields` turns back to the runtime: a
/// plugin a little slower than the pipeline.
struct Unhurried {
    yields: u32,
    seen: Seen,
}

impl Plugin for Unhurried {
    fn name(&self) -> &str {
        "unhurried"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            for _ in 0..self.yields {
                tokio::task::yield_now().await;
            }
            self.seen.lock().unwrap().push(message);
            Ok(())
        })
    }
}

/// How the first try of every fifth message fails.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The handler's future returns an error.
    Error,
    /// The handler's future panics.
    Panic,
    /// `handle` itself panics, before it returns a future.
    PanicBeforeFuture,
}

/// Fails the first try of every fifth message, as `failure` says.
struct Flaky {
    tries: Mutex<HashMap<u64, u32>>,
    /// Where each try's payload was: a retry gets the same bytes.
    addresses: Arc<Mutex<HashMap<u64, HashSet<usize>>>>,
    acked: Arc<Mutex<Vec<u64>>>,
    failure: Failure,
}

impl Plugin for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        let try_no = {
            let mut tries = self.tries.lock().unwrap();
            let count = tries.entry(message.id).or_default();
            *count += 1;
            *count
        };
        let address = message.payload.as_ptr() as usize;
        let mut addresses = self.addresses.lock().unwrap();
        addresses.entry(message.id).or_default().insert(address);
        drop(addresses);
        let fails = message.id.is_multiple_of(5) && try_no == 1;
        if fails && self.failure == Failure::PanicBeforeFuture {
            lesson_support::panic_on_purpose(format!(
                "plugin bug on message {}, before its future",
                message.id
            ));
        }
        Box::pin(async move {
            if fails {
                tokio::task::yield_now().await;
                if self.failure == Failure::Panic {
                    lesson_support::panic_on_purpose(format!(
                        "plugin bug on message {}",
                        message.id
                    ));
                }
                return Err(HandlerError(format!("busy on {}", message.id)));
            }
            self.acked.lock().unwrap().push(message.id);
            Ok(())
        })
    }
}

/// `count` messages through a plugin whose first try of every fifth one
/// fails as `failure` says.
async fn retried(failure: Failure, count: u32) {
    let pipeline = start(config()).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let addresses = Arc::new(Mutex::new(HashMap::new()));
    let flaky = Flaky {
        tries: Mutex::default(),
        addresses: Arc::clone(&addresses),
        acked: Arc::clone(&acked),
        failure,
    };
    through(&pipeline, flaky, 1, count, 16).await;

    let acked = acked.lock().unwrap().clone();
    assert_eq!(
        acked,
        (0..u64::from(count)).collect::<Vec<u64>>(),
        "the plugin acknowledged every message, each once, in order: a failed try is tried again"
    );
    for (id, at) in addresses.lock().unwrap().iter() {
        assert_eq!(
            at.len(),
            1,
            "message {id}: its tries got the frame at {} addresses; a retry hands the same \
             bytes, not a copy",
            at.len()
        );
    }
    let summary = summary(&pipeline).await;
    assert_eq!(
        summary.retries,
        u64::from(count / 5),
        "one retry for every fifth message"
    );
    assert!(
        summary.dead_letters.is_empty(),
        "{:?}",
        summary.dead_letters
    );
}

#[tokio::test]
async fn a_failed_try_is_retried_and_nothing_is_lost() {
    retried(Failure::Error, 25).await;
}

#[tokio::test]
async fn a_panicking_handler_is_a_failed_try_not_a_dead_pipeline() {
    retried(Failure::Panic, 25).await;
}

// The trait promises that a panic asks for a retry, wherever in the
// handler it happens: `handle` may do work before it returns its future.
#[tokio::test]
async fn a_handler_that_panics_before_returning_its_future_is_a_failed_try_too() {
    retried(Failure::PanicBeforeFuture, 25).await;
}

/// Refuses every message from client 9, saying which try it refused, and
/// notes when it was asked, and where the bytes it was handed were.
#[derive(Default)]
struct Picky {
    tries: Arc<Mutex<HashMap<u64, Vec<Instant>>>>,
    addresses: Arc<Mutex<HashMap<u64, HashSet<usize>>>>,
}

impl Plugin for Picky {
    fn name(&self) -> &str {
        "picky"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        let now = Instant::now();
        let mut tries = self.tries.lock().unwrap();
        let times = tries.entry(message.id).or_default();
        times.push(now);
        let try_no = times.len();
        let mut addresses = self.addresses.lock().unwrap();
        let address = message.payload.as_ptr() as usize;
        addresses.entry(message.id).or_default().insert(address);
        Box::pin(async move {
            if message.payload[..4] == 9u32.to_be_bytes() {
                Err(HandlerError(format!("not from 9 (try {try_no})")))
            } else {
                Ok(())
            }
        })
    }
}

/// A `max_tries` of 0 and a `max_connections` of 0 are taken as 1, as a
/// queue, a mailbox and a channel of 0 are (`back_pressure::zero`): every
/// message is tried once, and one that is refused is a dead letter after
/// that one try; a client is served, and the next only once it hangs up.
/// Taken as they are, they would do nothing: no try at all, every message
/// acknowledged unseen; no client ever served.
#[tokio::test]
async fn a_limit_of_0_connections_and_of_0_tries_is_taken_as_1() {
    let mut config = config();
    config.retry.max_tries = 0;
    config.max_connections = 0;
    let pipeline = start(config).await;
    let picky = Picky::default();
    let tries = Arc::clone(&picky.tries);
    plug(&pipeline, picky).await;
    let mut stream = subscribe(&pipeline).await;
    // The first client sends its frames and stays open: it holds the one
    // turn there is, and the second waits for it.
    let mut first = connect_ingest(&pipeline).await;
    watched(
        Look::Pipeline(&pipeline),
        "the first client's frames to be written",
        first.write_all(&wire((0..5).map(|n| frame(8, n, 20)))),
    )
    .await
    .expect("the pipeline reads its clients");
    until(
        &pipeline,
        "the first client to be served, with max_connections at 0 (taken as 1)",
        |s| s.frames_in == 5,
    )
    .await;
    let bad = send_frames(&pipeline, 9, 3, 20);
    let held = quiet(&pipeline).await;
    assert_eq!(
        held.frames_in, 5,
        "with max_connections at 0 (taken as 1) and one client served and still open, a \
         second client's frames were taken: a limit of 0 is one client at a time, not no \
         limit"
    );
    drop(first);
    let snapshots = receive(&pipeline, &mut stream, 8).await;
    watched(Look::Pipeline(&pipeline), "the clients to finish", bad)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(8, 5), (9, 3)]);

    let summary = summary(&pipeline).await;
    let tries = tries.lock().unwrap();
    assert_eq!(
        tries.len(),
        8,
        "with max_tries at 0 (taken as 1), the plugin was handed {} of the 8 messages: \
         every message gets its one try, none is acknowledged unseen",
        tries.len()
    );
    for (id, times) in tries.iter() {
        assert_eq!(
            times.len(),
            1,
            "message {id} was tried {} times, with max_tries at 0 (taken as 1)",
            times.len()
        );
    }
    assert_eq!(summary.retries, 0, "no retries with one try");
    assert_eq!(summary.dead_letters.len(), 3, "{:?}", summary.dead_letters);
    for letter in &summary.dead_letters {
        assert_eq!(
            letter.reason,
            Reason::OutOfTries {
                tries: 1,
                last_error: HandlerError("not from 9 (try 1)".into())
            },
            "dead letter {}: out of its one try",
            letter.id
        );
    }
}

/// Panics on every message, in words an operator would want to read, and
/// notes when each try came.
#[derive(Default)]
struct Doomed {
    tries: Arc<Mutex<HashMap<u64, Vec<Instant>>>>,
}

impl Plugin for Doomed {
    fn name(&self) -> &str {
        "doomed"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        let mut tries = self.tries.lock().unwrap();
        tries.entry(message.id).or_default().push(Instant::now());
        Box::pin(async move {
            if message.id != u64::MAX {
                lesson_support::panic_on_purpose(format!(
                    "doomed: the disk is full (message {})",
                    message.id
                ));
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_handler_that_always_panics_is_dead_lettered_with_what_the_panic_said() {
    let pipeline = start(config()).await;
    let doomed = Doomed::default();
    let tries = Arc::clone(&doomed.tries);
    through(&pipeline, doomed, 3, 2, 20).await;

    let summary = summary(&pipeline).await;
    assert_eq!(summary.dead_letters.len(), 2, "{:?}", summary.dead_letters);
    for letter in &summary.dead_letters {
        let Reason::OutOfTries { last_error, .. } = &letter.reason else {
            panic!("a message whose every try panicked is out of tries: {letter:?}")
        };
        // What an operator reads in the log: the panic's own words.
        let said = last_error.to_string();
        assert!(
            said.contains("the disk is full"),
            "the dead letter's last error displays as {said:?}: it should carry what \
             the panic said"
        );
        // A panic is a failed try like an error: the retry after it waits
        // the policy's backoff too (1, then 2 ms here).
        let tries = tries.lock().unwrap()[&letter.id].clone();
        assert_eq!(tries.len(), 3, "message {}: three tries", letter.id);
        let schedule = [Duration::from_millis(1), Duration::from_millis(2)];
        for (n, (pair, wait)) in tries.windows(2).zip(schedule).enumerate() {
            let waited = pair[1] - pair[0];
            assert!(
                waited >= wait,
                "message {}: retry {} came {waited:?} after the try that panicked; a panic \
                 is a failed try, and the policy says to wait {wait:?} first",
                letter.id,
                n + 1
            );
        }
    }
}

/// Panics on every try of every message, each time before it returns its
/// future: the retries' calls as much as the first.
struct DoomedEarly;

impl Plugin for DoomedEarly {
    fn name(&self) -> &str {
        "doomed-early"
    }

    fn handle(&self, _message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        // A `&'static str`, as `panic!("...")` with no arguments makes it
        // (the other checks' panics carry a `String`), raised without the
        // panic hook's report.
        std::panic::resume_unwind(Box::new("doomed early: no such table"))
    }
}

// Every try is a call to `handle`, and any of them may panic before it
// returns its future: a retry's call is caught as the first one's is.
#[tokio::test]
async fn a_handler_that_panics_before_its_future_on_every_try_is_dead_lettered() {
    let pipeline = start(config()).await;
    let tries = config().retry.max_tries;
    through(&pipeline, DoomedEarly, 3, 2, 20).await;

    let summary = summary(&pipeline).await;
    assert_eq!(summary.dead_letters.len(), 2, "{:?}", summary.dead_letters);
    for letter in &summary.dead_letters {
        let Reason::OutOfTries {
            tries: made,
            last_error,
        } = &letter.reason
        else {
            panic!("a message whose every try panicked is out of tries: {letter:?}")
        };
        assert_eq!(
            *made, tries,
            "message {}: every try panicked before its future, the retries too",
            letter.id
        );
        let said = last_error.to_string();
        assert!(
            said.contains("no such table"),
            "the dead letter's last error displays as {said:?}: it should carry what \
             the last try's panic said (a `&str`, as a `panic!` with no arguments makes it)"
        );
    }
    assert_eq!(
        summary.retries,
        2 * u64::from(tries - 1),
        "two retries a message"
    );
}

#[tokio::test]
async fn a_message_out_of_tries_is_dead_lettered_and_still_published() {
    let pipeline = start(config()).await;
    let picky = Picky::default();
    let tries = Arc::clone(&picky.tries);
    let addresses = Arc::clone(&picky.addresses);
    plug(&pipeline, picky).await;
    let mut stream = subscribe(&pipeline).await;
    let good = send_frames(&pipeline, 8, 20, 20);
    let bad = send_frames(&pipeline, 9, 4, 20);
    let snapshots = receive(&pipeline, &mut stream, 24).await;
    for client in [good, bad] {
        watched(Look::Pipeline(&pipeline), "the clients to finish", client)
            .await
            .unwrap();
    }
    assert_complete_and_in_order(&snapshots, &[(8, 20), (9, 4)]);

    let summary = summary(&pipeline).await;
    assert_eq!(summary.dead_letters.len(), 4, "{:?}", summary.dead_letters);
    for letter in &summary.dead_letters {
        assert_eq!(letter.plugin, "picky");
        assert_eq!(
            letter.payload[..4],
            9u32.to_be_bytes(),
            "the message itself"
        );
        // The last try's error: the one that gave up.
        assert_eq!(
            letter.reason,
            Reason::OutOfTries {
                tries: 3,
                last_error: HandlerError("not from 9 (try 3)".into())
            },
            "dead letter {}: out of tries, with the last try's error",
            letter.id
        );
        // The same bytes the plugin was handed, not a copy of them.
        let handed = &addresses.lock().unwrap()[&letter.id];
        assert_eq!(
            handed,
            &HashSet::from([letter.payload.as_ptr() as usize]),
            "dead letter {}: its payload is not the bytes the plugin was handed; a dead \
             letter keeps the frame, not a copy",
            letter.id
        );
    }
    assert_eq!(summary.retries, 8, "two retries each");

    // Each retry came after the policy's wait: base * 2^(n - 1), here 1
    // and then 2 ms (`config`'s policy, worked out by hand).
    let schedule = [Duration::from_millis(1), Duration::from_millis(2)];
    for letter in &summary.dead_letters {
        let tries = tries.lock().unwrap()[&letter.id].clone();
        for (n, (pair, wait)) in tries.windows(2).zip(schedule).enumerate() {
            let waited = pair[1] - pair[0];
            assert!(
                waited >= wait,
                "message {}: retry {} came {waited:?} after the try before it; the policy \
                 says to wait {wait:?} first",
                letter.id,
                n + 1
            );
        }
    }
}

#[tokio::test]
async fn a_plugin_unplugged_mid_run_loses_nothing() {
    const FRAMES: u32 = 400;
    let mut config = config();
    config.mailbox_capacity = 8;
    let pipeline = start(config).await;
    let (stuck, gate, handled) = Gated::new("stuck");
    let (audit, audited) = Recorder::new("audit");
    plug(&pipeline, stuck).await;
    plug(&pipeline, audit).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 2, FRAMES, 24);

    // Let ten through, then wait until the stuck plugin holds up the rest.
    gate.add_permits(10);
    let before = until(&pipeline, "the stuck plugin to fill its mailbox", |s| {
        s.frames_in >= 20
    })
    .await;
    assert!(before.published <= 10, "nothing past the stuck plugin");
    // What audit has handled by now was taken while the stuck plugin was
    // plugged, so it was handed to the stuck one too.
    quiet(&pipeline).await;
    let taken_before = ids(&audited);
    assert_eq!(unplug(&pipeline, "stuck").await, 1);
    assert_eq!(unplug(&pipeline, "stuck").await, 0, "gone already");
    // A plugin plugged after the unplug is a plugin of its own, and gets
    // every frame taken from now on: another client's, at least.
    let (late, lately) = Recorder::new("late");
    plug(&pipeline, late).await;
    let later = send_frames(&pipeline, 3, 20, 24);

    // Everything goes on, without it.
    let snapshots = receive(&pipeline, &mut stream, FRAMES as usize + 20).await;
    for client in [client, later] {
        watched(Look::Pipeline(&pipeline), "the clients to finish", client)
            .await
            .unwrap();
    }
    assert_complete_and_in_order(&snapshots, &[(2, FRAMES), (3, 20)]);
    assert_eq!(
        ids(&audited).len(),
        FRAMES as usize + 20,
        "audit saw everything"
    );
    let late_ids = ids(&lately);
    assert!(late_ids.len() >= 20, "late saw the later client's frames");
    assert!(
        late_ids.windows(2).all(|pair| pair[1] == pair[0] + 1)
            && late_ids.last() == Some(&u64::from(FRAMES + 19)),
        "late saw every frame taken after it was plugged, in order: {late_ids:?}"
    );

    // What the stuck plugin was handed, it handled or it is a dead letter:
    // together, the first messages, with no gap.
    let summary = summary(&pipeline).await;
    let handled: HashSet<u64> = ids(&handled).into_iter().collect();
    let dead: HashSet<u64> = summary
        .dead_letters
        .iter()
        .inspect(|letter| {
            assert_eq!(letter.plugin, "stuck");
            assert_eq!(letter.reason, Reason::Unplugged);
        })
        .map(|letter| letter.id)
        .collect();
    assert!(handled.len() >= 10, "it handled the ten it was let through");
    assert!(!dead.is_empty(), "it owed messages when it was unplugged");
    let owed: HashSet<u64> = handled.union(&dead).copied().collect();
    let first_not_owed = (0..).find(|id| !owed.contains(id)).unwrap();
    assert_eq!(
        owed.len() as u64,
        first_not_owed,
        "a message the stuck plugin was handed was neither handled nor dead-lettered: lost"
    );
    for id in taken_before {
        assert!(
            owed.contains(&id),
            "message {id} was taken while the stuck plugin was plugged (audit had handled it \
             before the unplug); the stuck plugin neither handled it nor has it as a dead letter"
        );
    }
    // A dead letter carries the message itself.
    let published: HashMap<u64, _> = snapshots.iter().map(|s| (s.seq, &s.payload)).collect();
    for letter in &summary.dead_letters {
        assert_eq!(
            Some(&&letter.payload),
            published.get(&letter.id),
            "dead letter {} carries the message published as seq {}",
            letter.id,
            letter.id
        );
    }
    // And the same bytes, not a copy of them: audit keeps what it was
    // handed, so the frame's address cannot have been reused.
    let handed: HashMap<u64, usize> = audited
        .lock()
        .unwrap()
        .iter()
        .map(|m| (m.id, m.payload.as_ptr() as usize))
        .collect();
    for letter in &summary.dead_letters {
        assert_eq!(
            Some(&(letter.payload.as_ptr() as usize)),
            handed.get(&letter.id),
            "dead letter {} keeps the frame the plugins were handed, at the same address: \
             a dead letter holds the frame, not a copy",
            letter.id
        );
    }
}

#[tokio::test]
async fn unplugging_a_name_unplugs_every_plugin_of_that_name() {
    let pipeline = start(config()).await;
    // Two stuck plugins of one name: nothing gets past either.
    let (one, _gate_one, _) = Gated::new("twin");
    let (two, _gate_two, _) = Gated::new("twin");
    plug(&pipeline, one).await;
    plug(&pipeline, two).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 5, 20, 16);
    until(&pipeline, "every frame to be taken", |s| s.frames_in == 20).await;

    assert_eq!(
        unplug(&pipeline, "twin").await,
        2,
        "two plugins are named twin"
    );
    let snapshots = receive(&pipeline, &mut stream, 20).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(5, 20)]);
    let summary = summary(&pipeline).await;
    assert_eq!(
        summary.dead_letters.len(),
        40,
        "each twin owed every frame: {:?}",
        summary.dead_letters
    );
}

#[tokio::test]
async fn plugins_named_alike_each_settle_what_they_were_handed() {
    const FRAMES: u32 = 50;
    let pipeline = start(config()).await;
    // Two plugins of one name, both handling: a name says what a plugin
    // is, not which one; each one's outcomes settle its own messages.
    let (one, seen_one) = Recorder::new("twin");
    let (two, seen_two) = Recorder::new("twin");
    plug(&pipeline, one).await;
    through(&pipeline, two, 7, FRAMES, 16).await;
    let all: Vec<u64> = (0..u64::from(FRAMES)).collect();
    assert_eq!(
        ids(&seen_one),
        all,
        "the first twin handles every frame once"
    );
    assert_eq!(
        ids(&seen_two),
        all,
        "the second twin handles every frame once"
    );
    let summary = until(&pipeline, "all to be published", |s| {
        s.published == u64::from(FRAMES)
    })
    .await;
    assert!(
        summary.dead_letters.is_empty(),
        "{:?}",
        summary.dead_letters
    );
}

/// One round of `n` plugins, one after another: each is plugged, handles
/// a frame on its way to `stream`, and is unplugged; the round ends once
/// the pipeline is quiet.
async fn plugins_come_and_go(
    pipeline: &Pipeline,
    stream: &mut Streaming<Snapshot>,
    first: u32,
    n: u32,
) {
    for client in first..first + n {
        let (passing, _) = Recorder::new("passing");
        plug(pipeline, passing).await;
        let sent = send_frames(pipeline, client, 1, 16);
        let snapshot = receive(pipeline, stream, 1).await;
        assert_complete_and_in_order(&snapshot, &[(client, 1)]);
        watched(Look::Pipeline(pipeline), "the client to finish", sent)
            .await
            .unwrap();
        assert_eq!(unplug(pipeline, "passing").await, 1);
    }
    quiet(pipeline).await;
}

#[test]
fn plugins_unplugged_leave_nothing_behind_while_the_pipeline_runs() {
    const ROUND: u32 = 32;
    let (runtime, pipeline) = start_on_this_thread(config());
    let mut stream = runtime.block_on(subscribe(&pipeline));
    // A first round grows what grows once.
    runtime.block_on(plugins_come_and_go(&pipeline, &mut stream, 0, ROUND));
    let ((), counted) = count_allocations(|| {
        runtime.block_on(plugins_come_and_go(&pipeline, &mut stream, ROUND, ROUND))
    });
    // An unplugged plugin is gone, and its actor with it: no handle to its
    // ended task, no mailbox, no plugin is kept.
    assert!(
        counted.count_current < i64::from(ROUND) / 2,
        "{ROUND} more plugins, each unplugged, left {} allocations ({} bytes) alive: \
         something is kept per plugin after it is unplugged (its task's handle?)",
        counted.count_current,
        counted.bytes_current
    );
    drop(pipeline);
}

/// Blocks its thread inside `handle` until the check lets it go (with
/// `block_in_place`, so the runtime's other tasks go on meanwhile): a try
/// still running when its plugin is unplugged, which then ends, and whose
/// outcome reaches the loop after the unplug.
struct Blocking {
    entered: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Plugin for Blocking {
    fn name(&self) -> &str {
        "blocking"
    }

    fn handle(&self, _message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            if let Some(entered) = self.entered.lock().unwrap().take() {
                let _ = entered.send(());
            }
            tokio::task::block_in_place(|| {
                // Let go, or the check is gone.
                let _ = self.release.lock().unwrap().recv();
            });
            Ok(())
        })
    }
}

#[tokio::test]
async fn an_outcome_that_comes_after_its_plugin_was_unplugged_settles_nothing() {
    // The pipeline on two threads of its own: the blocked try holds one.
    let (_elsewhere, pipeline) = start_elsewhere(config()).await;
    let (stays, seen_stays) = Recorder::new("stays");
    plug(&pipeline, stays).await;
    let (entered, is_entered) = tokio::sync::oneshot::channel();
    let (let_go, release) = std::sync::mpsc::channel();
    let blocking = Blocking {
        entered: Mutex::new(Some(entered)),
        release: Mutex::new(release),
    };
    plug(&pipeline, blocking).await;
    let mut stream = subscribe(&pipeline).await;
    let first = send_frames(&pipeline, 1, 1, 16);
    watched(
        Look::Pipeline(&pipeline),
        "the blocking plugin to be handed the frame",
        is_entered,
    )
    .await
    .expect("the plugin says when it is handed a frame");

    // Unplugged while its try runs; then a plugin comes, the newest one.
    assert_eq!(unplug(&pipeline, "blocking").await, 1);
    let (comes, seen_comes) = Recorder::new("comes");
    plug(&pipeline, comes).await;
    // The try ends now, after the unplug: its outcome is about a plugin
    // that is gone, and must settle nothing of the plugin plugged since,
    // whatever key that one was given.
    let_go.send(()).expect("the blocking plugin waits");
    let then = send_frames(&pipeline, 2, 3, 16);
    let snapshots = receive(&pipeline, &mut stream, 4).await;
    for sent in [first, then] {
        watched(Look::Pipeline(&pipeline), "the clients to finish", sent)
            .await
            .unwrap();
    }
    assert_complete_and_in_order(&snapshots, &[(1, 1), (2, 3)]);
    assert_eq!(
        ids(&seen_stays),
        vec![0, 1, 2, 3],
        "stays handles every frame"
    );
    assert_eq!(
        ids(&seen_comes),
        vec![1, 2, 3],
        "the plugin plugged after the unplug handles every frame taken since"
    );
    let summary = until(&pipeline, "all to be published", |s| s.published == 4).await;
    let dead: Vec<_> = summary
        .dead_letters
        .iter()
        .map(|d| (d.id, d.plugin.as_str(), d.reason.clone()))
        .collect();
    assert_eq!(
        dead,
        vec![(0, "blocking", Reason::Unplugged)],
        "the blocking plugin owed frame 0 when it was unplugged; nothing else is dead"
    );
}

#[tokio::test]
async fn an_unplugged_plugin_leaves_one_dead_letter_for_each_message_it_owed() {
    const FRAMES: u32 = 40;
    let mut config = config();
    config.ingest_capacity = 4;
    config.mailbox_capacity = 2;
    let pipeline = start(config).await;
    let (stuck, _gate, _handled) = Gated::new("stuck");
    plug(&pipeline, stuck).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 4, FRAMES, 24);
    // The stuck plugin holds the pipeline with the message in its hands,
    // a full mailbox, and what waits for room in it.
    until(&pipeline, "the stuck plugin to fill its mailbox", |s| {
        s.frames_in >= 6
    })
    .await;
    quiet(&pipeline).await;
    assert_eq!(unplug(&pipeline, "stuck").await, 1);

    let snapshots = receive(&pipeline, &mut stream, FRAMES as usize).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(4, FRAMES)]);
    // Each message it was handed and never handled is one dead letter:
    // the first ones, none twice, wherever each waited when it was
    // unplugged.
    let summary = summary(&pipeline).await;
    let mut dead: Vec<u64> = summary.dead_letters.iter().map(|l| l.id).collect();
    dead.sort_unstable();
    assert!(!dead.is_empty(), "it owed messages when it was unplugged");
    assert_eq!(
        dead,
        (0..dead.len() as u64).collect::<Vec<_>>(),
        "the stuck plugin's dead letters: one for each message it owed, none twice"
    );
}

/// Refuses every try of message 0, but only once the check opens its
/// gate; acknowledges every other message. Records the connection each
/// message says it came from.
struct RefusesFirst {
    gate: Arc<tokio::sync::Semaphore>,
    connections: Arc<Mutex<HashMap<u64, u64>>>,
}

impl Plugin for RefusesFirst {
    fn name(&self) -> &str {
        "refuses-first"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            self.connections
                .lock()
                .unwrap()
                .insert(message.id, message.connection);
            if message.id != 0 {
                return Ok(());
            }
            drop(self.gate.acquire().await.expect("the gate stays"));
            Err(HandlerError("not message 0".into()))
        })
    }
}

#[tokio::test]
async fn a_dead_letter_names_the_connection_its_message_came_from() {
    let pipeline = start(config()).await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let connections = Arc::new(Mutex::new(HashMap::new()));
    let plugin = RefusesFirst {
        gate: Arc::clone(&gate),
        connections: Arc::clone(&connections),
    };
    plug(&pipeline, plugin).await;
    let mut stream = subscribe(&pipeline).await;
    // Connection 0's frame is taken first, connection 1's after it; only
    // then does message 0 run out of tries.
    let first = send_frames(&pipeline, 0, 1, 16);
    until(&pipeline, "the first frame to be taken", |s| {
        s.frames_in == 1
    })
    .await;
    let second = send_frames(&pipeline, 1, 1, 16);
    until(&pipeline, "the second frame to be taken", |s| {
        s.frames_in == 2
    })
    .await;
    gate.add_permits(1);
    let snapshots = receive(&pipeline, &mut stream, 2).await;
    for client in [first, second] {
        watched(Look::Pipeline(&pipeline), "the clients to finish", client)
            .await
            .unwrap();
    }
    assert_complete_and_in_order(&snapshots, &[(0, 1), (1, 1)]);
    let summary = summary(&pipeline).await;
    let handed = connections.lock().unwrap().clone();
    assert_eq!(
        handed,
        HashMap::from([(0, 0), (1, 1)]),
        "connections from 0"
    );
    assert_eq!(summary.dead_letters.len(), 1, "{:?}", summary.dead_letters);
    let letter = &summary.dead_letters[0];
    assert_eq!(letter.id, 0);
    assert_eq!(
        letter.connection, 0,
        "message 0 came from connection 0, and its dead letter says connection {}: a dead \
         letter names its own message's connection, not the last frame's",
        letter.connection
    );
}

/// The plugins plugged at once in a round of [`many_plugins_come_and_go`]
/// by `many_plugins_unplugged_leave_nothing_behind_while_the_pipeline_runs`.
const PLUGGED: usize = 64;

#[test]
fn many_plugins_unplugged_leave_nothing_behind_while_the_pipeline_runs() {
    /// Less than a place kept per plugin unplugged (128 more of them).
    const LEFT: i64 = 4 * 1024;
    let (runtime, pipeline) = start_on_this_thread(config());
    // A first round grows what grows once.
    runtime.block_on(many_plugins_come_and_go(&pipeline, PLUGGED, 1));
    let ((), counted) =
        count_allocations(|| runtime.block_on(many_plugins_come_and_go(&pipeline, PLUGGED, 2)));
    assert!(
        counted.bytes_current < LEFT,
        "{} more plugins, each unplugged, left {} bytes ({} allocations) alive: something \
         is kept per plugin after it is unplugged (a place in a list, left empty?)",
        2 * PLUGGED,
        counted.bytes_current,
        counted.count_current
    );
    drop(pipeline);
}

#[tokio::test]
async fn retries_of_a_plugin_unplugged_since_still_count() {
    let pipeline = start(config()).await;
    let flaky = Flaky {
        tries: Mutex::default(),
        addresses: Arc::default(),
        acked: Arc::default(),
        failure: Failure::Error,
    };
    through(&pipeline, flaky, 1, 25, 16).await;
    assert_eq!(
        summary(&pipeline).await.retries,
        5,
        "one retry for every fifth message"
    );
    assert_eq!(unplug(&pipeline, "flaky").await, 1);
    let after = summary(&pipeline).await;
    assert_eq!(
        after.retries, 5,
        "the summary says what the pipeline has done so far: the 5 retries of a plugin \
         unplugged since were done, and still count"
    );
}

/// Acknowledges everything; its name is its own, or its twin's.
struct Passing(String);

impl Plugin for Passing {
    fn name(&self) -> &str {
        &self.0
    }

    fn handle(&self, _message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }
}

/// `rounds` rounds of `at_once` plugins plugged at once, each handed a
/// frame, then unplugged by their name. The plugins come in twins, and no
/// two twins are named alike, in any round: what is kept per name is kept
/// for half the plugins.
async fn many_plugins_come_and_go(pipeline: &Pipeline, at_once: usize, rounds: u32) {
    static TWINS: AtomicUsize = AtomicUsize::new(0);
    for _ in 0..rounds {
        let first = TWINS.fetch_add(at_once.div_ceil(2), Ordering::Relaxed);
        let names: Vec<String> = (first..first + at_once.div_ceil(2))
            .map(|twins| format!("passing {twins}"))
            .collect();
        for n in 0..at_once {
            plug(pipeline, Passing(names[n / 2].clone())).await;
        }
        // What the pipeline keeps of a plugin that settled a message goes
        // with it too.
        let before = summary(pipeline).await.published;
        let sent = send_frames(pipeline, 5, 1, 16);
        watched(Look::Pipeline(pipeline), "the client to finish", sent)
            .await
            .unwrap();
        until(pipeline, "the frame to be handled by every plugin", |s| {
            s.published == before + 1
        })
        .await;
        let mut unplugged = 0;
        for name in &names {
            unplugged += unplug(pipeline, name).await;
        }
        assert_eq!(unplugged, at_once, "every plugin plugged was unplugged");
        quiet(pipeline).await;
    }
}

#[test]
fn a_thousand_plugins_unplugged_leave_nothing_behind_while_the_pipeline_runs() {
    /// Less than 4 bytes kept per plugin unplugged (1,024 more of them): a
    /// list of the keys unplugged, say, grows by 8.
    const LEFT: i64 = 4 * 1024;
    const AT_ONCE: usize = 256;
    let (runtime, pipeline) = start_on_this_thread(config());
    // A first round grows what grows once.
    runtime.block_on(many_plugins_come_and_go(&pipeline, AT_ONCE, 1));
    let ((), counted) =
        count_allocations(|| runtime.block_on(many_plugins_come_and_go(&pipeline, AT_ONCE, 4)));
    assert!(
        counted.bytes_current < LEFT,
        "{} more plugins, each unplugged, left {} bytes ({} allocations) alive: something \
         is kept per plugin after it is unplugged (its key in a list? a count of its own, by its \
         key? an entry by its name?)",
        4 * AT_ONCE,
        counted.bytes_current,
        counted.count_current
    );
    drop(pipeline);
}
