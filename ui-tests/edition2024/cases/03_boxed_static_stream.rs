// Lesson 03, edition 2024. The same 2024-compiling `frames`, now handed to an
// API that stores streams as `BoxStream<'static, _>` (as gRPC and GraphQL
// servers do). A `'static` stream cannot borrow a local session: E0597.
use futures::stream::{self, BoxStream, Stream, StreamExt};

pub struct Session {
    buf: Vec<u8>,
}

impl Session {
    pub fn frames(&self) -> impl Stream<Item = &[u8]> + Send {
        stream::iter(self.buf.split(|byte| *byte == b'\n'))
    }
}

pub struct Server {
    streams: Vec<BoxStream<'static, usize>>,
}

impl Server {
    pub fn serve(&mut self) {
        let session = Session { buf: b"ping\npong\n".to_vec() };
        let lengths = session.frames().map(|frame| frame.len());
        self.streams.push(lengths.boxed());
    }
}

fn main() {}
