//! # Lesson 02: a spawned task cannot borrow the message
//!
//! A `Dispatcher` hands every decoded message to every plugin. Plugins are
//! written against `BorrowedMessage<'a>`, a view of the message that costs
//! nothing to pass around, and one slow plugin must not hold up the others,
//! so each handler runs on its own task.
//!
//! This code does not compile. Run `cargo test` in this folder and read the
//! errors; the chapter is `book/src/02-spawn-borrowed.md`, and `cargo run --
//! hint 02` at the root gives one hint at a time. The checks in `tests/` say
//! what a good dispatcher promises: every plugin sees every message once, the
//! payload is shared and never copied, the caller may reuse its buffer at
//! once, and a failing plugin does not stop the others.
//!
//! Keep the public API (`MessageMeta`, `BorrowedMessage`, `HandlerError`,
//! `Plugin`, `Dispatcher::new`, `Dispatcher::dispatch`): the checks use it.
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
    pub fn dispatch(
        &self,
        meta: MessageMeta,
        payload: Bytes,
    ) -> Vec<JoinHandle<Result<(), HandlerError>>> {
        let msg = BorrowedMessage {
            raw: &payload,
            meta: &meta,
        };
        self.plugins
            .iter()
            .map(|plugin| tokio::spawn(plugin.handle(msg)))
            .collect()
    }
}
