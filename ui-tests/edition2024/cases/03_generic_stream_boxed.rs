// Lesson 03, edition 2024. A helper that boxes any stream for a server. The
// box is `'static`, but `S` might be a type that borrows (a stream over
// `&Session`, say), and nothing in the signature rules that out: E0310.
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};

pub fn into_response<S>(stream: S) -> BoxStream<'static, Bytes>
where
    S: Stream<Item = Bytes> + Send,
{
    stream.boxed()
}

fn main() {}
