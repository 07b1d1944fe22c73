// Lesson 03, edition 2021. The items are owned `Bytes`, yet the stream itself
// still borrows `self.buf` to produce them. The elided lifetime of `&self`
// does not appear in `impl Stream<Item = Bytes>`, so 2021 refuses to capture
// it: E0700, with a hint to add `+ use<'_>`.
use bytes::Bytes;
use futures::stream::{self, Stream};

pub struct Session {
    buf: Vec<u8>,
}

impl Session {
    pub fn chunks(&self, size: usize) -> impl Stream<Item = Bytes> {
        stream::iter(self.buf.chunks(size).map(Bytes::copy_from_slice))
    }
}

fn main() {}
