// Lesson 04. Even a field that has nothing to do with pinning, a counter or
// the buffer, cannot be changed through `Pin<&mut Self>` when `Self` may not
// be `Unpin`: writing through a `Pin` needs `DerefMut`, which `Pin` offers
// only for `Unpin` targets. So the reader is not the only field in the way.

// ANCHOR: case
use std::pin::Pin;

pub struct Frames<R> {
    reader: R,
    read: usize,
}

impl<R> Frames<R> {
    pub fn count(self: Pin<&mut Self>, n: usize) -> usize {
        self.read += n;
        self.read
    }

    pub fn reader(&self) -> &R {
        &self.reader
    }
}
// ANCHOR_END: case

fn main() {}
