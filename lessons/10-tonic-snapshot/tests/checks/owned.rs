//! The response stream owns what it holds: it goes on after the feed that
//! made it is gone, and runs on a task of its own, as tonic runs it.

use futures::StreamExt;
use lesson_support::{Then, within};

use super::{Devices, assert_in_order, records_upstream, subscribe_directly};

#[tokio::test(start_paused = true)]
async fn a_response_stream_outlives_its_feed_on_a_task_of_its_own() {
    let sensor = records_upstream(3, 8, Then::Eof);
    let feed = Devices::default().with("sensor", sensor).feed(8);

    let stream = subscribe_directly(&feed, "sensor")
        .await
        .expect("a known device");
    drop(feed);
    let task = tokio::spawn(stream.collect::<Vec<_>>());
    let items = within("the spawned stream to end", task)
        .await
        .expect("the task did not panic");

    let snapshots: Vec<_> = items
        .into_iter()
        .map(|item| item.expect("no error was scripted"))
        .collect();
    assert_eq!(snapshots.len(), 3);
    assert_in_order(&snapshots, 8);
}
