//! A client that leaves stops the work, over a real server and client:
//! when the client drops its stream (HTTP/2 resets it) or closes its
//! connection, tonic drops the response stream, and the feed's worker must
//! notice and let go of the upstream, whether it is waiting to send or
//! waiting on a silent upstream.

use std::time::Duration;

use lesson_support::Then;

use lesson_support::ScriptedReader;

use super::back_pressure::{BOUND, CAPACITY, LEN, RECORDS};
use super::{
    Devices, Upstream, connect, next, record, records_upstream, serve, subscribe, within_real,
};

/// How long, in real time, a worker on a silent upstream may take to let
/// go of it after its client has left. It takes a few milliseconds.
const LEAVING_PATIENCE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_client_that_drops_its_stream_stops_the_worker() {
    let mut sensor = records_upstream(RECORDS, LEN, Then::Eof);
    let probe = sensor.probe();
    let let_go = sensor.dropped();
    let devices = Devices::default().with("sensor", sensor);
    let served = serve(devices.feed(LEN).with_capacity(CAPACITY)).await;
    let mut client = connect(&served).await;

    let mut stream = subscribe(&mut client, "sensor")
        .await
        .expect("a known device");
    for n in 0..10 {
        let snapshot = next(&mut stream)
            .await
            .expect("no error")
            .expect("a record");
        assert_eq!(snapshot.seq, n);
    }
    // The connection stays open; only this stream is reset.
    drop(stream);

    within_real("the worker to let go of the upstream", let_go).await;
    let read = probe.chunks_delivered();
    assert!(
        read <= 10 + BOUND,
        "the client read 10 records and left, yet the feed read {read} of \
         {RECORDS}: a failed `send` means nobody listens any more, so stop",
    );
    drop(client);
}

#[tokio::test]
async fn a_client_that_disconnects_from_a_silent_upstream_stops_the_worker() {
    // Two records and the first 5 bytes of a third, then the device says
    // nothing, ever: the worker waits in the middle of a record.
    let mut sensor = Upstream::new(ScriptedReader::new(
        [record(0, 16), record(1, 16), record(2, 16)[..5].to_vec()],
        Then::Hang,
    ));
    let let_go = sensor.dropped();
    let served = serve(Devices::default().with("sensor", sensor).feed(16)).await;
    let mut client = connect(&served).await;

    let mut stream = subscribe(&mut client, "sensor")
        .await
        .expect("a known device");
    for n in 0..2 {
        let snapshot = next(&mut stream)
            .await
            .expect("no error")
            .expect("a record");
        assert_eq!(snapshot.seq, n);
    }
    // The client goes away: its stream, then its connection.
    drop(stream);
    drop(client);

    // The server sees the connection close and drops the response stream
    // within milliseconds; a worker that watches for that lets go at once.
    // A worker that does not waits for ever: no need for the full
    // `REAL_PATIENCE` to tell.
    let waited = tokio::time::timeout(LEAVING_PATIENCE, let_go).await;
    assert!(
        waited.is_ok(),
        "the worker still holds the upstream {LEAVING_PATIENCE:?} after the \
         client left; a worker waiting on a silent upstream must also watch \
         for its client leaving (`Sender::closed`), in the middle of a record \
         too",
    );
}
