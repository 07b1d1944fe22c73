// Lesson 06. The other way out of E0038: make the trait itself
// dyn-compatible, with a boxed future. Now every plugin must be written
// against that signature; one written with `async fn`, as plugin authors
// (and this lesson's checks) write them, is E0053: its future is not the
// `Pin<Box<dyn Future>>` the trait asks for.

// ANCHOR: case
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

pub struct Message {
    pub seq: u64,
    pub payload: Bytes,
}

pub trait Plugin: Send + 'static {
    fn handle(&mut self, msg: Message) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

pub struct Counter {
    seen: u64,
}

impl Plugin for Counter {
    async fn handle(&mut self, msg: Message) {
        self.seen = msg.seq;
    }
}
// ANCHOR_END: case

fn main() {}
