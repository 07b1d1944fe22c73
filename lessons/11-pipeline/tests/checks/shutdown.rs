//! A shutdown finishes what the pipeline took, ends every subscriber's
//! stream cleanly, and closes the doors. Dropping the pipeline stops it at
//! once, and closes the doors too.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tonic::Streaming;

use lesson::Snapshot;

use super::{
    Gated, Look, Recorder, all_taken, assert_complete_and_in_order, closed_by_server, config,
    connect_ingest, frame, ids, origin, plug, quiet, receive, send_frames, start, subscribe,
    subscribe_with_small_window, unplug, until, watched, wire,
};

#[tokio::test]
async fn shutdown_finishes_every_frame_taken_and_ends_the_streams() {
    const FRAMES: u32 = 300;
    let mut config = config();
    config.mailbox_capacity = 512;
    // Room for one snapshot: the last frames wait for room at the
    // subscriber while the shutdown drains.
    config.subscriber_capacity = 1;
    let pipeline = start(config).await;
    let (slow, gate, handled) = Gated::new("slow");
    plug(&pipeline, slow).await;
    let mut stream = subscribe(&pipeline).await;
    all_taken(&pipeline, 1, FRAMES, 40).await;

    // The plugin has handled nothing yet; it gets going during the shutdown.
    let shutdown = tokio::spawn(pipeline.shutdown());
    tokio::task::yield_now().await;
    gate.add_permits(FRAMES as usize);
    // The pipeline is the shutdown's now: what moves is what the plugin
    // handles.
    let summary = watched(Look::Handled(&handled), "the shutdown to finish", shutdown)
        .await
        .expect("shutdown does not panic");

    assert_eq!(summary.frames_in, u64::from(FRAMES));
    assert_eq!(
        summary.published,
        u64::from(FRAMES),
        "every frame taken is finished"
    );
    assert_eq!(handled.lock().unwrap().len(), FRAMES as usize);
    let snapshots = receive(Look::Nothing, &mut stream, FRAMES as usize).await;
    assert_complete_and_in_order(&snapshots, &[(1, FRAMES)]);
    let end = watched(Look::Nothing, "the stream to end", stream.message()).await;
    assert!(
        matches!(end, Ok(None)),
        "after a shutdown the stream ends cleanly, after the last frame: {end:?}"
    );
}

#[tokio::test]
async fn shutdown_finishes_the_frames_waiting_in_the_queue_too() {
    // Large frames to a subscriber that reads nothing, whose channel holds
    // one: the pipeline stops publishing, the queue fills, and the client
    // waits with more to send.
    const FRAME: usize = 16 * 1024;
    let mut config = config();
    config.subscriber_capacity = 1;
    config.ingest_capacity = 8;
    let pipeline = start(config).await;
    // A plugin that handles at once: the drain hands it what waited in the
    // queue, like any frame taken.
    let (audit, audited) = Recorder::new("audit");
    plug(&pipeline, audit).await;
    let mut stream = subscribe_with_small_window(&pipeline).await;
    let mut client = connect_ingest(&pipeline).await;
    const FRAMES: u32 = 100;
    let bytes = wire((0..FRAMES).map(|n| frame(4, n, FRAME)));
    // The pipeline closes this client at the shutdown, mid-write.
    tokio::spawn(async move { client.write_all(&bytes).await });
    until(&pipeline, "a frame to be published", |s| s.published > 0).await;
    let held = quiet(&pipeline).await;
    assert!(
        held.frames_in > held.published + 1,
        "frames taken wait in the queue: {held:?}"
    );

    let shutdown = tokio::spawn(pipeline.shutdown());
    let snapshots = to_its_end(&mut stream, FRAMES).await;
    let summary = watched(Look::Nothing, "the shutdown to finish", shutdown)
        .await
        .expect("shutdown does not panic");
    // A frame may be counted when it is read, before the queue has it: the
    // client's one connection task may hold one such frame at the shutdown.
    assert!(
        summary.published + 1 >= summary.frames_in,
        "every frame taken is finished, those still in the queue at the shutdown too: \
         {} taken, {} published",
        summary.frames_in,
        summary.published
    );
    let sent: Vec<u32> = snapshots.iter().map(|s| origin(&s.payload).1).collect();
    assert_eq!(
        sent,
        (0..summary.published as u32).collect::<Vec<_>>(),
        "the subscriber gets every frame taken, in order"
    );
    assert_eq!(
        ids(&audited),
        (0..summary.published).collect::<Vec<_>>(),
        "every frame the shutdown finished was handed to the plugin first, those that waited \
         in the queue too"
    );
}

#[tokio::test]
async fn shutdown_closes_the_connections_and_the_ports() {
    let pipeline = start(config()).await;
    let ingest = pipeline.ingest_addr();
    let feed = pipeline.feed_addr();
    let mut stream = subscribe(&pipeline).await;
    let mut open = connect_ingest(&pipeline).await;
    let client = send_frames(&pipeline, 2, 10, 16);
    receive(&pipeline, &mut stream, 10).await;
    watched(Look::Pipeline(&pipeline), "the client to finish", client)
        .await
        .unwrap();

    // Nothing is left to do: a shutdown that does not end has stopped.
    let summary = watched(Look::Nothing, "the shutdown", pipeline.shutdown()).await;
    // Stopped by the time `shutdown` returns, not soon after: a connection
    // made at once, before this task lets any other run, is refused.
    assert!(
        std::net::TcpStream::connect(feed).is_err(),
        "the feed port still takes connections when `shutdown` has returned: the server \
         was told to stop, and not waited for"
    );
    assert_eq!(summary.published, 10);
    watched(
        Look::Nothing,
        "the open connection to be closed",
        closed_by_server(&mut open),
    )
    .await;
    let refused = tokio::net::TcpStream::connect(ingest).await;
    assert!(
        refused.is_err(),
        "after a shutdown the ingest port takes no connection"
    );
    let end = watched(Look::Nothing, "the stream to end", stream.message()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test]
async fn dropping_the_pipeline_stops_it_without_waiting_and_closes_its_ports() {
    let before = lesson_support::alive_tasks();
    let pipeline = start(config()).await;
    let (ingest, feed) = (pipeline.ingest_addr(), pipeline.feed_addr());
    // Two plugins that never finish, with frames they owe; one of them is
    // unplugged before the drop, and must not live on either.
    let (stuck, _gate, _) = Gated::new("stuck");
    let (unplugged, _other_gate, _) = Gated::new("unplugged");
    plug(&pipeline, stuck).await;
    plug(&pipeline, unplugged).await;
    all_taken(&pipeline, 3, 20, 16).await;
    assert_eq!(unplug(&pipeline, "unplugged").await, 1);

    drop(pipeline);
    // Nothing is left to do: every task the pipeline started ends, the
    // stuck plugins' too (the one unplugged before), and the ports close.
    watched(Look::Nothing, "the pipeline's tasks to end", async {
        while lesson_support::alive_tasks() > before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    for (port, addr) in [("ingest", ingest), ("feed", feed)] {
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the {port} port still takes connections after the pipeline was dropped"
        );
    }
}

#[tokio::test]
async fn shutdown_hands_the_plugins_what_waited_for_room_in_their_mailboxes() {
    // A stuck plugin with a mailbox of 2: the loop holds a message for it
    // that waits for room, and the queue (4) is full behind it.
    const FRAMES: u32 = 40;
    let mut config = config();
    config.ingest_capacity = 4;
    config.mailbox_capacity = 2;
    let pipeline = start(config).await;
    let (stuck, held) = super::Stuck::start(&pipeline, 4, 2, 5, FRAMES).await;
    stuck.assert_held(&held, "before the shutdown");
    let super::Stuck {
        gate,
        seen,
        mut stream,
        ..
    } = stuck;

    let ingest = pipeline.ingest_addr();
    let shutdown = tokio::spawn(pipeline.shutdown());
    // While the drain waits for the stuck plugin, the shutdown has stopped
    // taking connections: the ingest port refuses them. (An acceptor left
    // running until the drain ends takes connections whose frames go
    // nowhere.)
    let what = "the ingest port to refuse connections while the shutdown waits for a stuck plugin";
    watched(Look::Handled(&seen), what, async {
        while TcpStream::connect(ingest).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    // The plugin goes on during the shutdown, and handles what it owes,
    // the message that waited for room in its mailbox too.
    gate.add_permits(FRAMES as usize);
    let summary = watched(Look::Handled(&seen), "the shutdown to finish", shutdown)
        .await
        .expect("shutdown does not panic");
    assert!(
        summary.dead_letters.is_empty(),
        "nothing failed and nothing was unplugged: {:?}",
        summary.dead_letters
    );
    // A frame may be counted when it is read, before the queue has it.
    assert!(
        summary.published + 1 >= summary.frames_in && summary.published >= held.frames_in - 1,
        "every frame taken is finished: {} taken, {} published",
        summary.frames_in,
        summary.published
    );
    assert_eq!(
        ids(&seen),
        (0..summary.published).collect::<Vec<_>>(),
        "every frame published was handled by the plugin first, the one that waited for room \
         in its mailbox at the shutdown too"
    );
    let snapshots = to_its_end(&mut stream, FRAMES).await;
    assert_eq!(snapshots.len() as u64, summary.published);
    assert_complete_and_in_order(&snapshots, &[(5, summary.published as u32)]);
}

/// Every snapshot of `stream` until it ends, which it does cleanly. A
/// pipeline that sends a frame twice may never end the stream: the reading
/// stops once there are more snapshots than the `frames` sent.
async fn to_its_end(stream: &mut Streaming<Snapshot>, frames: u32) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    while let Some(snapshot) = watched(Look::Nothing, "the next snapshot", stream.message())
        .await
        .expect("the stream ends cleanly")
    {
        snapshots.push(snapshot);
        assert!(
            snapshots.len() <= frames as usize,
            "more snapshots than the {frames} frames sent: a frame was published twice"
        );
    }
    snapshots
}
