//! Dropping the stream ends the session: the worker stops, the connection is
//! closed, no task is left behind. Whether the worker is waiting on the
//! consumer or on a silent connection.

use futures::StreamExt;
use lesson::Session;
use lesson_support::{ScriptedReader, Then, alive_tasks, settle, within};

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_stops_a_worker_blocked_on_sending() {
    let tasks_before = alive_tasks();
    let lines: Vec<String> = (0..100).map(|n| format!("{n}\n")).collect();
    let (reader, probe) = ScriptedReader::new(&lines, Then::Eof);

    let mut stream = Box::pin(Session::new(reader).into_stream(2));
    within("the first line", stream.next()).await;
    settle().await; // the worker fills the queue and waits
    let read_before = probe.chunks_delivered();
    drop(stream);
    settle().await;

    assert!(
        probe.dropped(),
        "the stream is gone but the connection is still open"
    );
    assert!(
        probe.chunks_delivered() <= read_before + 1,
        "the stream is gone, yet the worker read {} more lines: a failed \
         `send` means nobody listens, so stop",
        probe.chunks_delivered() - read_before,
    );
    assert_eq!(alive_tasks(), tasks_before, "a task outlived the stream");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_stops_a_worker_waiting_on_a_silent_connection() {
    let tasks_before = alive_tasks();
    // Two lines and half of a third, then the peer says nothing, ever: the
    // worker waits inside a line, and must still stop.
    let (reader, probe) = ScriptedReader::new(["hello\n", "world\n", "hal"], Then::Hang);

    let mut stream = Box::pin(Session::new(reader).into_stream(4));
    within("the first line", stream.next()).await;
    within("the second line", stream.next()).await;
    drop(stream);
    settle().await;

    assert!(
        probe.dropped(),
        "the stream is gone but the worker still waits on the connection: \
         it must also watch for the consumer leaving (`Sender::closed`)",
    );
    assert_eq!(alive_tasks(), tasks_before, "a task outlived the stream");
}
