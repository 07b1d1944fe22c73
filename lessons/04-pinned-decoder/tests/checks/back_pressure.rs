//! The decoder reads only when its consumer asks for a frame, and only as
//! much as that frame needs; dropping the stream drops the reader.

use futures::StreamExt;
use lesson::FrameReader;
use lesson_support::{ScriptedReader, Then, settle, within};

use super::encode;

#[tokio::test(start_paused = true)]
async fn nothing_is_read_until_the_consumer_asks() {
    let payloads: Vec<String> = (0..50).map(|n| format!("frame {n}")).collect();
    // The first read brings two frames, each later one one frame.
    let mut chunks: Vec<Vec<u8>> = vec![encode(&payloads[..2])];
    chunks.extend(payloads[2..].iter().map(|p| encode(&[p])));
    let (reader, probe) = ScriptedReader::new(chunks, Then::Eof);

    let mut stream = Box::pin(FrameReader::new(reader));
    settle().await;
    assert_eq!(probe.chunks_delivered(), 0, "read before anyone asked");

    for expected in &payloads[..3] {
        let frame = within("the next frame", stream.next()).await;
        assert_eq!(frame.unwrap().unwrap(), expected.as_bytes());
    }
    settle().await;
    assert!(
        probe.chunks_delivered() <= 2,
        "three frames were asked for and {} reads made (the first read brought \
         two frames, each later one one): a decoder reads when polled, only \
         when no whole frame is buffered, as much as the frame needs, not \
         everything that is there, nor the next frame ahead of time",
        probe.chunks_delivered()
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_drops_the_reader() {
    // A peer that sends one frame and then says nothing, ever.
    let (reader, probe) = ScriptedReader::new([encode(&["hello"])], Then::Hang);
    let mut stream = Box::pin(FrameReader::new(reader));
    within("the first frame", stream.next()).await;

    drop(stream);

    assert!(probe.dropped(), "the stream is gone but its reader is not");
}
