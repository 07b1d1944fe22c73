//! # Lesson 08, reference solution: spawn, loop or act
//!
//! Three jobs, and for each the tool the seed text's table gives it:
//!
//! - `serve`: requests are independent and short, so each one is a task, in
//!   a `JoinSet` that never holds more than `max_in_flight` of them. The next
//!   request is taken from the source only when there is room for it, so a
//!   flood waits in the source, not in memory.
//! - `Tally`: the totals are long-lived state, so one task owns them (an
//!   actor) and everyone else sends it commands through a bounded mailbox.
//!   Nobody holds a lock, so nobody can hold one across an `.await`; a full
//!   mailbox makes senders wait (back pressure).
//! - `run_connection`: reading frames and flushing batches on a timer must
//!   cooperate over one batch, so they are two branches of one loop
//!   (`select!`), not two tasks sharing it. The frames come from lesson 04's
//!   `FrameReader`, which keeps a half-read frame in its own buffer: a read
//!   that loses the race against the timer loses nothing.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
pub use solution_04_pinned_decoder::FrameError;
use solution_04_pinned_decoder::FrameReader;
use tokio::io::AsyncRead;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};
use tokio::time::MissedTickBehavior;

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
///
/// Long-lived state with one owner: a task (an actor) holds the totals, and
/// handles send it commands through a bounded mailbox. The task ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct Tally {
    mailbox: mpsc::Sender<Command>,
}

/// What a handle asks of the tally's task.
enum Command {
    Add {
        topic: u32,
        amount: u64,
    },
    Total {
        topic: u32,
        reply: oneshot::Sender<u64>,
    },
}

impl Tally {
    /// Starts the tally's task, so it must be called inside a tokio runtime.
    /// At most `mailbox_capacity` commands wait for the task; a caller
    /// beyond that waits in `add` or `total` until there is room.
    pub fn new(mailbox_capacity: usize) -> Tally {
        let (mailbox, commands) = mpsc::channel(mailbox_capacity.max(1));
        tokio::spawn(run_tally(commands));
        Tally { mailbox }
    }

    /// Adds `amount` to the total of `topic`. Waits while the mailbox is
    /// full: a caller faster than the tally is slowed down to its pace.
    pub async fn add(&self, topic: u32, amount: u64) {
        // `send` fails only if the task is gone, and it lives as long as a
        // handle does (unless it panicked, and then there is no total left
        // to keep).
        let _ = self.mailbox.send(Command::Add { topic, amount }).await;
    }

    /// The total of `topic`, counting every `add` that returned before this
    /// call: commands are handled in the order they entered the mailbox.
    pub async fn total(&self, topic: u32) -> u64 {
        let (reply, answer) = oneshot::channel();
        let asked = self.mailbox.send(Command::Total { topic, reply }).await;
        asked.expect("the tally's task lives as long as its handles");
        answer
            .await
            .expect("the tally's task answers every question")
    }
}

/// The tally's task: the only code that touches the totals, one command at
/// a time, so they need no lock. It awaits nothing but its mailbox, so every
/// command is handled at once. `recv` says `None` once every handle (every
/// `Sender`) is gone, and the task ends.
async fn run_tally(mut commands: mpsc::Receiver<Command>) {
    let mut totals: HashMap<u32, u64> = HashMap::new();
    while let Some(command) = commands.recv().await {
        match command {
            Command::Add { topic, amount } => *totals.entry(topic).or_default() += amount,
            Command::Total { topic, reply } => {
                // The asker may have given up (its future was dropped).
                let _ = reply.send(totals.get(&topic).copied().unwrap_or(0));
            }
        }
    }
}
// ANCHOR_END: tally

// ANCHOR: serve
/// Handles every request of `requests`: `work` says what a request amounts
/// to (it may ask another service, so it is async), the amount is added to
/// the request's topic in `tally`, and the request is answered.
///
/// At most `max_in_flight` requests are worked on at once, and a request is
/// taken from `requests` only when there is room for it. The replies come
/// in the order the requests finish.
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
    let max_in_flight = max_in_flight.max(1);
    let mut requests = pin!(requests);
    let mut in_flight = JoinSet::new();
    let mut replies = Vec::new();
    loop {
        // Room first, then the next request: what cannot be worked on yet
        // stays in the source, which is where back pressure belongs.
        if in_flight.len() >= max_in_flight {
            let done = in_flight.join_next().await.expect("the set is full");
            replies.push(reply_of(done));
        }
        let Some(request) = requests.next().await else {
            break;
        };
        let job = work(request);
        let tally = tally.clone();
        in_flight.spawn(async move {
            // Nothing is locked while the work runs: the total is sent to
            // the tally afterwards, as a message.
            let amount = job.await;
            tally.add(request.topic, amount).await;
            Reply {
                id: request.id,
                amount,
            }
        });
    }
    while let Some(done) = in_flight.join_next().await {
        replies.push(reply_of(done));
    }
    replies
}

/// The reply of a finished request's task. A panic in the task goes on in
/// the caller, as if the work had been called directly.
fn reply_of(done: Result<Reply, JoinError>) -> Reply {
    match done {
        Ok(reply) => reply,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
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
    // A half-read frame waits in the decoder's buffer, not in the future
    // that `next()` returns: dropping that future loses nothing.
    let mut frames = pin!(FrameReader::new(reader));
    // While a send waits for the receiver, ticks are missed. `Burst`, the
    // default, would fire them all at once when the loop comes back, each
    // with the few frames read since the one before: `Delay` fires one late
    // tick, then a period until the next.
    let mut flush = tokio::time::interval(flush_every);
    flush.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    let end = loop {
        tokio::select! {
            // `next()` is cancel-safe here: when the timer wins, the read
            // goes on from the same buffer on the next turn of the loop.
            frame = frames.next() => match frame {
                Some(Ok(frame)) => batch.push(frame),
                Some(Err(error)) => break Err(error),
                None => break Ok(()),
            },
            // `tick()` is cancel-safe too: a read that wins consumes no tick.
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
// ANCHOR_END: run_connection
