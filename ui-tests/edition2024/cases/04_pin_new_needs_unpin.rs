// Lesson 04. The second attempt: pin the field for the call with `Pin::new`.
// `Pin::new` only accepts a pointer to an `Unpin` type (pinning something
// that may be moved later promises nothing), and `R` may not be `Unpin`:
// E0277, and rustc's help is to demand `R: Unpin`.

// ANCHOR: case
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

pub struct Frames<R> {
    reader: R,
    read: usize,
}

impl<R: AsyncRead> Frames<R> {
    pub fn poll_fill(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let mut chunk = [0_u8; 64];
        let mut buf = ReadBuf::new(&mut chunk);
        let _ = Pin::new(&mut self.reader).poll_read(cx, &mut buf);
        self.read += buf.filled().len();
        Poll::Ready(self.read)
    }
}
// ANCHOR_END: case

fn main() {}
