//! # Lesson 02, reference solution: the task owns, the plugin borrows
//!
//! A spawned task may outlive the call that spawned it, so it must own all it
//! touches. Owning is cheap here: an `Arc` of the plugin, a `Bytes` handle of
//! the payload (a reference count, not a copy) and an `Arc` of the metadata.
//! Inside the task the plugin still gets its `BorrowedMessage`, borrowed from
//! what the task owns, so the plugin API does not change.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;

/// What the decoder knows about a message besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    pub id: u64,
    pub topic: String,
}

/// A message as a plugin sees it: borrowed, so passing it on copies nothing.
#[derive(Clone, Copy, Debug)]
pub struct BorrowedMessage<'a> {
    pub raw: &'a [u8],
    pub meta: &'a MessageMeta,
}

/// A plugin's report that it could not handle a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerError(pub String);

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler failed: {}", self.0)
    }
}

impl std::error::Error for HandlerError {}

/// A plugin. Its handler future may borrow the plugin and the message for as
/// long as it runs (`'a`), which is what makes plugins easy to write.
pub trait Plugin: Send + Sync {
    fn name(&self) -> &str;
    fn handle<'a>(&'a self, msg: BorrowedMessage<'a>) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// Hands messages to plugins.
pub struct Dispatcher {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Dispatcher {
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Self {
        Dispatcher { plugins }
    }

    /// Hands one message to every plugin, each on its own task, and returns
    /// at once: one handle per plugin, in the order the plugins were given.
    // ANCHOR: dispatch
    pub fn dispatch(
        &self,
        meta: MessageMeta,
        payload: Bytes,
    ) -> Vec<JoinHandle<Result<(), HandlerError>>> {
        let message = OwnedMessage {
            meta: Arc::new(meta),
            payload,
        };
        self.plugins
            .iter()
            .map(|plugin| {
                // The task owns an `Arc` of the plugin and a clone of the
                // message: three reference counts, and no byte copied.
                let plugin = Arc::clone(plugin);
                let message = message.clone();
                tokio::spawn(async move { plugin.handle(message.borrow()).await })
            })
            .collect()
    }
    // ANCHOR_END: dispatch
}

// ANCHOR: owned_message
/// A message that owns its parts, so a task can hold it: cloning it bumps two
/// reference counts and copies no payload byte.
#[derive(Clone, Debug)]
pub struct OwnedMessage {
    pub meta: Arc<MessageMeta>,
    pub payload: Bytes,
}

impl OwnedMessage {
    /// The view plugins take, borrowed from this message for as long as the
    /// caller holds it.
    pub fn borrow(&self) -> BorrowedMessage<'_> {
        BorrowedMessage {
            raw: &self.payload,
            meta: &self.meta,
        }
    }
}
// ANCHOR_END: owned_message
