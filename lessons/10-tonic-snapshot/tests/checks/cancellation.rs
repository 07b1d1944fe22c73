//! Dropping the response stream stops the worker within one read: tonic
//! drops it when the client goes away, and the worker's next `send` fails
//! (or `closed()` completes). Checked without a network, on the stream
//! `Feed::subscribe` returns, with paused time, as in lesson 03.

use futures::StreamExt;
use lesson::SnapshotFeed;
use lesson_support::{
    ScriptedReader, Then, alive_tasks, count_allocations, paused_runtime, settle, within,
};

use super::{Devices, Upstream, record, records_upstream, subscribe_directly};

#[tokio::test(start_paused = true)]
async fn dropping_the_response_stream_stops_the_worker_within_one_read() {
    let tasks_before = alive_tasks();
    let sensor = records_upstream(100, 8, Then::Eof);
    let probe = sensor.probe();
    let feed = Devices::default()
        .with("sensor", sensor)
        .feed(8)
        .with_capacity(2);

    let stream = subscribe_directly(&feed, "sensor")
        .await
        .expect("a known device");
    let mut stream = Box::pin(stream);
    within("the first snapshot", stream.next()).await;
    settle().await; // the worker fills the channel and waits
    let read_before = probe.chunks_delivered();
    drop(stream);
    settle().await;

    assert!(
        probe.dropped(),
        "the response stream is gone but the upstream is still open"
    );
    assert!(
        probe.chunks_delivered() <= read_before + 1,
        "the response stream is gone, yet the worker read {} more records: \
         a failed `send` means nobody listens, so stop",
        probe.chunks_delivered() - read_before,
    );
    assert_eq!(
        alive_tasks(),
        tasks_before,
        "a task outlived the response stream"
    );
}

/// Heap bytes still live after `count` subscriptions of one record each
/// have ended, counted while the feed that served them is alive. They end
/// in turn in each of the four ways a subscription ends: cleanly, with a
/// read error, cut short inside a record, and dropped by the client while
/// the device is silent.
fn live_bytes_after(count: usize) -> i64 {
    let runtime = paused_runtime();
    // Every subscription gets an upstream of its own, dropped when it ends;
    // device `sensor {n}` ends in way `n % 4`.
    let feed = SnapshotFeed::new(8, |name: &str| {
        let n: usize = name["sensor ".len()..].parse().expect("sensor {n}");
        Some(match n % 4 {
            0 => records_upstream(1, 8, Then::Eof),
            1 => records_upstream(1, 8, Then::Fail),
            2 => Upstream::new(ScriptedReader::new(
                [record(0, 8), record(1, 8)[..3].to_vec()],
                Then::Eof,
            )),
            _ => records_upstream(1, 8, Then::Hang),
        })
    });
    let ((), counted) = count_allocations(|| {
        runtime.block_on(async {
            for n in 0..count {
                // A device name of its own each time: what a feed keeps per
                // name asked for (a registry of devices) adds up too.
                let stream = subscribe_directly(&feed, &format!("sensor {n}"))
                    .await
                    .expect("every device is known");
                let mut stream = Box::pin(stream);
                let first = within("the first record", stream.next()).await;
                assert!(matches!(first, Some(Ok(_))), "one record first: {first:?}");
                if n % 4 == 3 {
                    // The client leaves; the device is silent.
                    drop(stream);
                    continue;
                }
                let rest: Vec<_> = within("the stream to end", stream.take(10).collect()).await;
                let expected = if n % 4 == 0 { 0 } else { 1 };
                assert_eq!(
                    rest.len(),
                    expected,
                    "after the record, the end (and for device {n} a status): {rest:?}"
                );
            }
            settle().await;
        })
    });
    counted.bytes_current
}

#[test]
fn finished_subscriptions_leave_nothing_behind_in_a_live_feed() {
    // A server lives for months: what a feed keeps for each subscription
    // (its worker's `JoinHandle`, which also keeps the finished task's
    // memory, or the device name it asked for) must go when the
    // subscription ends, however it ends.
    const FEW: usize = 100;
    let few = live_bytes_after(FEW);
    let many = live_bytes_after(10 * FEW);
    assert!(
        many <= few + 1024,
        "{few} bytes stay live after {FEW} finished subscriptions, {many} after \
         {}: the feed keeps something for every subscription it has served",
        10 * FEW,
    );
}
