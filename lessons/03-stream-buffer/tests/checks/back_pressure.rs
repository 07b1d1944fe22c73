//! A stalled consumer stalls the session: after `capacity` waiting responses
//! the worker stops reading, so memory stays bounded whatever the peer sends.

use futures::StreamExt;
use lesson::Session;
use lesson_support::{ScriptedReader, Then, settle, within};

#[tokio::test(start_paused = true)]
async fn a_stalled_consumer_stops_the_reading() {
    const CAPACITY: usize = 4;
    const LINES: usize = 200;
    let lines: Vec<String> = (0..LINES).map(|n| format!("line {n}\n")).collect();
    let (reader, probe) = ScriptedReader::new(&lines, Then::Eof);

    let mut stream = Box::pin(Session::new(reader).into_stream(CAPACITY));
    settle().await; // the consumer reads nothing for a while

    // CAPACITY responses queued, one waiting to be sent, one read ahead.
    let allowed = CAPACITY + 2;
    assert!(
        probe.chunks_delivered() <= allowed,
        "the session read {} lines while nobody consumed; a bounded session \
         stops after about {allowed}: is the channel unbounded?",
        probe.chunks_delivered(),
    );

    // Reading again lets it go on, and nothing was lost meanwhile.
    let mut received = 0;
    while let Some(item) = within("the next line", stream.next()).await {
        let snapshot = item.expect("no read error was scripted");
        assert_eq!(snapshot.payload, format!("line {received}").as_bytes());
        received += 1;
    }
    assert_eq!(received, LINES);
}
