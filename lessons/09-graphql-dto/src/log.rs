//! The pipeline's side of the lesson: a log of messages that the lower
//! layers append to while subscribers read it. It is given, the same in the
//! starter and the solution; the GraphQL layer in `lib.rs` is the exercise.
//!
//! Every message copied out of the log is counted (`reads`): that is how
//! the checks see how much a subscription made, whatever its design.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use crate::MessageDto;

/// A message as the log stores it. Its `seq` is its place in the log.
struct Stored {
    topic: String,
    text: String,
}

/// What the log holds, behind a `watch` channel: readers that wait for a
/// message are woken when one is appended or when the log is closed.
#[derive(Default)]
struct State {
    messages: Vec<Stored>,
    closed: bool,
}

/// The log of every message, in the order they arrived. A handle: clones
/// share one log, and it is freed when the last handle is dropped.
#[derive(Clone)]
pub struct MessageLog {
    inner: Arc<Inner>,
}

struct Inner {
    state: watch::Sender<State>,
    reads: AtomicU64,
}

impl Default for MessageLog {
    fn default() -> Self {
        MessageLog::new()
    }
}

impl MessageLog {
    pub fn new() -> Self {
        MessageLog {
            inner: Arc::new(Inner {
                state: watch::Sender::new(State::default()),
                reads: AtomicU64::new(0),
            }),
        }
    }

    /// Appends a message and returns its `seq` (0 for the first).
    ///
    /// # Panics
    ///
    /// If the log is closed.
    pub fn append(&self, topic: &str, text: &str) -> u64 {
        let mut seq = 0;
        self.inner.state.send_modify(|state| {
            assert!(!state.closed, "append to a closed log");
            seq = state.messages.len() as u64;
            state.messages.push(Stored {
                topic: topic.to_owned(),
                text: text.to_owned(),
            });
        });
        seq
    }

    /// No more messages will come: readers waiting for one are told so.
    pub fn close(&self) {
        self.inner.state.send_modify(|state| state.closed = true);
    }

    /// How many messages the log holds.
    pub fn len(&self) -> u64 {
        self.inner.state.borrow().messages.len() as u64
    }

    /// Whether the log holds no message yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message at `seq`, copied out of the log, if it has arrived.
    pub fn get(&self, seq: u64) -> Option<MessageDto> {
        let state = self.inner.state.borrow();
        let stored = state.messages.get(usize::try_from(seq).ok()?)?;
        self.inner.reads.fetch_add(1, Ordering::SeqCst);
        Some(MessageDto {
            seq,
            topic: stored.topic.clone(),
            text: stored.text.clone(),
        })
    }

    /// Every message so far, copied out of the log: a page of history.
    pub fn snapshot(&self) -> Vec<MessageDto> {
        let state = self.inner.state.borrow();
        self.inner
            .reads
            .fetch_add(state.messages.len() as u64, Ordering::SeqCst);
        (0..)
            .zip(&state.messages)
            .map(|(seq, stored)| MessageDto {
                seq,
                topic: stored.topic.clone(),
                text: stored.text.clone(),
            })
            .collect()
    }

    /// Waits until the message at `seq` has arrived (`true`) or the log is
    /// closed without it (`false`). Cancel-safe: dropping the future loses
    /// nothing.
    pub async fn wait_for(&self, seq: u64) -> bool {
        let arrived = |state: &State| state.messages.len() as u64 > seq;
        let mut changes = self.inner.state.subscribe();
        let state = changes
            .wait_for(|state| arrived(state) || state.closed)
            .await
            .expect("the log owns its sender, so it is never dropped while we hold the log");
        arrived(&state)
    }

    /// How many messages have been copied out of the log so far, by `get`
    /// and `snapshot`: what subscriptions made, for the checks.
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(Ordering::SeqCst)
    }
}
