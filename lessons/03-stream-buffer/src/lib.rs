//! # Lesson 03: a stream cannot lend out its own buffer
//!
//! A `Session` reads newline-delimited responses from a connection into one
//! buffer, and `into_stream` hands them to whoever serves them: a gRPC or
//! GraphQL server that will spawn the stream, or box it as
//! `BoxStream<'static, _>`. So the stream must be `Send + 'static`.
//!
//! This code does not compile. Run `cargo test` in this folder and read the
//! errors; the chapter is `book/src/03-stream-buffer.md`, and `cargo run --
//! hint 03` at the root gives one hint at a time. When it compiles, the checks
//! in `tests/` say what a good session must also promise: lines handed out
//! without copying them, a bounded queue, a bounded line length, and a worker
//! that stops when nobody listens any more.
//!
//! Change the insides as you like; keep the public API (`Snapshot`,
//! `Session::new`, `Session::with_max_line_length`, `Session::into_stream`,
//! `DEFAULT_MAX_LINE_LENGTH`), which is what the checks use.
#![forbid(unsafe_code)]

use std::io;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// How many bytes the session asks the connection for at a time.
const READ_SIZE: usize = 4096;

/// The longest line a session accepts unless told otherwise, without its
/// `\n`. A peer that never sends a newline would otherwise make the buffer
/// grow without limit.
pub const DEFAULT_MAX_LINE_LENGTH: usize = 64 * 1024;

/// One response of the session: a line of the connection, without its `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The position of the response in the session, from 0.
    pub seq: u64,
    /// The line's bytes.
    pub payload: Bytes,
}

/// A session on one connection: it reads into `buf` and cuts it into lines.
/// A last line without a `\n` is a response too.
pub struct Session<R> {
    reader: R,
    buf: BytesMut,
    next_seq: u64,
    max_line_length: usize,
}

impl<R> Session<R>
where
    R: AsyncRead + Unpin + Send,
{
    pub fn new(reader: R) -> Self {
        Session {
            reader,
            buf: BytesMut::with_capacity(READ_SIZE),
            next_seq: 0,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
        }
    }

    /// Refuses lines longer than `max` bytes (without their `\n`): the
    /// stream yields an `InvalidData` error and ends.
    pub fn with_max_line_length(mut self, max: usize) -> Self {
        self.max_line_length = max;
        self
    }

    /// The session's responses, in order, then the read error if there is
    /// one. At most `capacity` (at least 1) responses wait in the stream for
    /// a slow consumer.
    pub fn into_stream(
        mut self,
        capacity: usize,
    ) -> impl Stream<Item = io::Result<Snapshot>> + Send + 'static {
        let (tx, rx) = mpsc::channel(capacity);
        tokio::spawn(self.pump(tx));
        ReceiverStream::new(rx)
    }

    /// Reads the connection and sends every complete line down `tx`.
    async fn pump(&mut self, tx: mpsc::Sender<io::Result<Snapshot>>) {
        loop {
            let read = self.reader.read_buf(&mut self.buf).await;
            let at_end = matches!(read, Ok(0));
            // The lines borrow `self.buf`, and a channel item cannot borrow,
            // so each one is copied out (the seed text's fix does the same).
            let mut lines: Vec<Bytes> = self.complete_lines().map(Bytes::copy_from_slice).collect();
            let used: usize = lines.iter().map(|line| line.len() + 1).sum();
            let _ = self.buf.split_to(used);
            let longest = lines.iter().map(Bytes::len).max().unwrap_or(0);
            if longest.max(self.buf.len()) > self.max_line_length {
                let message = format!("a line is longer than {} bytes", self.max_line_length);
                let _ = tx
                    .send(Err(io::Error::new(io::ErrorKind::InvalidData, message)))
                    .await;
                return;
            }
            if at_end && !self.buf.is_empty() {
                lines.push(Bytes::copy_from_slice(&self.buf));
                self.buf.clear();
            }
            for payload in lines {
                let snapshot = Snapshot {
                    seq: self.next_seq,
                    payload,
                };
                self.next_seq += 1;
                if tx.send(Ok(snapshot)).await.is_err() {
                    return;
                }
            }
            match read {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) => {
                    let _ = tx.send(Err(error)).await;
                    return;
                }
            }
        }
    }

    /// The complete lines in the buffer, lent out as slices of it.
    fn complete_lines(&self) -> impl Iterator<Item = &[u8]> {
        let end = self
            .buf
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |last| last + 1);
        self.buf[..end]
            .split_inclusive(|byte| *byte == b'\n')
            .map(|line| &line[..line.len() - 1])
    }
}
