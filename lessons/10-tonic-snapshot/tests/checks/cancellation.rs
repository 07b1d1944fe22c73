//! Dropping the response stream stops the worker within one read: tonic
//! drops it when the client goes away, and the worker's next `send` fails
//! (or `closed()` completes). Checked without a network, on the stream
//! `Feed::subscribe` returns, with paused time, as in lesson 03.

use futures::StreamExt;
use lesson_support::{Then, alive_tasks, settle, within};

use super::{Devices, records_upstream, subscribe_directly};

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
