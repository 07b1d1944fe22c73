//! The queue between a subscription's worker and its client, checked on the
//! stream `Feed::subscribe` returns, with paused time: it holds at most the
//! feed's capacity of snapshots, and the status that ends a stream waits
//! in it for a late client like the records before it.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use lesson::{Feed, Snapshot};
use lesson_support::{ReaderProbe, ScriptedReader, Then, settle, within};
use tokio::time::{Duration, sleep};
use tonic::{Code, Status};

use super::{Devices, Upstream, assert_in_order, record, records_upstream, subscribe_directly};

/// A client subscribed to `sensor` (records of 8 bytes) on a feed of
/// `capacity`, that then reads nothing for a while: the feed (kept alive),
/// the upstream's probe and the unread stream.
async fn a_client_that_reads_nothing(
    sensor: Upstream,
    capacity: usize,
) -> (
    impl Sized,
    Arc<ReaderProbe>,
    impl Stream<Item = Result<Snapshot, Status>>,
) {
    let probe = sensor.probe();
    let feed = Devices::default()
        .with("sensor", sensor)
        .feed(8)
        .with_capacity(capacity);
    let stream = subscribe_directly(&feed, "sensor")
        .await
        .expect("a known device");
    settle().await; // the client reads nothing for a while
    (feed, probe, stream)
}

/// Reads `stream` to its end: 500 snapshots of 8 bytes, each once, in
/// order, and no error.
async fn all_500_in_order(stream: impl Stream<Item = Result<Snapshot, Status>>) {
    let items: Vec<_> = within("the stream to end", stream.collect()).await;
    let snapshots: Vec<_> = items
        .into_iter()
        .map(|item| item.expect("no error was scripted"))
        .collect();
    assert_eq!(snapshots.len(), 500, "every record, once");
    assert_in_order(&snapshots, 8);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_reads_nothing_gets_at_most_the_capacity_read_for_it() {
    // 1 is the smallest capacity `with_capacity` takes: a channel of at least
    // 2, "one slot for the status at the end", reads one more for it.
    for capacity in [1, 3, 40] {
        let sensor = records_upstream(500, 8, Then::Eof);
        let (_feed, probe, stream) = a_client_that_reads_nothing(sensor, capacity).await;

        // `capacity` snapshots queued, and the one the worker holds, waiting
        // for room: no more (a channel of `capacity + 1` reads one more).
        let allowed = capacity + 1;
        let read = probe.chunks_delivered();
        assert!(
            read <= allowed,
            "with a capacity of {capacity}, the feed read {read} records for a \
             client that read none (at most {allowed}): is `with_capacity` obeyed?",
        );

        // A week later (paused time), the bound still holds, and reading
        // again lets it go on: nothing was lost meanwhile, and a slow client
        // is not a gone one, however long it waits (a week, not an hour: a
        // `send_timeout` of two hours would take it for one).
        sleep(Duration::from_secs(7 * 24 * 3600)).await;
        let read = probe.chunks_delivered();
        assert!(
            read <= allowed,
            "with a capacity of {capacity}, the feed read {read} records for a \
             client that read none for a week (at most {allowed})",
        );
        all_500_in_order(stream).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_holds_the_capacity_in_records_however_they_were_read() {
    // 500 records of 8 bytes, ten to a read: the capacity counts
    // snapshots, not reads, and a queue slot holds one of them.
    const PER_READ: usize = 10;
    for capacity in [3, 40] {
        let chunks = (0..50).map(|c| {
            (0..PER_READ)
                .flat_map(|i| record(c * PER_READ + i, 8))
                .collect::<Vec<u8>>()
        });
        let sensor = Upstream::new(ScriptedReader::new(chunks, Then::Eof));
        let (_feed, probe, stream) = a_client_that_reads_nothing(sensor, capacity).await;

        // `capacity` snapshots queued, and the rest of the last read in the
        // worker's buffer: no more (a queue of batches, one per read, holds
        // `capacity` reads).
        let allowed = capacity + PER_READ;
        let read = probe.chunks_delivered() * PER_READ;
        assert!(
            read <= allowed,
            "with a capacity of {capacity}, the feed read {read} records, \
             {PER_READ} a read, for a client that read none (at most \
             {allowed}): does a queue slot hold more than one snapshot?",
        );
        all_500_in_order(stream).await;
    }
}

#[tokio::test(start_paused = true)]
async fn unavailable_waits_for_a_late_client_in_a_full_queue() {
    // Three records fill a queue of one, then the upstream fails.
    let feed = Devices::default()
        .with("sensor", records_upstream(3, 16, Then::Fail))
        .feed(16)
        .with_capacity(1);
    let status = status_after_three_records(&feed).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test(start_paused = true)]
async fn data_loss_waits_for_a_late_client_in_a_full_queue() {
    // Three records fill a queue of one, then 10 bytes of a fourth, then the end.
    let mut input: Vec<u8> = (0..3).flat_map(|n| record(n, 16)).collect();
    input.extend_from_slice(&record(3, 16)[..10]);
    let upstream = Upstream::new(ScriptedReader::new([input], Then::Eof));
    let feed = Devices::default()
        .with("sensor", upstream)
        .feed(16)
        .with_capacity(1);
    let status = status_after_three_records(&feed).await;
    assert_eq!(status.code(), Code::DataLoss, "{status:?}");
}

/// What a late client gets after three records: the status that ends the
/// stream, which must wait for room like the records did.
async fn status_after_three_records<F: Feed>(feed: &F) -> Status {
    let items = late_client(feed).await;
    assert_eq!(
        items.len(),
        4,
        "three records, then the status; a status sent with `try_send` into a \
         full queue is lost: {items:?}"
    );
    let last = items.into_iter().nth(3).expect("four items");
    last.expect_err("the status is the last item")
}

/// Subscribes to "sensor", waits 50 ms (the worker fills the queue and
/// reaches the end of the upstream meanwhile), then reads everything.
async fn late_client<F: Feed>(feed: &F) -> Vec<Result<Snapshot, Status>> {
    let stream = subscribe_directly(feed, "sensor")
        .await
        .expect("a known device");
    sleep(Duration::from_millis(50)).await;
    let items: Vec<_> = within("the stream to end", stream.take(1_000).collect()).await;
    for (n, item) in items.iter().take(3).enumerate() {
        let snapshot = item.as_ref().expect("three records before the status");
        assert_eq!(snapshot.seq, n as u64);
        assert!(snapshot.payload[..] == record(n, 16)[..]);
    }
    items
}
