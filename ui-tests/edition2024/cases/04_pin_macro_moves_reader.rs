// Lesson 04. Following rustc's help for E0599: `pin!` the reader. `pin!`
// takes its argument by value, so this moves the reader out of a struct we
// only borrow (through `Pin<&mut Self>`), which is refused. Were it allowed,
// each poll would pin a fresh copy in a local and lose it on return.

// ANCHOR: case
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

pub struct Frames<R> {
    reader: R,
}

impl<R: AsyncRead> Frames<R> {
    pub fn poll_fill(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let mut chunk = [0_u8; 64];
        let mut buf = ReadBuf::new(&mut chunk);
        let _ = pin!(self.reader).poll_read(cx, &mut buf);
        Poll::Ready(buf.filled().len())
    }
}
// ANCHOR_END: case

fn main() {}
