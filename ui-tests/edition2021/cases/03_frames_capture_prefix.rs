// Lesson 03, edition 2021. A session lends out the lines of its buffer that
// start with `prefix`. The stream borrows `self` (named 'buf) and, through the
// filter closure, `prefix` (an unnamed lifetime). Under 2021 an `impl Trait`
// return type captures only the lifetimes that appear in it, so the second
// borrow is hidden: E0700.

// ANCHOR: case
use futures::stream::{self, Stream};

pub struct Session {
    buf: Vec<u8>,
}

impl Session {
    pub fn frames<'buf>(&'buf self, prefix: &[u8]) -> impl Stream<Item = &'buf [u8]> {
        let lines = self.buf.split(|byte| *byte == b'\n');
        stream::iter(lines.filter(move |line| line.starts_with(prefix)))
    }
}
// ANCHOR_END: case

fn main() {}
