// Lesson 04. The natural first `poll_next` over a reader of any type: call
// `poll_read` on the field. But `AsyncRead::poll_read` takes
// `self: Pin<&mut Self>`, and `self.reader` is a plain `R`: E0599, no method
// `poll_read` found for `R`. The help that follows (pin it with `pin!`) is a
// trap: see the chapter.

// ANCHOR: case
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

pub struct Frames<R> {
    reader: R,
    read: usize,
}

impl<R: AsyncRead> Frames<R> {
    pub fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let mut chunk = [0_u8; 64];
        let mut buf = ReadBuf::new(&mut chunk);
        let _ = self.reader.poll_read(cx, &mut buf);
        Poll::Ready(buf.filled().len())
    }
}
// ANCHOR_END: case

fn main() {}
