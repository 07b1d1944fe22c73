// Lesson 03, edition 2024. The shape from the seed text: a stream type that
// owns its buffer and tries to yield items borrowing it. `poll_next` gets a
// short borrow of `self`; the item claims the longer 'buf. rustc 1.95 says
// "lifetime may not live long enough", with no error code at all (the seed
// text claims E0700 and E0310 here; neither is what rustc reports).
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

pub struct CachedResponse<'buf> {
    pub body: &'buf [u8],
}

pub struct SessionStream<'buf> {
    buf: Vec<u8>,
    sent: usize,
    _lends: PhantomData<&'buf [u8]>,
}

impl<'buf> Stream for SessionStream<'buf> {
    type Item = CachedResponse<'buf>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let rest = &this.buf[this.sent..];
        let Some(end) = rest.iter().position(|byte| *byte == b'\n') else {
            return Poll::Ready(None);
        };
        this.sent += end + 1;
        Poll::Ready(Some(CachedResponse { body: &rest[..end] }))
    }
}

fn main() {}
