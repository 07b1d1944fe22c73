//! The reader may be any `AsyncRead`, including one that is not `Unpin`: a
//! library does not get to choose its reader.

use futures::StreamExt;
use lesson::FrameReader;
use lesson_support::{ScriptedReader, Then, within};

use super::{encode, frames};

#[tokio::test(start_paused = true)]
async fn a_reader_that_is_not_unpin_is_accepted() {
    let wire = encode(&["pinned", "", "and read"]);
    let (reader, probe) = ScriptedReader::new(wire.chunks(5), Then::Eof);

    // `Unmovable` is `!Unpin`: a decoder that needs `R: Unpin` does not
    // compile here. `Box::pin` makes the stream itself movable again.
    let stream = Box::pin(FrameReader::new(reader.unmovable()));
    // At most one item more than there are frames: a stream that never
    // ends fails here instead of collecting forever.
    let items: Vec<_> = within("the frames", stream.take(4).collect()).await;

    assert_eq!(frames(&items), [&b"pinned"[..], b"", b"and read"]);
    assert!(probe.dropped(), "the stream is gone, and so is the reader");
}
