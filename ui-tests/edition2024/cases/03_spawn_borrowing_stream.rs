// Lesson 03, edition 2024. `frames` compiles here: the 2024 rules let the
// stream capture `&self`. The borrow has not gone away, it has moved to the
// call site. `tokio::spawn` needs a future that owns everything it touches,
// and this one holds a stream that borrows `session`: E0521.

// ANCHOR: case
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use tokio::sync::mpsc;

pub struct Session {
    buf: Vec<u8>,
}

impl Session {
    pub fn frames(&self) -> impl Stream<Item = &[u8]> {
        stream::iter(self.buf.split(|byte| *byte == b'\n'))
    }
}

pub fn forward(session: &Session, tx: mpsc::Sender<Bytes>) {
    let frames = session.frames();
    tokio::spawn(async move {
        let mut frames = std::pin::pin!(frames);
        while let Some(frame) = frames.next().await {
            let _ = tx.send(Bytes::copy_from_slice(frame)).await;
        }
    });
}
// ANCHOR_END: case

fn main() {}
