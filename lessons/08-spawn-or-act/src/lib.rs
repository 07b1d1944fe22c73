//! # Lesson 08: when to spawn, when to loop, when to act
//!
//! Three jobs of the plugin pipeline's front door:
//!
//! - `serve` handles a stream of requests: each one's work (which may ask
//!   another service) says what it amounts to, the amount is added to its
//!   topic's running total, and the request is answered.
//! - `Tally` keeps those totals, for as long as anyone holds a handle.
//! - `run_connection` reads one connection's frames and sends them on in
//!   batches, one batch every `flush_every`.
//!
//! This code compiles, and it is wrong. Run `cargo test` in this folder:
//! the checks in `tests/` fail, and each one's name and message say which
//! promise is broken. The chapter is `book/src/08-spawn-or-act.md`; `cargo
//! run -- hint 08` at the root gives one hint at a time.
//!
//! Lesson 04's reference decoder is a dependency of this crate:
//! `solution_04_pinned_decoder::FrameReader` is there for you to use.
//!
//! Keep the public API (`Request`, `Reply`, `Tally::new`, `Tally::add`,
//! `Tally::total`, `serve`, `run_connection`, `FrameError`): the checks use
//! it. Change everything else.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use solution_04_pinned_decoder::DEFAULT_MAX_FRAME_LENGTH;
pub use solution_04_pinned_decoder::FrameError;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{Mutex, mpsc};

/// One request: its id, and the topic its amount is counted under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: u64,
    pub topic: u32,
}

/// The answer to one request: what its work came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub id: u64,
    pub amount: u64,
}

// ANCHOR: tally
/// The running total of every topic. Clones are handles to the same tally.
#[derive(Clone)]
pub struct Tally {
    totals: Arc<Mutex<HashMap<u32, u64>>>,
}

impl Tally {
    /// A new tally, made inside a tokio runtime. At most `mailbox_capacity`
    /// commands may wait for the tally; a caller beyond that waits in `add`
    /// or `total` until there is room.
    pub fn new(mailbox_capacity: usize) -> Tally {
        Tally {
            totals: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Adds `amount` to the total of `topic`.
    pub async fn add(&self, topic: u32, amount: u64) {
        *self.totals.lock().await.entry(topic).or_default() += amount;
    }

    /// The total of `topic`, counting every `add` that returned before this
    /// call.
    pub async fn total(&self, topic: u32) -> u64 {
        self.totals.lock().await.get(&topic).copied().unwrap_or(0)
    }
}
// ANCHOR_END: tally

// ANCHOR: serve
/// Handles every request of `requests`: `work` says what a request amounts
/// to, the amount is added to the request's topic in `tally`, and the
/// request is answered.
///
/// At most `max_in_flight` requests are worked on at once, and a request is
/// taken from `requests` only when there is room for it. The replies come
/// in any order.
pub async fn serve<S, W, Fut>(
    requests: S,
    tally: &Tally,
    max_in_flight: usize,
    mut work: W,
) -> Vec<Reply>
where
    S: Stream<Item = Request>,
    W: FnMut(Request) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let mut requests = pin!(requests);
    // Requests are independent: one task each, and they all run at once.
    let mut tasks = Vec::new();
    while let Some(request) = requests.next().await {
        let job = work(request);
        let totals = Arc::clone(&tally.totals);
        tasks.push(tokio::spawn(async move {
            // Hold the lock for the whole request, so that nobody sees a
            // total that is about to change.
            let mut totals = totals.lock().await;
            let amount = job.await;
            *totals.entry(request.topic).or_default() += amount;
            Reply {
                id: request.id,
                amount,
            }
        }));
    }
    let mut replies = Vec::with_capacity(tasks.len());
    for task in tasks {
        replies.push(task.await.expect("a request's task panicked"));
    }
    replies
}
// ANCHOR_END: serve

// ANCHOR: run_connection
/// One connection's loop: reads length-prefixed frames (a big-endian `u32`
/// length, then the payload) from `reader`, and sends them on in batches:
/// every `flush_every`, the frames that arrived since the last flush go to
/// `batches` together.
///
/// Returns when the input ends (`Ok`) or fails (the error), after sending
/// the frames read before that; or, `Ok`, when nobody receives batches.
pub async fn run_connection<R: AsyncRead>(
    reader: R,
    flush_every: Duration,
    batches: mpsc::Sender<Vec<Bytes>>,
) -> Result<(), FrameError> {
    let mut reader = pin!(reader);
    let mut flush = tokio::time::interval(flush_every);
    let mut batch = Vec::new();
    let end = loop {
        tokio::select! {
            frame = read_frame(&mut reader) => match frame {
                Ok(Some(frame)) => batch.push(frame),
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            },
            _ = flush.tick() => {
                if !batch.is_empty() && batches.send(std::mem::take(&mut batch)).await.is_err() {
                    return Ok(()); // nobody receives batches any more
                }
            }
        }
    };
    if !batch.is_empty() {
        let _ = batches.send(batch).await;
    }
    end
}

/// Reads one frame: its 4-byte length, then its payload. `None` when the
/// input ends before a frame starts.
async fn read_frame<R: AsyncRead>(reader: &mut Pin<&mut R>) -> Result<Option<Bytes>, FrameError> {
    let mut length = [0_u8; 4];
    match reader.read_exact(&mut length).await {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(FrameError::Io(error)),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > DEFAULT_MAX_FRAME_LENGTH {
        let max = DEFAULT_MAX_FRAME_LENGTH;
        return Err(FrameError::TooLong { length, max });
    }
    let mut payload = vec![0_u8; length];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(FrameError::Io)?;
    Ok(Some(Bytes::from(payload)))
}
// ANCHOR_END: run_connection
