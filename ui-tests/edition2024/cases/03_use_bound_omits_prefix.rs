// Lesson 03, edition 2024. Under 2024 an `impl Trait` return type captures
// every lifetime in scope, so the 2021 version of this code compiles. Spelling
// out the captures with `use<'buf>` brings E0700 back: the stream also holds
// the `prefix` borrow, which the list leaves out.

// ANCHOR: case
use futures::stream::{self, Stream};

pub struct Session {
    buf: Vec<u8>,
}

impl Session {
    pub fn frames<'buf>(&'buf self, prefix: &[u8]) -> impl Stream<Item = &'buf [u8]> + use<'buf> {
        let lines = self.buf.split(|byte| *byte == b'\n');
        stream::iter(lines.filter(move |line| line.starts_with(prefix)))
    }
}
// ANCHOR_END: case

fn main() {}
