//! Over a real server and client: every record arrives, once, in order,
//! numbered from 0, then the stream ends as the upstream did: cleanly, with
//! `Unavailable` when reading it failed, with `DataLoss` when it stopped
//! inside a record. A device nobody knows is refused with `NotFound`.
//! The last four checks take the stream `Feed::subscribe` returns, without
//! a network, with paused time: a read error of any kind, a device
//! subscribed to twice, records longer than a read, and a silence of a
//! week.

use std::io;

use futures::StreamExt;
use lesson_support::{ScriptedReader, Then, within};
use tokio::time::{Duration, sleep, timeout};
use tonic::Code;

use lesson::SnapshotFeed;

use super::{
    Devices, Upstream, assert_in_order, connect, drain, record, records_upstream, serve, subscribe,
    subscribe_directly,
};

#[tokio::test]
async fn every_record_arrives_in_order_over_a_real_server() {
    const RECORDS: usize = 1_000;
    const LEN: usize = 100;
    // The records cut into reads of every size, as a real connection
    // delivers them: most records arrive in two or more reads.
    let input: Vec<u8> = (0..RECORDS).flat_map(|n| record(n, LEN)).collect();
    let sizes = [1, 7, 100, 333, 4096, 5];
    let mut chunks = Vec::new();
    let mut rest = &input[..];
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, after) = rest.split_at((*size).min(rest.len()));
        chunks.push(chunk);
        rest = after;
    }
    let upstream = Upstream::new(ScriptedReader::new(chunks, Then::Eof));
    let served = serve(Devices::default().with("sensor", upstream).feed(LEN)).await;
    let mut client = connect(&served).await;

    let mut stream = subscribe(&mut client, "sensor")
        .await
        .expect("a known device");
    let (snapshots, end) = drain(&mut stream).await;

    assert_eq!(snapshots.len(), RECORDS, "every record, once");
    assert_in_order(&snapshots, LEN);
    assert!(
        end.is_ok(),
        "the upstream ended cleanly, so must the stream: {end:?}"
    );
}

#[tokio::test]
async fn a_failing_upstream_ends_the_stream_with_unavailable_after_the_records_before_it() {
    let upstream = super::records_upstream(3, 16, Then::Fail);
    let served = serve(Devices::default().with("sensor", upstream).feed(16)).await;
    let mut client = connect(&served).await;

    let mut stream = subscribe(&mut client, "sensor")
        .await
        .expect("a known device");
    let (snapshots, end) = drain(&mut stream).await;

    assert_eq!(snapshots.len(), 3, "the three records before the failure");
    assert_in_order(&snapshots, 16);
    let status = end.expect_err("a failed read is an error, not a clean end");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn an_upstream_that_stops_inside_a_record_ends_the_stream_with_data_loss() {
    // Two records of 16 bytes, then 10 bytes of a third, then the end.
    let mut input: Vec<u8> = (0..2).flat_map(|n| record(n, 16)).collect();
    input.extend_from_slice(&record(2, 16)[..10]);
    let upstream = Upstream::new(ScriptedReader::new([input], Then::Eof));
    let served = serve(Devices::default().with("sensor", upstream).feed(16)).await;
    let mut client = connect(&served).await;

    let mut stream = subscribe(&mut client, "sensor")
        .await
        .expect("a known device");
    let (snapshots, end) = drain(&mut stream).await;

    assert_eq!(snapshots.len(), 2, "the two whole records");
    assert_in_order(&snapshots, 16);
    let status = end.expect_err("a record cut short is an error, not a clean end");
    assert_eq!(status.code(), Code::DataLoss, "{status:?}");
    // The status says how many bytes are missing, in whatever words: 6 is
    // one of the numbers in it (a number of its own, not the end of 16).
    let numbers: Vec<&str> = status
        .message()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|number| !number.is_empty())
        .collect();
    assert!(
        numbers.contains(&"6"),
        "the status says how much of the record is missing (6 bytes): {:?}",
        status.message()
    );
}

#[tokio::test]
async fn an_unknown_device_is_refused_with_not_found() {
    let served = serve(Devices::default().feed(16)).await;
    let mut client = connect(&served).await;

    let refused = subscribe(&mut client, "nobody").await;

    let status = refused.expect_err("no device is named \"nobody\"");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test(start_paused = true)]
async fn a_read_error_of_any_kind_ends_the_stream_with_unavailable() {
    // Each upstream fails once, then reports its end, as a socket does after
    // a reset: the error is the end, whatever its kind (`Interrupted` too:
    // nothing here asks for a retry), and trying again would only find a
    // clean end that hides it. The device answers every `connect` with a
    // fresh upstream: connecting again after the error would start its
    // records over, in the same stream. The error comes between records,
    // and inside one: a read that failed is `Unavailable` either way, not
    // a record cut short (`DataLoss` is for an upstream that ended).
    for kind in [
        io::ErrorKind::ConnectionReset,
        // Sounds like the device hanging up, and is still a read that
        // failed: no clean end.
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::TimedOut,
        io::ErrorKind::Interrupted,
        // An `AsyncRead` that is not ready says `Pending`; one that returns
        // `WouldBlock` has failed, and trying again finds only its end.
        io::ErrorKind::WouldBlock,
        // Kinds that sound like a record cut short, and are still a read
        // that failed, not an upstream that ended.
        io::ErrorKind::UnexpectedEof,
        io::ErrorKind::InvalidData,
        io::ErrorKind::Other,
    ] {
        for inside_a_record in [false, true] {
            let feed = SnapshotFeed::new(16, move |_: &str| {
                let mut chunks: Vec<Vec<u8>> = (0..3).map(|n| record(n, 16)).collect();
                if inside_a_record {
                    chunks.push(record(3, 16)[..10].to_vec());
                }
                Some(Upstream::new(ScriptedReader::new(
                    chunks,
                    Then::FailOnce(kind),
                )))
            });
            let stream = subscribe_directly(&feed, "sensor")
                .await
                .expect("a known device");
            let items: Vec<_> = within("the stream to end", stream.take(1_000).collect()).await;

            let snapshots: Vec<_> = items
                .iter()
                .take(3)
                .filter_map(|item| item.clone().ok())
                .collect();
            assert_eq!(
                snapshots.len(),
                3,
                "the three records before the {kind:?} error: {items:?}"
            );
            assert_in_order(&snapshots, 16);
            assert_eq!(
                items.len(),
                4,
                "three records, then the status, and nothing after it (no second \
                 try, no second connection, no clean end) after a {kind:?} error \
                 (inside a record: {inside_a_record}): {items:?}"
            );
            let status = items[3]
                .clone()
                .expect_err("the read failed: the stream ends with an error");
            assert_eq!(
                status.code(),
                Code::Unavailable,
                "a read that failed with {kind:?} (inside a record: \
                 {inside_a_record}) is Unavailable: {status:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_device_subscribed_to_again_is_numbered_from_0_again() {
    // A client that calls again (after an end, or to retry) gets a new
    // subscription: its records are numbered from 0, whatever the device's
    // name, and nothing of the first subscription carries over, not even
    // the 10 bytes of the record it was cut short in.
    let devices = Devices::default();
    let feed = devices.feed(16);
    for call in ["first", "second"] {
        let mut chunks: Vec<Vec<u8>> = (0..3).map(|n| record(n, 16)).collect();
        chunks.push(record(3, 16)[..10].to_vec());
        let upstream = Upstream::new(ScriptedReader::new(chunks, Then::Eof));
        let _ = devices.clone().with("sensor", upstream);
        let stream = subscribe_directly(&feed, "sensor")
            .await
            .expect("a known device");
        let items: Vec<_> = within("the stream to end", stream.take(10).collect()).await;
        assert_eq!(
            items.len(),
            4,
            "{call} subscription: three records, then the status: {items:?}"
        );
        let snapshots: Vec<_> = items[..3]
            .iter()
            .map(|item| item.clone().expect("three whole records"))
            .collect();
        assert_in_order(&snapshots, 16);
        let status = items[3]
            .clone()
            .expect_err("the last record was cut short: the stream ends with an error");
        assert_eq!(
            status.code(),
            Code::DataLoss,
            "{call} subscription: {status:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_longer_than_any_read_arrives_whole() {
    // Three records of 200,000 bytes, each ready at once: more than ten
    // times what a feed asks for in one read. The buffer grows to hold a
    // record; one that does not grow fills up, reads 0 bytes, and takes
    // that for the end.
    const LEN: usize = 200_000;
    let sensor = records_upstream(3, LEN, Then::Eof);
    let feed = Devices::default().with("sensor", sensor).feed(LEN);
    let stream = subscribe_directly(&feed, "sensor")
        .await
        .expect("a known device");
    let items: Vec<_> = within("the stream to end", stream.take(10).collect()).await;
    let snapshots: Vec<_> = items
        .into_iter()
        .map(|item| item.expect("three whole records, then a clean end"))
        .collect();
    assert_eq!(snapshots.len(), 3, "every record, once");
    assert_in_order(&snapshots, LEN);
}

#[tokio::test(start_paused = true)]
async fn an_upstream_silent_for_a_week_keeps_the_stream_open() {
    // Two records, then nothing: a silent device has not ended, nor failed.
    // A week, not an hour: an idle timeout of two hours (TCP keepalive's
    // default) would take it for a dead one too. Silent between records,
    // and silent in the middle of one: half a record that waits for a week
    // has not been cut short either.
    for tail in [0, 8] {
        let mut chunks: Vec<Vec<u8>> = (0..2).map(|n| record(n, 16)).collect();
        if tail > 0 {
            chunks.push(record(2, 16)[..tail].to_vec());
        }
        let sensor = Upstream::new(ScriptedReader::new(chunks, Then::Hang));
        let probe = sensor.probe();
        let feed = Devices::default().with("sensor", sensor).feed(16);
        let stream = subscribe_directly(&feed, "sensor")
            .await
            .expect("a known device");
        let mut stream = Box::pin(stream);
        for n in 0..2 {
            let snapshot = within("a record", stream.next()).await;
            let snapshot = snapshot.expect("a record").expect("no error");
            assert_eq!(snapshot.seq, n);
        }

        // A week of paused time passes at once.
        sleep(Duration::from_secs(7 * 24 * 3600)).await;
        let after_a_week = timeout(Duration::from_secs(1), stream.next()).await;
        assert!(
            after_a_week.is_err(),
            "the upstream is silent, not ended, with {tail} bytes of a record in \
             hand, yet after a week the stream gave {after_a_week:?}: the stream \
             ends as the upstream does, and a silence is not an end"
        );
        assert!(
            !probe.dropped(),
            "the upstream was let go while its stream was open"
        );
    }
}
