//! A plugin or a subscriber that does not keep up slows the pipeline down
//! to its pace, all the way back to the sockets: the pipeline takes a
//! bounded number of frames it cannot pass on, and loses none.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::future::BoxFuture;
use lesson::{HandlerError, Message, Pipeline, Plugin, Snapshot};
use lesson_support::count_allocations;
use tokio::io::AsyncWriteExt;
use tonic::Streaming;

use super::{
    Look, Recorder, STREAM_WINDOW, Stuck, all_taken, assert_complete_and_in_order, config,
    connect_ingest, frame, ids, plug, quiet, receive, send_frames, start, start_elsewhere,
    start_on_this_thread, stuck_config, subscribe, subscribe_with_small_window, until, watched,
    watched_counting, wire,
};

#[tokio::test]
async fn a_stuck_plugin_stops_the_pipeline_reading_its_sockets() {
    const INGEST: usize = 32;
    const MAILBOX: usize = 16;
    const FRAMES: u32 = 500;
    let config = stuck_config(INGEST, MAILBOX);
    let pipeline = start(config).await;
    // Far more than every queue on the way can hold.
    let (stuck, held) = Stuck::start(&pipeline, INGEST, MAILBOX, 3, FRAMES).await;
    stuck.assert_held(&held, "once quiet");
    // Nor may frames wait in tasks of their own: a task per frame is a
    // queue with no bound, and its frames are read off the socket too.
    let tasks = lesson_support::alive_tasks();
    assert!(
        tasks <= 32,
        "{tasks} tasks alive with one client, one plugin and one subscriber: \
         frames wait in tasks of their own, which nothing bounds"
    );

    // A client with a bad frame, while the queue into the loop is full:
    // its error is not lost. (Whether it waits its turn behind the frames
    // in the queue, as the reference's does, or comes ahead of them, is
    // not promised: it is another connection's.)
    let mut bad = connect_ingest(&pipeline).await;
    bad.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
    until(&pipeline, "the bad client to be accepted", |s| {
        s.connections == 2
    })
    .await;
    quiet(&pipeline).await;

    stuck.let_go(&pipeline).await;
    until(&pipeline, "the bad frame to be reported", |s| {
        s.connection_errors.len() == 1
    })
    .await;
}

#[test]
fn a_stuck_plugin_leaves_what_the_pipeline_cannot_take_in_the_socket() {
    // A queue twice the default: a buffer of the pipeline's own that reads
    // ahead as far as the queue holds (per connection, say) holds as many
    // frames again, which `frames_in` does not count and the bytes show.
    const INGEST: usize = 512;
    const MAILBOX: usize = 16;
    const FRAMES: u32 = 1_500;
    const FRAME: usize = 1024;
    /// Besides the frames taken: the buffers they were read into, the
    /// subscriber's connection, the tasks (about 190 KB in every right
    /// design tried), with room to spare.
    const BESIDES: i64 = 256 * 1024;
    let mut config = stuck_config(INGEST, MAILBOX);
    // A frame may be as long as 1 MiB: the longest frame allowed is no
    // reason to read that far ahead (a buffer as large, per connection).
    config.max_frame_length = 1024 * 1024;
    let (runtime, pipeline) = start_on_this_thread(config);
    // The client's 1.5 MB are made before the count, and kept: what is
    // counted is what the pipeline (and the check's subscriber) hold.
    let bytes = Bytes::from(wire((0..FRAMES).map(|i| frame(5, i, FRAME))));
    let ((stuck, held), counted) = count_allocations(|| {
        runtime.block_on(Stuck::start_with(
            &pipeline,
            INGEST,
            MAILBOX,
            &[(5, FRAMES, bytes.clone())],
        ))
    });
    stuck.assert_held(&held, "once quiet");
    // The count of frames taken is the pipeline's own word: the bytes it
    // holds are not. A frame read off the socket is in memory, counted or not.
    let bound = held.frames_in as i64 * FRAME as i64 + BESIDES;
    assert!(
        counted.bytes_current < bound,
        "with its only plugin stuck and {} frames of {FRAME} bytes taken, the pipeline \
         holds {} bytes (at most {bound}): it reads the socket on, into a buffer or a \
         queue that `frames_in` does not count, instead of leaving the client's bytes in TCP",
        held.frames_in,
        counted.bytes_current
    );
    runtime.block_on(stuck.let_go(&pipeline));
    drop(pipeline);
}

#[test]
fn a_stuck_plugin_leaves_what_many_connections_cannot_hand_over_in_their_sockets() {
    // Many clients at once, each sending frames of 64 KiB: what the pipeline
    // holds in memory is the queue, the mailbox, a frame in each
    // connection's hands, and a few more, however it counts `frames_in`. A
    // connection that reads its next frame while the last waits for a place
    // in the queue holds two, and with many connections that shows.
    const INGEST: usize = 4;
    const MAILBOX: usize = 2;
    const CLIENTS: u32 = 24;
    const FRAMES: u32 = 6;
    const FRAME: usize = 64 * 1024;
    /// Besides the frames: the subscriber's connection, the tasks, each
    /// connection's buffer and socket (145 to 165 KB in every right design
    /// tried).
    const BESIDES: usize = 256 * 1024 + CLIENTS as usize * 8 * 1024;
    let mut config = stuck_config(INGEST, MAILBOX);
    config.max_frame_length = 1024 * 1024;
    let (runtime, pipeline) = start_on_this_thread(config);
    // The clients' bytes are made before the count, and kept.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let bytes = wire((0..FRAMES).map(|i| frame(client, i, FRAME)));
            (client, FRAMES, Bytes::from(bytes))
        })
        .collect();
    let ((stuck, held), counted) = count_allocations(|| {
        runtime.block_on(Stuck::start_with(&pipeline, INGEST, MAILBOX, &clients))
    });
    assert_eq!(held.published, 0, "nothing got past the stuck plugin");
    // In bytes, not `frames_in`: each connection may count the frame in its
    // hands as taken, or not.
    let bound = ((INGEST + MAILBOX + CLIENTS as usize + 4) * FRAME + BESIDES) as i64;
    assert!(
        counted.bytes_current < bound,
        "with its only plugin stuck and {CLIENTS} clients sending frames of {FRAME} bytes, \
         the pipeline holds {} bytes (at most {bound}: the queue, the mailbox, a frame in \
         each connection's hands and a few more): a connection reads on while its last \
         frame waits for a place, instead of leaving the client's bytes in TCP",
        counted.bytes_current
    );
    runtime.block_on(stuck.let_go(&pipeline));
    drop(pipeline);
}

#[test]
fn a_snapshot_waiting_for_a_full_subscriber_is_not_copied() {
    // Frames of 512 KiB, all taken (the queue holds them all) and kept by a
    // plugin that records them, to a subscriber that reads nothing, whose
    // channel holds one: the snapshots waiting for it share the frames'
    // bytes, so what the pipeline holds is the frames and what the gRPC
    // stream has encoded of them. A copy made while a snapshot waits (to
    // let the read buffer go, say) is one frame more.
    const FRAMES: u32 = 8;
    const FRAME: usize = 512 * 1024;
    /// Besides the frames and the two snapshots the gRPC stream has
    /// encoded: buffers, tasks, the subscriber's connection (about 155 KB
    /// in every right design tried).
    const BESIDES: usize = 384 * 1024;
    let mut config = config();
    config.ingest_capacity = 16;
    config.mailbox_capacity = 16;
    config.subscriber_capacity = 1;
    config.max_frame_length = 1024 * 1024;
    let (runtime, pipeline) = start_on_this_thread(config);
    let bytes = Bytes::from(wire((0..FRAMES).map(|i| frame(9, i, FRAME))));
    let ((mut stream, client, held), counted) = count_allocations(|| {
        runtime.block_on(async {
            // The recorder keeps every message it was handed, so every
            // frame's bytes stay alive and a copy is bytes more.
            plug(&pipeline, Recorder::new("keeps").0).await;
            let stream = subscribe_with_small_window(&pipeline).await;
            let client = super::send(&pipeline, bytes.clone());
            until(&pipeline, "every frame to be taken", |s| {
                s.frames_in == u64::from(FRAMES)
            })
            .await;
            let held = quiet(&pipeline).await;
            (stream, client, held)
        })
    });
    let bound = ((FRAMES as usize + 2) * FRAME + BESIDES) as i64;
    assert!(
        counted.bytes_current < bound,
        "with {} of {FRAMES} frames of {FRAME} bytes published to a subscriber whose \
         channel is full, the pipeline holds {} bytes (at most {bound}: the frames, the two \
         the gRPC stream has encoded, and little more): a snapshot that waits for room is \
         copied, not shared",
        held.published,
        counted.bytes_current
    );
    runtime.block_on(async {
        let snapshots = receive(&pipeline, &mut stream, FRAMES as usize).await;
        watched(Look::Pipeline(&pipeline), "the client to finish", client)
            .await
            .unwrap();
        assert_complete_and_in_order(&snapshots, &[(9, FRAMES)]);
    });
    drop(pipeline);
}

#[tokio::test]
async fn a_subscriber_that_reads_nothing_for_a_while_loses_nothing() {
    const FRAMES: u32 = 1_500;
    const INGEST: usize = 32;
    let mut config = config();
    config.subscriber_capacity = 8;
    config.ingest_capacity = INGEST;
    let pipeline = start(config).await;
    let mut slow = subscribe_with_small_window(&pipeline).await;
    let mut fast = subscribe_with_small_window(&pipeline).await;
    let client = send_frames(&pipeline, 4, FRAMES, 256);

    // The slow one reads nothing while the fast one reads what it can. The
    // pipeline may publish what fits in the slow one's channel and its
    // HTTP/2 window (about 250 frames of 256 bytes here), then it waits.
    let first = receive(&pipeline, &mut fast, 100).await;
    let held = quiet(&pipeline).await;
    let bound = 100 + 8 + 2 * u64::from(STREAM_WINDOW) / 256;
    assert!(
        held.published <= 100 + bound,
        "{} frames published while a subscriber read none: a slow subscriber must slow \
         the pipeline (or lose frames)",
        held.published
    );
    // All the way back to the socket: what is taken and not published
    // waits in the queue into the loop, a frame in the hands of each task
    // on the way, and no more.
    let taken = held.published + (INGEST + 8) as u64;
    assert!(
        held.frames_in <= taken,
        "{} frames taken off the socket, {} published, while a subscriber read none (at most \
         {taken}): the loop takes frames it cannot publish, and the sockets are read on",
        held.frames_in,
        held.published
    );
    // The pipeline goes at the slow one's pace now: read both at once.
    let (mut rest, all_slow) = tokio::join!(
        receive(&pipeline, &mut fast, FRAMES as usize - 100),
        receive(&pipeline, &mut slow, FRAMES as usize)
    );
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();

    let mut all_fast = first;
    all_fast.append(&mut rest);
    assert_complete_and_in_order(&all_fast, &[(4, FRAMES)]);
    assert_complete_and_in_order(&all_slow, &[(4, FRAMES)]);
}

#[tokio::test]
async fn a_subscriber_that_goes_away_holds_up_no_other() {
    let pipeline = start(config()).await;
    let gone = subscribe(&pipeline).await;
    let mut stays = subscribe(&pipeline).await;
    drop(gone);
    let client = send_frames(&pipeline, 6, 200, 64);
    let snapshots = receive(&pipeline, &mut stays, 200).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(6, 200)]);
    let summary = until(&pipeline, "all to be published", |s| s.published == 200).await;
    assert_eq!(summary.frames_in, 200);
}

#[tokio::test]
async fn a_subscriber_that_goes_away_while_the_pipeline_waits_for_it_holds_up_no_other() {
    // Frames of 1 KiB: the leaving one's channel and HTTP/2 window hold
    // about 140 of them, far fewer than are sent.
    const FRAMES: u32 = 400;
    let mut config = config();
    config.subscriber_capacity = 8;
    // A loop that waits for room a gone subscriber will never make may
    // spin without yielding: on a runtime of its own, it stops only the
    // pipeline, and the check sees it stall.
    let (_elsewhere, pipeline) = start_elsewhere(config).await;
    // A first subscriber comes and goes, found gone at a frame: `stays`
    // then comes in the place of one that left, and is one of its own
    // (an id taken from the number of subscribers is `leaves`'s).
    let first = subscribe(&pipeline).await;
    let leaves = subscribe_with_small_window(&pipeline).await;
    drop(first);
    quiet(&pipeline).await;
    let one = send_frames(&pipeline, 7, 1, 16);
    watched(Look::Pipeline(&pipeline), "the first client to finish", one)
        .await
        .unwrap();
    until(&pipeline, "the first frame to be published", |s| {
        s.published == 1
    })
    .await;
    let mut stays = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 8, FRAMES, 1024);

    // `stays` reads everything it is sent; `leaves` reads nothing, so the
    // pipeline stops, waiting for room in its channel. Then it goes away.
    let reading = receive(&pipeline, &mut stays, FRAMES as usize);
    let leaving = async {
        let held = quiet(&pipeline).await;
        assert!(
            held.published < u64::from(FRAMES),
            "all {FRAMES} frames were published while a subscriber read none"
        );
        drop(leaves);
    };
    let (snapshots, ()) = tokio::join!(reading, leaving);
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(8, FRAMES)]);
    let summary = until(&pipeline, "all to be published", |s| {
        s.published == u64::from(FRAMES) + 1
    })
    .await;
    assert_eq!(summary.frames_in, u64::from(FRAMES) + 1);
}

#[tokio::test]
async fn frames_done_behind_the_snapshot_a_gone_subscriber_held_up_are_published() {
    // Frames of 16 KiB, all taken while the plugin holds them, then all
    // handled at once: the pipeline publishes until its one subscriber's
    // channel (room for one) and window are full, with the frames behind
    // done and waiting. Then the subscriber leaves, and nothing else comes
    // (no frame, no plugin's answer): finding it gone must publish the
    // snapshot it held up and every done frame behind it. (No other
    // subscriber: one that reads could be the one waited for when it
    // leaves, and its room would move the pipeline on.)
    const FRAME: usize = 16 * 1024;
    const FRAMES: u32 = 64;
    let mut config = config();
    config.subscriber_capacity = 1;
    config.mailbox_capacity = FRAMES as usize;
    // On a runtime of its own, as above.
    let (_elsewhere, pipeline) = start_elsewhere(config).await;
    let (held, gate, handled) = super::Gated::new("held");
    plug(&pipeline, held).await;
    let leaves = subscribe_with_small_window(&pipeline).await;
    all_taken(&pipeline, 4, FRAMES, FRAME).await;
    // Time for the loop to take them all from its queue: one left there
    // would move the pipeline on once the subscriber is gone.
    quiet(&pipeline).await;
    gate.add_permits(FRAMES as usize);
    until(&pipeline, "a frame to be published", |s| s.published > 0).await;
    // Quiet, and the plugin done with all it will handle meanwhile.
    let mut so_far = None;
    let held = loop {
        let held = quiet(&pipeline).await;
        let now = handled.lock().unwrap().len();
        if so_far == Some(now) {
            break held;
        }
        so_far = Some(now);
    };
    assert!(
        held.published < u64::from(FRAMES),
        "all {FRAMES} frames of 16 KiB were published while a subscriber whose channel holds \
         one read none"
    );
    drop(leaves);
    until(
        &pipeline,
        "the frames done behind the snapshot a gone subscriber held up to be published (with \
         nothing else coming, only finding it gone moves the pipeline on)",
        |s| s.published == u64::from(FRAMES),
    )
    .await;
}

#[tokio::test]
async fn a_subscriber_that_goes_away_last_while_the_pipeline_waits_for_it_holds_up_nothing() {
    // Frames of 16 KiB: the leaving one's channel (room for one) and its
    // HTTP/2 window hold a few of them.
    const FRAME: usize = 16 * 1024;
    const CLIENT: u32 = 3;
    let mut config = config();
    config.subscriber_capacity = 1;
    // On a runtime of its own, as above: a loop that spins on the closed
    // channel fails as a stall, not a hang.
    let (_elsewhere, pipeline) = start_elsewhere(config).await;
    // `stays` comes first: when the pipeline waits for the leaving one, the
    // snapshot it waits with is owed to nobody else. Nothing comes after
    // it, no frame and no plugin's answer, to move the pipeline on: only
    // finding the leaving one gone can.
    let mut stays = subscribe(&pipeline).await;
    let mut socket = connect_ingest(&pipeline).await;
    let mut sent = 0;
    let mut send_one = async |pipeline: &Pipeline| {
        let bytes = wire([frame(CLIENT, sent, FRAME)]);
        watched(
            Look::Pipeline(pipeline),
            "a frame to be written",
            socket.write_all(&bytes),
        )
        .await
        .unwrap();
        sent += 1;
        quiet(pipeline).await
    };

    // One frame at a time, each left to settle, until the pipeline holds
    // one back: it waits for the leaving one's room, with the last frame
    // (or, where a frame counts as published once its sending starts, with
    // the one before it).
    let leaves = subscribe_with_small_window(&pipeline).await;
    let mut held_back_at = 0;
    while held_back_at == 0 {
        let held = send_one(&pipeline).await;
        if held.published < held.frames_in {
            held_back_at = held.frames_in;
        }
        assert!(
            held.frames_in < 40,
            "40 frames of 16 KiB published to a subscriber that reads none, whose channel \
             holds 1: a subscriber's channel holds what `subscriber_capacity` says"
        );
    }
    drop(leaves);
    until(
        &pipeline,
        "the frames held back for a gone subscriber",
        |s| s.published == s.frames_in,
    )
    .await;

    // Again, one frame fewer: now the pipeline waits with the last frame
    // sent, whichever way it counts.
    let leaves = subscribe_with_small_window(&pipeline).await;
    for _ in 1..held_back_at {
        send_one(&pipeline).await;
    }
    drop(leaves);
    until(
        &pipeline,
        "the frames held back for a gone subscriber",
        |s| s.published == s.frames_in,
    )
    .await;
    // The shutdown ends `stays`'s stream after its last snapshot: it reads
    // them meanwhile, as its window may not hold them all.
    let shutdown = tokio::spawn(pipeline.shutdown());
    let (summary, snapshots) = tokio::join!(
        watched(Look::Nothing, "the shutdown to finish", shutdown),
        receive(Look::Nothing, &mut stays, sent as usize)
    );
    let summary = summary.expect("shutdown does not panic");
    assert_eq!(summary.published, u64::from(sent));
    assert_complete_and_in_order(&snapshots, &[(CLIENT, sent)]);
}

#[tokio::test]
async fn a_silent_subscriber_holds_no_more_than_its_channel_and_its_window() {
    // Large frames: the subscriber's HTTP/2 window holds four of them, so
    // its channel (room for one snapshot) is most of what it may hold. A
    // channel of 0 is a channel of 1, not one with no bound.
    const FRAME: usize = 16 * 1024;
    for capacity in [1, 0] {
        let mut config = config();
        config.subscriber_capacity = capacity;
        let pipeline = start(config).await;
        let _silent = subscribe_with_small_window(&pipeline).await;
        let _client = send_frames(&pipeline, 9, 100, FRAME);
        until(&pipeline, "a frame to be published", |s| s.published > 0).await;
        let held = quiet(&pipeline).await;
        // Its channel, twice its window, and a frame in the hands of each
        // task on the way.
        let bound = 1 + 2 * u64::from(STREAM_WINDOW).div_ceil(FRAME as u64) + 2;
        assert!(
            held.published <= bound,
            "{} frames published to a subscriber that reads nothing, whose channel holds \
             {capacity} (taken as 1; at most {bound}): a subscriber's channel holds what \
             `subscriber_capacity` says",
            held.published
        );
        drop(pipeline);
    }
}

/// One round of `n` subscribers, one after another: each subscribes and
/// goes away, then a frame is published to `stays` (and to it, if it is
/// still there).
async fn subscribers_come_and_go(
    pipeline: &Pipeline,
    stays: &mut Streaming<Snapshot>,
    first: u32,
    n: u32,
) {
    for client in first..first + n {
        drop(subscribe(pipeline).await);
        one_frame_to(pipeline, stays, client).await;
    }
    quiet(pipeline).await;
}

#[test]
fn subscribers_that_left_leave_nothing_behind_while_the_pipeline_runs() {
    const ROUND: u32 = 32;
    let (runtime, pipeline) = start_on_this_thread(config());
    let mut stays = runtime.block_on(subscribe(&pipeline));
    // A first round grows what grows once.
    runtime.block_on(subscribers_come_and_go(&pipeline, &mut stays, 0, ROUND));
    let ((), counted) = count_allocations(|| {
        runtime.block_on(subscribers_come_and_go(&pipeline, &mut stays, ROUND, ROUND))
    });
    // A subscriber that went away is dropped: its channel with it.
    assert!(
        counted.count_current < i64::from(ROUND) / 2,
        "{ROUND} more subscribers, each gone, left {} allocations ({} bytes) alive: \
         something is kept per subscriber after it goes away (its channel?)",
        counted.count_current,
        counted.bytes_current
    );
    // Dropped, not shut down: a pipeline whose shutdown hangs fails the
    // shutdown checks, not this one.
    drop(pipeline);
}

/// Acknowledges every message and keeps nothing of it.
struct Forgets;

impl Plugin for Forgets {
    fn name(&self) -> &str {
        "forgets"
    }

    fn handle(&self, _message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async { Ok(()) })
    }
}

/// `n` frames of 16 bytes from client `client`, through to `stream`; ends
/// once the pipeline is quiet.
async fn frames_through(
    pipeline: &Pipeline,
    stream: &mut Streaming<Snapshot>,
    client: u32,
    n: u32,
) {
    let sent = send_frames(pipeline, client, n, 16);
    let snapshots = receive(pipeline, stream, n as usize).await;
    assert_complete_and_in_order(&snapshots, &[(client, n)]);
    watched(Look::Pipeline(pipeline), "the client to finish", sent)
        .await
        .unwrap();
    quiet(pipeline).await;
}

#[test]
fn frames_published_leave_nothing_behind_while_the_pipeline_runs() {
    const ROUND: u32 = 2_048;
    /// Less than half a byte a frame. The queues and buffers grew in the
    /// first round, and the reference (and each right design of the blind
    /// rounds) leaves 0 bytes more after the second; a record of every frame
    /// grows by more over a round: a set of 2,048 more ids by 36 KiB, a
    /// flag for each, a byte, by 2 KiB.
    const LEFT: i64 = 1024;
    let mut config = config();
    config.ingest_capacity = 16;
    config.mailbox_capacity = 8;
    // Room for a round in the subscriber's channel: no design loses a frame
    // here for want of room, and what is measured is only what stays.
    config.subscriber_capacity = ROUND as usize;
    let (runtime, pipeline) = start_on_this_thread(config);
    runtime.block_on(plug(&pipeline, Forgets));
    let mut stream = runtime.block_on(subscribe(&pipeline));
    // A first round grows what grows once.
    runtime.block_on(frames_through(&pipeline, &mut stream, 0, ROUND));
    let ((), counted) =
        count_allocations(|| runtime.block_on(frames_through(&pipeline, &mut stream, 1, ROUND)));
    // A frame that is published is forgotten: the pipeline keeps no record
    // of it (a set of the ids published, say) while it runs.
    assert!(
        counted.bytes_current < LEFT,
        "{ROUND} more frames, each published, left {} bytes ({} allocations) alive: \
         something is kept per frame after it is published (a record of the ids done, a \
         flag for each?)",
        counted.bytes_current,
        counted.count_current
    );
    drop(pipeline);
}

#[tokio::test]
async fn a_stuck_plugin_holds_the_pipeline_while_another_keeps_up() {
    // A short queue and long mailboxes: the plugin that keeps up always
    // has room for what the loop can take at a go.
    const INGEST: usize = 4;
    const MAILBOX: usize = 64;
    const FRAMES: u32 = 500;
    let config = stuck_config(INGEST, MAILBOX);
    let pipeline = start(config).await;
    // A plugin that keeps up, plugged before the stuck one: it has room
    // for every frame, and must not be the reason to take more.
    let (quick, seen) = Recorder::new("quick");
    plug(&pipeline, quick).await;
    let (stuck, held) = Stuck::start(&pipeline, INGEST, MAILBOX, 6, FRAMES).await;
    assert!(
        held.frames_in <= stuck.bound,
        "with one plugin stuck and another keeping up, the pipeline took {} frames off the \
         socket (at most {}): the stuck one's messages wait in a queue with no bound while \
         the other is handed more",
        held.frames_in,
        stuck.bound
    );
    assert_eq!(held.published, 0, "nothing got past the stuck plugin");
    stuck.let_go(&pipeline).await;
    assert_eq!(
        ids(&seen),
        (0..u64::from(FRAMES)).collect::<Vec<_>>(),
        "the plugin that kept up handled every frame once, in order"
    );
}

/// Acknowledges at once, and records how far the subscriber was behind
/// the message it is handed: its id, less the snapshots received so far.
struct Ahead {
    received: Arc<AtomicU64>,
    most: Arc<AtomicU64>,
}

impl Plugin for Ahead {
    fn name(&self) -> &str {
        "ahead"
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        let ahead = (message.id + 1).saturating_sub(self.received.load(Ordering::Relaxed));
        self.most.fetch_max(ahead, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn what_a_quick_plugin_handled_is_published_while_frames_keep_coming() {
    const CLIENTS: u32 = 4;
    const FRAMES: u32 = 1_000;
    const FRAME: usize = 1024;
    const MAILBOX: usize = 256;
    const CHANNEL: usize = 8;
    let mut config = config();
    config.mailbox_capacity = MAILBOX;
    config.subscriber_capacity = CHANNEL;
    let pipeline = start(config).await;
    let received = Arc::new(AtomicU64::new(0));
    let most = Arc::new(AtomicU64::new(0));
    let plugin = Ahead {
        received: Arc::clone(&received),
        most: Arc::clone(&most),
    };
    plug(&pipeline, plugin).await;
    let mut stream = subscribe_with_small_window(&pipeline).await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| send_frames(&pipeline, client, FRAMES, FRAME))
        .collect();
    let all = (CLIENTS * FRAMES) as usize;
    let moved = Cell::new(0);
    let receiving = async {
        let mut snapshots = Vec::with_capacity(all);
        while snapshots.len() < all {
            match stream.message().await {
                Ok(Some(snapshot)) => snapshots.push(snapshot),
                other => panic!(
                    "the stream ended or failed after {} of {all} snapshots: {other:?}",
                    snapshots.len()
                ),
            }
            received.store(snapshots.len() as u64, Ordering::Relaxed);
            moved.set(snapshots.len() as u64);
        }
        snapshots
    };
    let what = format!("{all} snapshots");
    let snapshots = watched_counting(Look::Pipeline(&pipeline), &what, &moved, receiving).await;
    for client in clients {
        watched(Look::Pipeline(&pipeline), "the clients to finish", client)
            .await
            .unwrap();
    }
    let expected: Vec<_> = (0..CLIENTS).map(|client| (client, FRAMES)).collect();
    assert_complete_and_in_order(&snapshots, &expected);
    // What the plugin handled and the subscriber has not got waits as
    // outcomes for the loop (a mailbox's worth and one more, with outcomes
    // taken first), in the subscriber's channel, and in its HTTP/2 window.
    let bound = (MAILBOX + 1 + CHANNEL) as u64 + 2 * u64::from(STREAM_WINDOW) / FRAME as u64;
    let most = most.load(Ordering::Relaxed);
    assert!(
        most <= bound,
        "the plugin was handed frame {most} ahead of what the subscriber had got (at most \
         {bound}): the loop takes frames before the outcomes that would publish the ones \
         before, and what waits for it has no bound while the clients keep sending"
    );
}

#[tokio::test]
async fn a_subscriber_that_goes_away_while_another_is_full_too_takes_nothing_from_it() {
    // Two subscribers alike (a channel of one, a small window), neither
    // reading: both fill on the same snapshot, and the pipeline waits for
    // room in both, in whatever order, or at once. One goes away: the
    // snapshot is still owed to the other, which then reads everything.
    const FRAMES: u32 = 60;
    const FRAME: usize = 16 * 1024;
    let mut config = config();
    config.subscriber_capacity = 1;
    // On a runtime of its own: a loop that spins on the closed channel
    // fails as a stall, not a hang.
    let (_elsewhere, pipeline) = start_elsewhere(config).await;
    let leaves = subscribe_with_small_window(&pipeline).await;
    let mut stays = subscribe_with_small_window(&pipeline).await;
    let client = send_frames(&pipeline, 4, FRAMES, FRAME);
    let held = quiet(&pipeline).await;
    assert!(
        held.published < u64::from(FRAMES),
        "all {FRAMES} frames were published to two subscribers that read none"
    );
    drop(leaves);
    // Time for the server to see the stream reset and drop its end, and
    // for the pipeline to find it gone.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    quiet(&pipeline).await;
    let snapshots = receive(&pipeline, &mut stays, FRAMES as usize).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(4, FRAMES)]);
}

#[tokio::test]
async fn a_subscriber_gone_before_the_one_the_pipeline_waits_for_takes_nothing_from_it() {
    // Frames of 16 KiB: the slow one's channel (room for one) and its
    // HTTP/2 window hold a few of them, far fewer than the queue and the
    // mailbox hold back behind the plugin.
    const FRAMES: u32 = 60;
    const FRAME: usize = 16 * 1024;
    let mut config = config();
    config.subscriber_capacity = 1;
    config.ingest_capacity = 16;
    config.mailbox_capacity = 32;
    let pipeline = start(config).await;
    let (held, gate, _handled) = super::Gated::new("held");
    plug(&pipeline, held).await;
    // In the order they subscribe: one that reads until it goes away, one
    // that reads nothing for a while, one that reads everything.
    let mut leaves = subscribe(&pipeline).await;
    let leaving = tokio::spawn(async move { while let Ok(Some(_)) = leaves.message().await {} });
    let mut slow = subscribe_with_small_window(&pipeline).await;
    let mut reads = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 6, FRAMES, FRAME);
    until(&pipeline, "the queue and the mailbox to fill", |s| {
        s.frames_in >= 40
    })
    .await;
    quiet(&pipeline).await;

    // The plugin handles all it holds at once: the pipeline publishes until
    // it waits for the slow one's room, with frames done behind it. Then
    // the first one goes away, while the pipeline waits.
    gate.add_permits(FRAMES as usize);
    let staying = async {
        let held = quiet(&pipeline).await;
        assert!(
            held.published < u64::from(FRAMES),
            "all {FRAMES} frames were published while a subscriber read none"
        );
        leaving.abort();
        let _ = leaving.await;
        // Time for the server to see the stream reset and drop its end.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        receive(&pipeline, &mut slow, FRAMES as usize).await
    };
    let (slowly, read) = tokio::join!(staying, receive(&pipeline, &mut reads, FRAMES as usize));
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    // Each of the two that stayed got every frame once: the place the gone
    // one left is nobody else's.
    assert_complete_and_in_order(&slowly, &[(6, FRAMES)]);
    assert_complete_and_in_order(&read, &[(6, FRAMES)]);
}

#[tokio::test]
async fn a_stuck_plugin_holds_many_connections_to_one_queue() {
    // The queue into the loop is one queue for all the connections: ten
    // clients at once hold the pipeline at the same bound as one, give or
    // take the frame each connection has in its hands.
    const INGEST: usize = 4;
    const MAILBOX: usize = 2;
    const CLIENTS: u32 = 10;
    const FRAMES: u32 = 50;
    let config = stuck_config(INGEST, MAILBOX);
    let pipeline = start(config).await;
    let (stuck, gate, seen) = super::Gated::new("stuck");
    plug(&pipeline, stuck).await;
    let mut stream = subscribe(&pipeline).await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| send_frames(&pipeline, client, FRAMES, 64))
        .collect();
    // The mailbox full at least: the queue may hold other things than
    // frames (word of a connection, say), ten clients' worth.
    until(&pipeline, "the mailbox to fill", |s| {
        s.frames_in >= MAILBOX as u64
    })
    .await;
    let held = quiet(&pipeline).await;
    let bound = (INGEST + MAILBOX) as u64 + u64::from(CLIENTS) + 4;
    assert!(
        held.frames_in <= bound,
        "with its only plugin stuck and {CLIENTS} clients sending, the pipeline took {} \
         frames off the sockets (at most {bound}: the queue, the mailbox, one in each \
         connection's hands, a few more): `ingest_capacity` bounds the one queue into the \
         loop, not a queue per connection",
        held.frames_in
    );
    assert_eq!(held.published, 0, "nothing got past the stuck plugin");

    let total = (CLIENTS * FRAMES) as usize;
    gate.add_permits(total);
    let snapshots = receive(&pipeline, &mut stream, total).await;
    for client in clients {
        watched(Look::Pipeline(&pipeline), "the clients to finish", client)
            .await
            .unwrap();
    }
    let sent: Vec<_> = (0..CLIENTS).map(|client| (client, FRAMES)).collect();
    assert_complete_and_in_order(&snapshots, &sent);
    assert_eq!(
        ids(&seen).len(),
        total,
        "the plugin handled every frame once"
    );
}

/// Fails every try until `working` is set: a plugin that retries for as
/// long as the check likes (the policy allows it as many tries as it
/// wants), then handles everything.
struct Failing {
    working: Arc<std::sync::atomic::AtomicBool>,
    handled: Arc<AtomicU64>,
}

impl Plugin for Failing {
    fn name(&self) -> &str {
        "failing"
    }

    fn handle(&self, _message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            // Back to the runtime once a try: a pipeline that retries at
            // once, with no wait, then spins without holding up the check.
            tokio::task::yield_now().await;
            if self.working.load(Ordering::SeqCst) {
                self.handled.fetch_add(1, Ordering::SeqCst);
                Ok(())
            } else {
                Err(HandlerError("not yet".into()))
            }
        })
    }
}

#[tokio::test]
async fn a_plugin_that_keeps_failing_holds_the_pipeline_like_a_stuck_one() {
    // Retries wait inside the actor, one message at a time: to the loop, a
    // plugin that retries is a slow one, and its mailbox is the bound.
    const INGEST: usize = 4;
    const MAILBOX: usize = 2;
    const FRAMES: u32 = 300;
    let mut config = stuck_config(INGEST, MAILBOX);
    config.retry.max_tries = u32::MAX;
    let pipeline = start(config).await;
    let working = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handled = Arc::new(AtomicU64::new(0));
    let failing = Failing {
        working: Arc::clone(&working),
        handled: Arc::clone(&handled),
    };
    plug(&pipeline, failing).await;
    let mut stream = subscribe(&pipeline).await;
    let client = send_frames(&pipeline, 4, FRAMES, 64);
    until(&pipeline, "the queues to fill", |s| {
        s.frames_in >= (INGEST + MAILBOX) as u64
    })
    .await;
    // Its retries go on meanwhile, every few milliseconds: `quiet` looks
    // at what is taken and published, not at the retries (a pipeline may
    // count a retry as it starts, or once its message is settled).
    let held = quiet(&pipeline).await;
    let bound = (INGEST + MAILBOX + 4) as u64;
    assert!(
        held.frames_in <= bound,
        "with its only plugin failing every try (and retrying), the pipeline took {} \
         frames off the socket (at most {bound}): messages wait somewhere with no bound \
         while the plugin retries (taken off its mailbox during a backoff?)",
        held.frames_in
    );
    assert_eq!(held.published, 0, "nothing got past the failing plugin");

    working.store(true, Ordering::SeqCst);
    let snapshots = receive(&pipeline, &mut stream, FRAMES as usize).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(4, FRAMES)]);
    assert_eq!(handled.load(Ordering::SeqCst), u64::from(FRAMES));
}

/// Subscriptions taken at once on one gRPC connection, each an HTTP/2
/// stream of its own.
const BATCH: usize = 100;

/// `batches` batches of [`BATCH`] subscriptions at once on one gRPC
/// connection, each batch gone before the next: a frame is published to
/// the batch (and to `stays`), the batch goes away, and two more frames
/// are published to `stays`, so that the pipeline finds the gone ones gone.
async fn subscriptions_come_and_go(
    pipeline: &Pipeline,
    client: &lesson::FeedClient<tonic::transport::Channel>,
    stays: &mut Streaming<Snapshot>,
    first: u32,
    batches: u32,
) {
    for batch in first..first + batches {
        let subscribing = futures::future::join_all((0..BATCH).map(|_| {
            let mut client = client.clone();
            async move {
                let request = lesson::Subscription {
                    device: lesson::TOPIC.to_owned(),
                };
                client.subscribe(request).await
            }
        }));
        let streams = watched(Look::Pipeline(pipeline), "the subscriptions", subscribing).await;
        assert!(
            streams.iter().all(Result::is_ok),
            "every subscription taken"
        );
        // A frame for the batch too, before it goes away: what the pipeline
        // keeps of a subscriber it sent something to goes with it.
        one_frame_to(pipeline, stays, 3 * batch).await;
        quiet(pipeline).await;
        drop(streams);
        for n in 1..3 {
            one_frame_to(pipeline, stays, 3 * batch + n).await;
            quiet(pipeline).await;
        }
    }
}

/// One frame from `client`, published, and received by `stays` (among
/// others).
async fn one_frame_to(pipeline: &Pipeline, stays: &mut Streaming<Snapshot>, client: u32) {
    let sent = send_frames(pipeline, client, 1, 16);
    watched(Look::Pipeline(pipeline), "the client to finish", sent)
        .await
        .unwrap();
    let snapshot = receive(pipeline, stays, 1).await;
    assert_complete_and_in_order(&snapshot, &[(client, 1)]);
}

#[test]
fn many_subscriptions_that_left_leave_nothing_behind_while_the_pipeline_runs() {
    /// Room for what a round of streams leaves in HTTP/2's tables and the
    /// runtime's (about 1 KiB), less than a slot kept per subscriber that
    /// left (400 more of them: 8 bytes each make 6 KiB, as a `Vec` doubles).
    const LEFT: i64 = 4 * 1024;
    let (runtime, pipeline) = start_on_this_thread(config());
    let mut stays = runtime.block_on(subscribe(&pipeline));
    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{}", pipeline.feed_addr()))
            .expect("a valid address");
    let channel = runtime
        .block_on(watched(
            Look::Pipeline(&pipeline),
            "the gRPC client to connect",
            endpoint.connect(),
        ))
        .expect("the feed accepts connections");
    let client = lesson::FeedClient::new(channel);
    // A first round grows what grows once.
    runtime.block_on(subscriptions_come_and_go(
        &pipeline, &client, &mut stays, 0, 2,
    ));
    let ((), counted) = count_allocations(|| {
        runtime.block_on(subscriptions_come_and_go(
            &pipeline, &client, &mut stays, 2, 4,
        ))
    });
    assert!(
        counted.bytes_current < LEFT,
        "{} more subscribers, each gone, left {} bytes ({} allocations) alive: something \
         is kept per subscriber after it goes away (a place in a list, left empty? a note \
         of what each was sent?)",
        4 * BATCH,
        counted.bytes_current,
        counted.count_current
    );
    drop(pipeline);
}

#[tokio::test]
async fn a_stuck_plugin_lets_a_queue_and_a_mailbox_ten_times_the_default_fill() {
    // Ten times `Config::default()`'s queue and mailbox: a ceiling of the
    // pipeline's own under a large configured bound stops the filling
    // short, and the check says so as a stall waiting for the queues.
    const INGEST: usize = 2_560;
    const MAILBOX: usize = 640;
    let config = stuck_config(INGEST, MAILBOX);
    let pipeline = start(config).await;
    let frames = (INGEST + MAILBOX + 200) as u32;
    let (stuck, held) = Stuck::start(&pipeline, INGEST, MAILBOX, 12, frames).await;
    stuck.assert_held(&held, "with a queue of 2,560 and a mailbox of 640");
    stuck.let_go(&pipeline).await;
}

#[tokio::test]
async fn a_silent_subscriber_s_channel_ten_times_the_default_fills() {
    // Frames of 1 KiB: the subscriber's window holds a few dozen, so a
    // channel that holds fewer than `subscriber_capacity` (2,560, ten times
    // the default) shows as a stall before that many are published.
    const CAPACITY: usize = 2_560;
    const FRAMES: u32 = CAPACITY as u32 + 300;
    let mut config = config();
    config.subscriber_capacity = CAPACITY;
    let pipeline = start(config).await;
    let mut silent = subscribe_with_small_window(&pipeline).await;
    let client = send_frames(&pipeline, 13, FRAMES, 1024);
    until(
        &pipeline,
        "a subscriber's channel of 2,560 to fill (a channel of fewer stalls here)",
        |s| s.published >= CAPACITY as u64,
    )
    .await;
    let held = quiet(&pipeline).await;
    // And no more than it: its channel, twice its window, and a frame in
    // the hands of each task on the way.
    let bound = CAPACITY as u64 + 2 * u64::from(STREAM_WINDOW).div_ceil(1024) + 2;
    assert!(
        held.published <= bound,
        "{} frames published to a subscriber that reads nothing, whose channel holds \
         {CAPACITY} (at most {bound}, with its window): a subscriber holds what \
         `subscriber_capacity` says, not twice as much (a second channel, or a task \
         with a channel of its own, between the pipeline and the subscriber?)",
        held.published
    );
    let snapshots = receive(&pipeline, &mut silent, FRAMES as usize).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(13, FRAMES)]);
}

/// A queue and a mailbox hold what they are configured to hold: one place
/// more holds one frame more. With a plugin stuck, a queue (or a mailbox)
/// of 2 lets more frames be taken off the socket than a queue and a
/// mailbox of 1, all else the same, whatever else holds a frame on the way.
/// A floor of the pipeline's own under the configured size (a queue or a
/// mailbox of at least 4) takes as many with 1 as with 2, and the wait for
/// one frame more stalls.
#[tokio::test]
async fn one_place_more_in_the_queue_or_a_mailbox_holds_one_frame_more() {
    let base = {
        let pipeline = start(stuck_config(1, 1)).await;
        let (_stuck, held) = Stuck::start(&pipeline, 1, 1, 3, 60).await;
        held.frames_in
    };
    for (ingest, mailbox, what) in [(2, 1, "queue"), (1, 2, "mailbox")] {
        let pipeline = start(stuck_config(ingest, mailbox)).await;
        let (stuck, _) = Stuck::start(&pipeline, ingest, mailbox, 3, 60).await;
        let held = until(
            &pipeline,
            &format!(
                "one frame more than the {base} taken with a queue and a mailbox of 1, with a \
                 {what} of 2 and the plugin stuck (a floor of your own under a small {what}?)"
            ),
            |s| s.frames_in > base,
        )
        .await;
        stuck.assert_held(
            &held,
            &format!("with a queue of {ingest} and a mailbox of {mailbox}"),
        );
        // Dropped, not shut down: the stuck plugin would hold a shutdown.
        drop(pipeline);
    }
}

/// What a stuck plugin owes is what its mailbox holds, the message in its
/// hands and at most one waiting for room: unplugged, it leaves a dead
/// letter for each, and no more. The count does not depend on where a
/// pipeline counts a frame as taken, so a mailbox one place longer than
/// configured (`mailbox_capacity + 1`, or `.max(1) + 1`) shows here. Six
/// plugins that keep up are plugged beside it: messages waiting for room
/// are one for the stuck plugin, not one for each plugin plugged.
#[tokio::test]
async fn a_stuck_plugin_owes_no_more_than_its_mailbox_and_a_message_in_each_hand() {
    const FRAMES: u32 = 60;
    for mailbox in [1, 4] {
        let pipeline = start(stuck_config(2, mailbox)).await;
        for _ in 0..6 {
            plug(&pipeline, Recorder::new("quick").0).await;
        }
        let (stuck, _) = Stuck::start(&pipeline, 2, mailbox, 3, FRAMES).await;
        assert_eq!(super::unplug(&pipeline, "stuck").await, 1);
        let summary = until(&pipeline, "every frame to be published", |s| {
            s.published == u64::from(FRAMES)
        })
        .await;
        let owed = summary.dead_letters.len();
        assert!(
            (mailbox..=mailbox + 2).contains(&owed),
            "a stuck plugin with a mailbox of {mailbox}, next to six that keep up, unplugged \
             once the pipeline was quiet, owed {owed} messages: its mailbox, the message in its \
             hands and at most one waiting for room make {mailbox} to {}",
            mailbox + 2
        );
        drop(stuck);
        drop(pipeline);
    }
}

/// A subscriber's channel holds what it is configured to hold: for a
/// subscriber that reads nothing, a channel of 2 takes more snapshots than
/// a channel of 1, all else the same. (Not exactly one more: what the gRPC
/// stream pulls from the channel into its window depends on how many are
/// ready at once.) A floor of the pipeline's own (a channel of at least 4)
/// takes as many with 1 as with 2, and the wait for more stalls.
#[tokio::test]
async fn one_place_more_in_a_subscriber_s_channel_holds_more() {
    const FRAME: usize = 16 * 1024;
    let with_channel = |channel: usize| {
        let mut config = config();
        config.subscriber_capacity = channel;
        config
    };
    let base = {
        let pipeline = start(with_channel(1)).await;
        let _silent = subscribe_with_small_window(&pipeline).await;
        let _client = send_frames(&pipeline, 9, 60, FRAME);
        until(&pipeline, "a frame to be published", |s| s.published > 0).await;
        quiet(&pipeline).await.published
    };
    let pipeline = start(with_channel(2)).await;
    let _silent = subscribe_with_small_window(&pipeline).await;
    let _client = send_frames(&pipeline, 9, 60, FRAME);
    until(
        &pipeline,
        &format!(
            "more than the {base} snapshots published to a subscriber that reads nothing with a \
             channel of 1, with a channel of 2 (a floor of your own under a small channel?)"
        ),
        |s| s.published > base,
    )
    .await;
}

/// A queue, a mailbox and a subscriber channel of 0 are taken as 1, not as
/// "no bound" (tokio has no channel of 0): a stuck plugin holds the
/// pipeline as it does with a queue and a mailbox of 1, and once it goes on
/// every frame arrives.
#[tokio::test]
async fn a_queue_and_a_mailbox_of_0_are_taken_as_1() {
    const FRAMES: u32 = 200;
    // What a queue and a mailbox of 1 hold, with the plugin stuck.
    let ones = {
        let pipeline = start(stuck_config(1, 1)).await;
        let (_stuck, held) = Stuck::start(&pipeline, 1, 1, 3, FRAMES).await;
        held.frames_in
    };
    let mut config = config();
    config.ingest_capacity = 0;
    config.mailbox_capacity = 0;
    config.subscriber_capacity = 0;
    let pipeline = start(config).await;
    let (stuck, held) = Stuck::start(&pipeline, 1, 1, 3, FRAMES).await;
    stuck.assert_held(
        &held,
        "with a queue and a mailbox of 0 (taken as 1), once quiet",
    );
    // Exactly as much: a 0 is a 1, not a 1 added to every size (a queue
    // of `capacity + 1` holds one frame more than it is told to).
    assert_eq!(
        held.frames_in, ones,
        "with its only plugin stuck, a queue and a mailbox of 0 let {} frames be taken, and \
         a queue and a mailbox of 1 let {ones}: a 0 is taken as 1, and a 1 as 1",
        held.frames_in
    );
    let seen = stuck.let_go(&pipeline).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        FRAMES as usize,
        "each handled once"
    );
}
