//! Over a real server and client: every record arrives, once, in order,
//! numbered from 0, then the stream ends as the upstream did: cleanly, with
//! `Unavailable` when reading it failed, with `DataLoss` when it stopped
//! inside a record. A device nobody knows is refused with `NotFound`.

use lesson_support::{ScriptedReader, Then};
use tonic::Code;

use super::{Devices, Upstream, assert_in_order, connect, drain, record, serve, subscribe};

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
    // The number before "bytes missing" is 6, not a number that ends in 6.
    let words: Vec<&str> = status.message().split_whitespace().collect();
    let missing = words
        .windows(3)
        .find(|w| w[1] == "bytes" && w[2].starts_with("missing"))
        .map(|w| w[0]);
    assert_eq!(
        missing,
        Some("6"),
        "the status says how much of the record is missing (\"6 bytes missing\"): {:?}",
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
