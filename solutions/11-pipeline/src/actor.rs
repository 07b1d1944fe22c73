//! One actor per plugin: a task that owns the plugin, works through its
//! mailbox one message at a time, and tells the loop how each ended.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::mpsc;

use crate::{HandlerError, Message, Plugin, RetryPolicy};

/// How one message ended for one plugin.
pub(crate) struct Outcome {
    /// Which plugged plugin (names may repeat; keys do not).
    pub(crate) key: u64,
    pub(crate) id: u64,
    pub(crate) tries: u32,
    /// `Err`: the last try's error, after `tries` tries.
    pub(crate) result: Result<(), HandlerError>,
}

// ANCHOR: actor
/// Retries happen here, in place: the next message waits until this one is
/// acknowledged or out of tries, so a plugin sees the frames in order, and
/// its outcomes reach the loop in the order it was handed the messages.
pub(crate) async fn run(
    key: u64,
    plugin: Box<dyn Plugin>,
    mut mailbox: mpsc::Receiver<Message>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    policy: RetryPolicy,
) {
    while let Some(message) = mailbox.recv().await {
        let id = message.id;
        let mut tries = 0;
        let result = loop {
            tries += 1;
            // A clone of a `Message` is a reference count, not a copy. The
            // call to `handle` is inside the future that `catch_unwind`
            // polls: a handler that panics before it returns its future is
            // a failed try too, not a dead actor.
            let attempt = AssertUnwindSafe(async { plugin.handle(message.clone()).await });
            let error = match attempt.catch_unwind().await {
                Ok(Ok(())) => break Ok(()),
                Ok(Err(error)) => error,
                // A panicking handler is a failed try, not a dead actor.
                Err(panic) => HandlerError(format!("the handler panicked: {}", said(&*panic))),
            };
            if tries >= policy.max_tries.max(1) {
                break Err(error);
            }
            tokio::time::sleep(policy.wait_before_retry(tries)).await;
        };
        let outcome = Outcome {
            key,
            id,
            tries,
            result,
        };
        if outcomes.send(outcome).is_err() {
            return; // the loop is gone
        }
    }
}
// ANCHOR_END: actor

/// What a panic said, if it said it in words.
fn said(panic: &(dyn Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "(no message)"
    }
}
