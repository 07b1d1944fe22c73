//! # Lesson 04, reference solution: structural pinning with `pin-project`
//!
//! `poll_next` gets `Pin<&mut Self>`. The reader is pinned along with the
//! stream (a *structurally pinned* field: `#[pin]`), so it may be any
//! `AsyncRead`, `Unpin` or not; the buffer and the counters are not pinned,
//! so they can be changed freely. `pin-project` writes the projection that
//! splits one `Pin<&mut Self>` into those field references, safely.
//!
//! The bytes are read straight into the `BytesMut` (`poll_read_buf`: no
//! scratch array, no copy), and each frame is cut off its front as a `Bytes`
//! view. All the state is in the struct, so a `next()` that is dropped
//! half-way through a frame loses nothing: the next call goes on from the
//! same buffer.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
use pin_project::pin_project;
use tokio::io::AsyncRead;
use tokio_util::io::poll_read_buf;

/// The longest frame a reader accepts unless told otherwise.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

/// The length prefix: a `u32`, big-endian.
const HEADER_LEN: usize = 4;

/// How many bytes the reader asks for at a time.
const READ_SIZE: usize = 8 * 1024;

/// The least room a read is given before a new buffer is made.
const MIN_READ: usize = 4 * 1024;

/// Why the stream of frames stopped early. After an error the stream ends.
#[derive(Debug)]
pub enum FrameError {
    /// A frame announced more bytes than the limit allows.
    TooLong { length: usize, max: usize },
    /// The input ended inside a frame (or inside its length prefix).
    Truncated { missing: usize },
    /// The reader failed.
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { length, max } => write!(
                f,
                "a frame of {length} bytes is longer than the limit of {max} bytes"
            ),
            FrameError::Truncated { missing } => {
                write!(f, "the input ended inside a frame: {missing} bytes missing")
            }
            FrameError::Io(error) => write!(f, "reading frames failed: {error}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Io(error) => Some(error),
            _ => None,
        }
    }
}

// ANCHOR: frame_reader
/// Length-prefixed frames read from `R`, one `Bytes` each.
#[pin_project]
pub struct FrameReader<R> {
    /// Pinned with the stream: `poll_read` needs `Pin<&mut R>`, and a
    /// pinned field may never be moved out or swapped while the stream lives.
    #[pin]
    reader: R,
    /// Not pinned: a plain `&mut BytesMut` through the projection.
    buf: BytesMut,
    max_frame_length: usize,
    /// Set once the stream has ended (end of input, or an error).
    done: bool,
}
// ANCHOR_END: frame_reader

impl<R: AsyncRead> FrameReader<R> {
    pub fn new(reader: R) -> Self {
        FrameReader {
            reader,
            buf: BytesMut::new(),
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
            done: false,
        }
    }

    /// Refuses frames longer than `max` bytes with `FrameError::TooLong`.
    pub fn with_max_frame_length(mut self, max: usize) -> Self {
        self.max_frame_length = max;
        self
    }
}

// ANCHOR: poll_next
impl<R: AsyncRead> Stream for FrameReader<R> {
    type Item = Result<Bytes, FrameError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // One `Pin<&mut Self>` becomes `Pin<&mut R>` and `&mut` of the rest.
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            // Decode before reading: a frame already in the buffer is handed
            // out without touching the reader (nothing is read ahead).
            match next_frame(this.buf, *this.max_frame_length) {
                Ok(Some(frame)) => return Poll::Ready(Some(Ok(frame))),
                Ok(None) => {}
                Err(error) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
            }
            // Straight into the buffer's spare room: the frame's bytes stay
            // where the reader put them.
            let read = match poll_read_buf(this.reader.as_mut(), cx, this.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(read) => read,
            };
            match read {
                Ok(0) => {
                    *this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(None); // a clean end, between frames
                    }
                    let missing = missing_bytes(this.buf);
                    return Poll::Ready(Some(Err(FrameError::Truncated { missing })));
                }
                Ok(_) => {}
                Err(error) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(FrameError::Io(error))));
                }
            }
        }
    }
}
// ANCHOR_END: poll_next

// ANCHOR: next_frame
/// Cuts the first whole frame off `buf`, if it is there. Makes room for the
/// rest of a partial frame, once its length is known to be allowed.
fn next_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < HEADER_LEN {
        room_for_a_read(buf);
        return Ok(None);
    }
    let length = u32::from_be_bytes(buf[..HEADER_LEN].try_into().unwrap()) as usize;
    // Checked before anything is reserved: an oversize header costs nothing.
    if length > max {
        return Err(FrameError::TooLong { length, max });
    }
    let needed = HEADER_LEN + length;
    if buf.len() < needed {
        // A large frame: room for exactly the rest of it, so it arrives in
        // one allocation of its size (asking for a full read more would
        // regrow it, and copy it, when its last bytes are due). A small
        // one: room for a full read, so small frames come in large reads.
        if needed > READ_SIZE {
            buf.reserve(needed - buf.len());
        } else {
            room_for_a_read(buf);
        }
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    // A view of the buffer: the payload is not copied.
    Ok(Some(buf.split_to(length).freeze()))
}

/// Makes room for a full read, but only once less than `MIN_READ` is free.
/// Asking for `READ_SIZE` before every read would not fit after the first
/// frame is cut off the front, and while the consumer keeps frames that
/// share the buffer, each read would take a new one: a new 8 KiB buffer for
/// each frame of a peer that sends one frame at a time.
fn room_for_a_read(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < MIN_READ {
        buf.reserve(READ_SIZE);
    }
}
// ANCHOR_END: next_frame

/// How many bytes the partial frame at the start of `buf` still lacks.
fn missing_bytes(buf: &[u8]) -> usize {
    if buf.len() < HEADER_LEN {
        return HEADER_LEN - buf.len();
    }
    let length = u32::from_be_bytes(buf[..HEADER_LEN].try_into().unwrap()) as usize;
    HEADER_LEN + length - buf.len()
}
