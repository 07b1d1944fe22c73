//! Every line arrives, once, in order, numbered from 0; then the stream ends.

use std::io::ErrorKind;
use std::time::Duration;

use futures::StreamExt;
use lesson::Session;
use lesson_support::{ScriptedReader, Then, within};
use tokio::io::AsyncWriteExt;

use super::{drain, payloads, three_lines_then_an_error_for_a_late_consumer};

#[tokio::test(start_paused = true)]
async fn lines_arrive_in_order_and_complete() {
    // Lines cut across reads, as a real connection delivers them; two
    // sessions one after the other, each numbering its own responses. A
    // line is every byte before its `\n`: a `\r` there is the line's too.
    // The read that ends "gamm" also brings a line shorter than "gamm": a
    // search for the next `\n` that resumes where the last one stopped
    // must start again at the front once a line is cut off.
    for session in ["the first", "a second"] {
        let chunks = ["al", "pha\nbe", "ta\r\n", "\n", "gamm", "a\n\ndelta"];
        let (reader, _probe) = ScriptedReader::new(chunks, Then::Eof);

        let items = drain(Session::new(reader).into_stream(4)).await;

        assert_eq!(
            payloads(&items),
            ["alpha", "beta\r", "", "gamma", "", "delta"]
        );
        let seqs: Vec<u64> = items
            .iter()
            .map(|item| item.as_ref().unwrap().seq)
            .collect();
        assert_eq!(
            seqs,
            [0, 1, 2, 3, 4, 5],
            "seq numbers count {session} session's responses from 0"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn lines_arrive_whole_when_the_connection_pauses_inside_them() {
    // The connection is not ready, once, at each of these offsets: inside
    // "alpha", "beta", "gamma" and the unterminated "delta", between two
    // lines, and at the very end. A read there is `Pending` (the reader
    // wakes its task, as a socket does when bytes come); the rest follows.
    let text = "alpha\nbeta\ngamma\n\ndelta";
    let pauses = [2, 6, 8, 13, 17, 20, text.len()];
    let (reader, _probe) = ScriptedReader::new([text], Then::Eof);

    let items = drain(Session::new(reader.pausing_at(pauses)).into_stream(4)).await;

    assert_eq!(
        payloads(&items),
        ["alpha", "beta", "gamma", "", "delta"],
        "a connection that is not ready is not a connection that ended"
    );
    let seqs: Vec<u64> = items
        .iter()
        .map(|item| item.as_ref().unwrap().seq)
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_pause_of_minutes_inside_a_line_loses_nothing() {
    // The peer stops for ten minutes in the middle of a line, then goes on.
    // The session has no timeout of its own: a slow peer is not a dead one.
    let (mut peer, connection) = tokio::io::duplex(64);
    let mut stream = Box::pin(Session::new(connection).into_stream(4));
    peer.write_all(b"alpha\nbe").await.unwrap();
    let first = within("the first line", stream.next()).await;
    assert_eq!(payloads(&[first.expect("a line")]), ["alpha"]);
    tokio::time::sleep(Duration::from_secs(600)).await;
    peer.write_all(b"ta\n").await.expect(
        "the session closed the connection during ten minutes of silence: \
         a slow peer is not a dead one, and the session has no timeout",
    );
    drop(peer);

    let rest = drain(stream).await;

    assert_eq!(
        payloads(&rest),
        ["beta"],
        "ten minutes of silence inside a line is a pause, not an error"
    );
}

#[tokio::test(start_paused = true)]
async fn stream_ends_when_the_connection_ends() {
    let (reader, _probe) = ScriptedReader::new(["one\n"], Then::Eof);
    let mut stream = Box::pin(Session::new(reader).into_stream(4));

    let first = within("the first line", stream.next()).await;
    assert_eq!(
        &first.expect("one line").expect("no error").payload[..],
        b"one"
    );
    let end = within("the end of the stream", stream.next()).await;
    assert!(end.is_none(), "the connection ended, so must the stream");
}

#[tokio::test(start_paused = true)]
async fn read_error_reaches_the_consumer_after_the_lines_before_it() {
    // The error cuts a third line short: half a line is not a response
    // (only the connection's end makes a line without `\n` one). The
    // connection fails once, then ends, as a socket does after a reset: a
    // read tried again after the error finds a clean end, and the error is
    // lost (there are no retries in this lesson: an error ends the stream).
    // Whatever its kind: std's read loops (`read_exact`, `read_to_end`)
    // retry `Interrupted`, and `WouldBlock` means "not ready" on a
    // non-blocking std socket, but an `AsyncRead` that is not ready returns
    // `Pending`, and one that returns either error has chosen to report it.
    // `UnexpectedEof` is an error too, not the connection's end (that is a
    // read of 0 bytes): the half line it cut short is no last line. And
    // `TimedOut` is not a slow peer to wait for again: a reader that times
    // out has given up, and the session has no timer of its own.
    for kind in [
        ErrorKind::ConnectionReset,
        ErrorKind::Interrupted,
        ErrorKind::WouldBlock,
        ErrorKind::UnexpectedEof,
        ErrorKind::TimedOut,
    ] {
        let (reader, _probe) = ScriptedReader::new(["a\nb\n", "unfin"], Then::FailOnce(kind));

        let items = drain(Session::new(reader).into_stream(4)).await;

        assert_eq!(
            items.len(),
            3,
            "two lines, then the {kind:?} error, and not the unfinished line: {items:?}"
        );
        assert_eq!(payloads(&items[..2]), ["a", "b"]);
        let error = items[2]
            .as_ref()
            .expect_err("the read error is the last item");
        assert_eq!(error.kind(), kind);
    }
}

#[tokio::test(start_paused = true)]
async fn read_error_waits_for_a_late_consumer_in_a_full_queue() {
    // Three lines fill a queue of one, then the connection fails: the error
    // must wait for room like the lines did, not be dropped when there is none.
    let (reader, _probe) = ScriptedReader::new(["a\nb\nc\n"], Then::Fail);
    let stream = Session::new(reader).into_stream(1);
    let error = three_lines_then_an_error_for_a_late_consumer(stream).await;
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
}
