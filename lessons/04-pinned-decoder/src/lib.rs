//! # Lesson 04: a frame stream over any reader
//!
//! The decode layer of a plugin pipeline: a `Stream` of length-prefixed
//! frames (a `u32` length, big-endian, then that many bytes of payload) read
//! from any `R: AsyncRead`. A library cannot choose its reader: a TLS stream,
//! a decompressor or a `tokio::io::join` of two halves may not be `Unpin`,
//! so `FrameReader` must not ask for `R: Unpin`, and its `poll_next` is
//! written by hand, as a library's is.
//!
//! This code does not compile. Run `cargo test` in this folder and read the
//! errors; the chapter is `book/src/04-pinned-decoder.md`, and `cargo run --
//! hint 04` at the root gives one hint at a time. When it compiles, the
//! checks in `tests/` say what a good decoder must also promise: the same
//! frames however the input is cut into reads, payloads that are the bytes
//! the reader wrote (no copy), clear errors for an oversize frame and for
//! input that ends inside one, nothing read before the consumer asks, and
//! the reader dropped with the stream.
//!
//! Keep the public API (`FrameReader::new`,
//! `FrameReader::with_max_frame_length`, the `Stream` impl, `FrameError`,
//! `DEFAULT_MAX_FRAME_LENGTH`): the checks use it.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncRead, ReadBuf};

/// The longest frame a reader accepts unless told otherwise.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

/// The length prefix: a `u32`, big-endian.
const HEADER_LEN: usize = 4;

/// How many bytes the reader asks for at a time.
const READ_SIZE: usize = 8 * 1024;

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

/// Length-prefixed frames read from `R`, one `Bytes` each.
pub struct FrameReader<R> {
    reader: R,
    buf: BytesMut,
    max_frame_length: usize,
    /// Set once the stream has ended (end of input, or an error).
    done: bool,
}

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

impl<R: AsyncRead> Stream for FrameReader<R> {
    type Item = Result<Bytes, FrameError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            // A whole frame in the buffer: hand it out.
            if self.buf.len() >= HEADER_LEN {
                let length =
                    u32::from_be_bytes(self.buf[..HEADER_LEN].try_into().unwrap()) as usize;
                if length > self.max_frame_length {
                    self.done = true;
                    let max = self.max_frame_length;
                    return Poll::Ready(Some(Err(FrameError::TooLong { length, max })));
                }
                if self.buf.len() >= HEADER_LEN + length {
                    self.buf.advance(HEADER_LEN);
                    let frame = Bytes::copy_from_slice(&self.buf[..length]);
                    self.buf.advance(length);
                    return Poll::Ready(Some(Ok(frame)));
                }
            }
            // Not enough yet: read more.
            let mut chunk = [0_u8; READ_SIZE];
            let mut read = ReadBuf::new(&mut chunk);
            match self.reader.poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(FrameError::Io(error))));
                }
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    self.done = true;
                    if self.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    let missing = missing_bytes(&self.buf);
                    return Poll::Ready(Some(Err(FrameError::Truncated { missing })));
                }
                Poll::Ready(Ok(())) => self.buf.extend_from_slice(read.filled()),
            }
        }
    }
}

/// How many bytes the partial frame at the start of `buf` still lacks.
fn missing_bytes(buf: &[u8]) -> usize {
    if buf.len() < HEADER_LEN {
        return HEADER_LEN - buf.len();
    }
    let length = u32::from_be_bytes(buf[..HEADER_LEN].try_into().unwrap()) as usize;
    HEADER_LEN + length - buf.len()
}
