//! One actor per plugin: a task that owns the plugin, works through its
//! mailbox one message at a time, and tells the loop how each ended.

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
/// The plugin handles its messages one at a time, in order. A message it
/// fails on is reported and acknowledged, so it cannot block the ones after.
pub(crate) async fn run(
    key: u64,
    plugin: Box<dyn Plugin>,
    mut mailbox: mpsc::Receiver<Message>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    _policy: RetryPolicy,
) {
    while let Some(message) = mailbox.recv().await {
        let id = message.id;
        if let Err(error) = plugin.handle(message).await {
            eprintln!("{}: message {id}: {error}", plugin.name());
        }
        let outcome = Outcome {
            key,
            id,
            tries: 1,
            result: Ok(()),
        };
        if outcomes.send(outcome).is_err() {
            return; // the loop is gone
        }
    }
}
// ANCHOR_END: actor
