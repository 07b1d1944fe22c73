//! A line may be at most `max_line_length` bytes long: a peer that never
//! sends a newline gets an error, not all the memory it asks for.

use std::io::ErrorKind;

use futures::StreamExt;
use lesson::{DEFAULT_MAX_LINE_LENGTH, Session};
use lesson_support::{ScriptedReader, Then, count_allocations, paused_runtime, settle, within};

use super::{drain, payloads, three_lines_then_an_error_for_a_late_consumer};

#[test]
fn a_peer_that_never_ends_its_line_gets_an_error_in_bounded_memory() {
    const LIMIT: usize = 16 * 1024;
    // 1 MiB without a newline, then silence: only a limit ends this.
    let chunks = vec![vec![b'x'; 4096]; 256];
    let (reader, probe) = ScriptedReader::new(&chunks, Then::Hang);
    let runtime = paused_runtime();

    let (items, counted) = count_allocations(|| {
        runtime.block_on(async {
            let session = Session::new(reader).with_max_line_length(LIMIT);
            let mut stream = Box::pin(session.into_stream(4));
            let first = within("an error for a line longer than the limit", stream.next()).await;
            let then = within("the end of the stream after the error", stream.next()).await;
            settle().await;
            (first, then)
        })
    });

    let error = match items.0 {
        Some(Err(error)) => error,
        other => panic!("expected an error for a too long line, got {other:?}"),
    };
    assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
    assert!(
        error.to_string().contains(&LIMIT.to_string()),
        "the error names the limit: {error}"
    );
    assert!(items.1.is_none(), "the stream ends after the error");
    assert!(probe.dropped(), "the connection is closed after the error");
    let read = probe.chunks_delivered() * 4096;
    assert!(
        read <= 2 * LIMIT,
        "the session read {read} bytes of one line with a limit of {LIMIT}"
    );
    // Memory stays a few times the limit, not the 1 MiB the peer sends. A
    // read buffer the size of the default limit (64 KiB) is a fair choice,
    // and it is 4 times this limit: the bound leaves room for it.
    assert!(
        counted.bytes_max <= 8 * LIMIT as u64,
        "the session held {} bytes at once for a line limited to {LIMIT}",
        counted.bytes_max
    );
}

#[tokio::test(start_paused = true)]
async fn lines_up_to_the_limit_pass_and_the_default_is_64_kib() {
    assert_eq!(DEFAULT_MAX_LINE_LENGTH, 64 * 1024);
    let exactly = "y".repeat(DEFAULT_MAX_LINE_LENGTH);
    let chunks = [format!("{exactly}\nshort\n"), exactly.clone()];
    let (reader, _probe) = ScriptedReader::new(&chunks, Then::Eof);

    let items = drain(Session::new(reader).into_stream(4)).await;

    assert_eq!(
        payloads(&items),
        [exactly.as_str(), "short", exactly.as_str()]
    );

    // A raised limit is the limit too: the default is no cap of its own.
    let raised = "z".repeat(2 * DEFAULT_MAX_LINE_LENGTH);
    let (reader, _probe) = ScriptedReader::new([format!("{raised}\n")], Then::Eof);
    let session = Session::new(reader).with_max_line_length(raised.len());

    let items = drain(session.into_stream(4)).await;

    assert_eq!(payloads(&items), [raised.as_str()]);
}

#[tokio::test(start_paused = true)]
async fn a_line_one_byte_too_long_is_refused_after_the_lines_before_it() {
    let chunks = ["ok\n", "12345", "6\nnever\n"];
    let (reader, _probe) = ScriptedReader::new(chunks, Then::Eof);

    let items = drain(Session::new(reader).with_max_line_length(5).into_stream(4)).await;

    assert_eq!(items.len(), 2, "one line, then the error: {items:?}");
    assert_eq!(payloads(&items[..1]), ["ok"]);
    let error = items[1].as_ref().expect_err("the second item is the error");
    assert_eq!(error.kind(), ErrorKind::InvalidData);

    // A `\r` is one of the line's bytes, and counts against the limit.
    let (reader, _probe) = ScriptedReader::new(["1234\r\n12345\r\nnever\n"], Then::Eof);

    let items = drain(Session::new(reader).with_max_line_length(5).into_stream(4)).await;

    assert_eq!(items.len(), 2, "one line, then the error: {items:?}");
    assert_eq!(payloads(&items[..1]), ["1234\r"]);
    let error = items[1]
        .as_ref()
        .expect_err("a line of five bytes and a \\r is too long");
    assert_eq!(error.kind(), ErrorKind::InvalidData);
}

#[tokio::test(start_paused = true)]
async fn an_unfinished_line_over_the_limit_is_refused_without_waiting_for_more() {
    // Six bytes of a line limited to five, then silence: the line is too
    // long already, whether or not its newline ever comes, and the buffer
    // has room to spare.
    let (reader, probe) = ScriptedReader::new(["ok\n123456"], Then::Hang);
    let mut stream = Box::pin(Session::new(reader).with_max_line_length(5).into_stream(4));

    let first = within("the line before", stream.next()).await;
    assert_eq!(payloads(&[first.expect("a line")]), ["ok"]);
    match within("the error for the unfinished line", stream.next()).await {
        Some(Err(error)) => assert_eq!(error.kind(), ErrorKind::InvalidData),
        other => panic!("expected the too long error, got {other:?}"),
    }
    let end = within("the end of the stream after the error", stream.next()).await;
    assert!(end.is_none(), "the stream ends after the error");
    settle().await;
    assert!(probe.dropped(), "the connection is closed after the error");
}

#[tokio::test(start_paused = true)]
async fn a_too_long_line_error_waits_for_a_late_consumer_in_a_full_queue() {
    // Three lines fill a queue of one, then comes a line over the limit: its
    // error must wait for room like the lines did.
    let (reader, _probe) = ScriptedReader::new(["a\nb\nc\n123456\n"], Then::Eof);
    let stream = Session::new(reader).with_max_line_length(5).into_stream(1);
    let error = three_lines_then_an_error_for_a_late_consumer(stream).await;
    assert_eq!(error.kind(), ErrorKind::InvalidData);
}

#[tokio::test(start_paused = true)]
async fn a_limit_of_zero_allows_only_empty_lines() {
    let (reader, _probe) = ScriptedReader::new(["\n\nx\nnever\n"], Then::Eof);

    let items = drain(Session::new(reader).with_max_line_length(0).into_stream(4)).await;

    assert_eq!(items.len(), 3, "two empty lines, then the error: {items:?}");
    assert_eq!(payloads(&items[..2]), ["", ""]);
    let error = items[2]
        .as_ref()
        .expect_err("a line of one byte is too long");
    assert_eq!(error.kind(), ErrorKind::InvalidData);
}
