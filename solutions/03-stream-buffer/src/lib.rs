//! # Lesson 03, reference solution: a worker owns the buffer
//!
//! The session's buffer has one owner, a worker task. Consumers never borrow
//! it: each response is cut off the front of the buffer as a `Bytes`, an
//! owned, reference-counted view of the same memory the connection was read
//! into. A line that arrives in one read is never copied again; only the
//! unfinished tail of a read may be moved, by `reserve`, when the buffer is
//! full (see `run`). The stream that carries the responses owns everything
//! it holds, so it is `Send + 'static`.
#![forbid(unsafe_code)]

use std::io;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// How many bytes the session's buffer holds. 16 KiB means few reads, and,
/// while snapshots still share the buffer, one new allocation per 16 KiB
/// rather than per few lines (see `run`).
const READ_SIZE: usize = 16 * 1024;

/// The least room a read is given. Less than `READ_SIZE`: the room left
/// shrinks with every line cut off the front, and asking for a whole
/// buffer's worth before each read would mean a new buffer for every read
/// while snapshots share the old one, that is for every line on a
/// connection that sends one line at a time (see `run`).
const MIN_READ: usize = 4 * 1024;

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
    /// How much of `buf` is known to hold no `\n`: each byte is searched
    /// once (with `memchr`, many bytes at a time), however many reads a long
    /// line takes to arrive.
    searched: usize,
}

// ANCHOR: into_stream
// `R: 'static` means "the reader holds no borrows": the task below owns it,
// and a reader that borrowed (say, a `&mut TcpStream`) could die under it.
impl<R> Session<R>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    pub fn new(reader: R) -> Self {
        Session {
            reader,
            buf: BytesMut::with_capacity(READ_SIZE),
            next_seq: 0,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
            searched: 0,
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
    /// a slow consumer; a `capacity` of 0 counts as 1 (tokio's
    /// `mpsc::channel` panics on 0).
    pub fn into_stream(
        self,
        capacity: usize,
    ) -> impl Stream<Item = io::Result<Snapshot>> + Send + 'static {
        // Bounded: when the consumer stalls, `send` waits, the worker stops
        // reading, and the connection's own flow control pushes back.
        let (tx, rx) = mpsc::channel(capacity.max(1));
        // `run` takes `self` by value: the task owns the session outright.
        tokio::spawn(self.run(tx));
        ReceiverStream::new(rx)
    }
    // ANCHOR_END: into_stream

    // ANCHOR: worker
    /// The worker: reads, cuts lines, sends them, until the input ends, the
    /// read fails or the consumer goes away.
    async fn run(mut self, tx: mpsc::Sender<io::Result<Snapshot>>) {
        loop {
            loop {
                let snapshot = match self.next_line() {
                    Ok(Some(snapshot)) => snapshot,
                    Ok(None) => break,
                    Err(too_long) => {
                        let _ = tx.send(Err(too_long)).await;
                        return;
                    }
                };
                if tx.send(Ok(snapshot)).await.is_err() {
                    return; // the stream was dropped
                }
            }
            // Room for a large read; without it `read_buf` asks for only 64
            // bytes once the buffer is full. While `MIN_READ` bytes are free,
            // `reserve` does nothing. The one place bytes are copied after
            // the read, and never bytes a snapshot holds: out of room,
            // `reserve` copies the unfinished line at the end into a new
            // allocation (of `READ_SIZE` at least, the buffer's first
            // capacity) if a snapshot still shares this one; if none does,
            // it moves that line to the front, or grows the allocation
            // (which may move all it holds).
            self.buf.reserve(MIN_READ);
            let read = tokio::select! {
                read = self.reader.read_buf(&mut self.buf) => read,
                // A silent connection must not keep the worker (and the
                // connection) alive after the consumer is gone.
                () = tx.closed() => return,
            };
            match read {
                Ok(0) => {
                    // The last line has no `\n`; `next_line` has already
                    // refused it if it was too long.
                    if !self.buf.is_empty() {
                        let rest = self.buf.split().freeze();
                        let last = self.snapshot(rest);
                        let _ = tx.send(Ok(last)).await;
                    }
                    return;
                }
                Ok(_) => {}
                Err(error) => {
                    let _ = tx.send(Err(error)).await;
                    return;
                }
            }
        }
    }

    // ANCHOR_END: worker

    // ANCHOR: next_line
    /// Cuts the first complete line off the buffer, without copying it:
    /// `split_to` + `freeze` turn the front of the `BytesMut` into a `Bytes`
    /// that shares the allocation, and `truncate` drops the `\n` from the view.
    /// Fails when the line is, or has grown, longer than the limit.
    fn next_line(&mut self) -> io::Result<Option<Snapshot>> {
        let unsearched = &self.buf[self.searched..];
        let Some(found) = memchr::memchr(b'\n', unsearched) else {
            self.searched = self.buf.len();
            if self.buf.len() > self.max_line_length {
                return Err(self.too_long());
            }
            return Ok(None);
        };
        let newline = self.searched + found;
        self.searched = 0;
        if newline > self.max_line_length {
            return Err(self.too_long());
        }
        let mut line = self.buf.split_to(newline + 1).freeze();
        line.truncate(newline);
        Ok(Some(self.snapshot(line)))
    }

    fn too_long(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a line is longer than {} bytes", self.max_line_length),
        )
    }
    // ANCHOR_END: next_line

    fn snapshot(&mut self, payload: Bytes) -> Snapshot {
        let seq = self.next_seq;
        self.next_seq += 1;
        Snapshot { seq, payload }
    }
}
