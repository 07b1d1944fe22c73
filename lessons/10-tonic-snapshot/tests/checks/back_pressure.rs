//! A client that stops reading stops the reading: the server holds a
//! bounded number of snapshots for it, however much the upstream has to
//! say. Over a real server and client.

use lesson_support::Then;

use super::{Devices, assert_in_order, connect, drain, next, records_upstream, serve, subscribe};

/// The records of the upstream: 5,000 of 256 bytes, 1.28 MB.
pub const RECORDS: usize = 5_000;
pub const LEN: usize = 256;
/// The feed's channel capacity in these checks.
pub const CAPACITY: usize = 4;

// ANCHOR: bound
/// The most records a feed may read for a client that has stopped reading.
/// What a correct feed holds, at 256 bytes a record (269 on the wire, with
/// the seq and tonic's 5-byte message header): the record the client read,
/// and what its tonic `Streaming` took off the connection with it (one
/// HTTP/2 DATA frame, at most 16 KiB: 61 records); the stream's HTTP/2
/// window, which the client set to 65,535 bytes (243 records), sent or on
/// its way; one body chunk of up to 32 KiB that tonic has encoded and hyper
/// has handed to h2, and one more that hyper holds until the window opens
/// (2 x 122 records); the channel's `CAPACITY`; and the record in the
/// worker's hand. About 560 in all. A feed without back pressure reads all
/// 5,000.
pub const BOUND: usize = 1_000;
// ANCHOR_END: bound

/// How many records a second client reads in full while the first one has
/// stopped: every one of its messages takes the server and both clients
/// through several turns of this runtime, which is time enough for a worker
/// that does not wait for its client to read far past [`BOUND`].
const CLOCK_RECORDS: usize = 1_000;

#[tokio::test]
async fn a_client_that_stops_reading_stops_the_upstream_reads() {
    let sensor = records_upstream(RECORDS, LEN, Then::Eof);
    let probe = sensor.probe();
    let clock = records_upstream(CLOCK_RECORDS, LEN, Then::Eof);
    // One device, two subscriptions: each call gets a subscription, and an
    // upstream, of its own, also while another client follows the device.
    let devices = Devices::default()
        .with("sensor", sensor)
        .with("sensor", clock);
    let served = serve(devices.feed(LEN).with_capacity(CAPACITY)).await;

    let mut slow = connect(&served).await;
    let mut stream = subscribe(&mut slow, "sensor")
        .await
        .expect("a known device");
    let first = next(&mut stream)
        .await
        .expect("no error")
        .expect("a first record");
    assert_eq!(first.seq, 0);

    // The slow client reads nothing more while another one, on its own
    // connection, reads a whole subscription to the same device.
    let mut other = connect(&served).await;
    let mut ticks = subscribe(&mut other, "sensor")
        .await
        .expect("a device followed by another client is followed by this one too");
    let (ticked, end) = drain(&mut ticks).await;
    assert_eq!(
        ticked.len(),
        CLOCK_RECORDS,
        "the other client is not held up"
    );
    assert!(end.is_ok(), "{end:?}");

    let read = probe.chunks_delivered();
    assert!(
        read <= BOUND,
        "the feed read {read} records for a client that had read 1; a feed \
         with back pressure stops at about 560 (at most {BOUND}): is its \
         channel unbounded, or as big as the upstream?",
    );

    // Reading again lets it go on, and nothing was lost meanwhile.
    let (rest, end) = drain(&mut stream).await;
    assert!(end.is_ok(), "{end:?}");
    let mut all = vec![first];
    all.extend(rest);
    assert_eq!(all.len(), RECORDS, "every record, once");
    assert_in_order(&all, LEN);
}
