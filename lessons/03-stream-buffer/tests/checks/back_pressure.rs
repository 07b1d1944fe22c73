//! A stalled consumer stalls the session: after `capacity` waiting responses
//! the worker stops reading, so memory stays bounded whatever the peer sends.

use futures::StreamExt;
use lesson::Session;
use lesson_support::{ScriptedReader, Then, settle, within};

use super::{drain, payloads};

#[tokio::test(start_paused = true)]
async fn a_stalled_consumer_stops_the_reading() {
    const CAPACITY: usize = 4;
    const LINES: usize = 200;
    let lines: Vec<String> = (0..LINES).map(|n| format!("line {n}\n")).collect();
    let (reader, probe) = ScriptedReader::new(&lines, Then::Eof);

    let mut stream = Box::pin(Session::new(reader).into_stream(CAPACITY));
    settle().await; // the consumer reads nothing for a while
    // ... for ten minutes of paused time, even: a slow consumer is not a
    // gone one, and the session has no timer that would give up on it.
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;

    // CAPACITY responses queued and one waiting to be sent; a queue one
    // longer than asked holds one more.
    let allowed = CAPACITY + 1;
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

#[tokio::test(start_paused = true)]
async fn a_capacity_of_zero_holds_one_response() {
    // `capacity` is at least 1: asking for 0 gets a queue of one, not a
    // panic (tokio's `mpsc::channel(0)` panics).
    let lines: Vec<String> = (0..20).map(|n| format!("{n}\n")).collect();
    let (reader, probe) = ScriptedReader::new(&lines, Then::Eof);

    let stream = Session::new(reader).into_stream(0);
    settle().await;
    assert!(
        probe.chunks_delivered() <= 2,
        "a capacity of 0 read {} lines ahead of a consumer that reads nothing: \
         it holds one response",
        probe.chunks_delivered()
    );

    let items = drain(stream).await;
    let expected: Vec<String> = (0..20).map(|n| n.to_string()).collect();
    assert_eq!(payloads(&items), expected);
}
