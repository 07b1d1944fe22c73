//! The stream owns what it yields and what it holds: it can be moved into a
//! task, boxed as `BoxStream<'static, _>`, and outlived by its snapshots.

use std::io;

use futures::StreamExt;
use futures::stream::BoxStream;
use lesson::{Session, Snapshot};
use lesson_support::{ScriptedReader, Then, within};

use super::payloads;

#[tokio::test(start_paused = true)]
async fn the_stream_can_be_boxed_and_spawned() {
    let (reader, _probe) = ScriptedReader::new(["x\ny\n"], Then::Eof);

    // What gRPC and GraphQL servers ask of a response stream.
    let boxed: BoxStream<'static, io::Result<Snapshot>> =
        Session::new(reader).into_stream(4).boxed();
    let task = tokio::spawn(boxed.collect::<Vec<_>>());
    let items = within("the spawned consumer", task)
        .await
        .expect("consumer task panicked");

    assert_eq!(payloads(&items), ["x", "y"]);
}

#[tokio::test(start_paused = true)]
async fn snapshots_outlive_the_session() {
    let (reader, _probe) = ScriptedReader::new(["kept\n", "too\n"], Then::Eof);
    let mut stream = Box::pin(Session::new(reader).into_stream(4));
    let first = within("the first line", stream.next())
        .await
        .unwrap()
        .unwrap();
    let second = within("the second line", stream.next())
        .await
        .unwrap()
        .unwrap();
    drop(stream);

    assert_eq!(
        (&first.payload[..], &second.payload[..]),
        (&b"kept"[..], &b"too"[..])
    );
}
