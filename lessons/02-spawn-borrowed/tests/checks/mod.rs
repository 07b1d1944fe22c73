//! What a fixed dispatcher promises. Each file is one promise; a failing
//! test's name says which one is broken.

mod delivery;
mod failures;
mod sharing;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use lesson::{BorrowedMessage, Dispatcher, HandlerError, MessageMeta, Plugin};
use lesson_support::within;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// What a test plugin saw of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    id: u64,
    topic: String,
    raw: Vec<u8>,
    /// Where the payload was in memory: equal to the caller's `Bytes` when
    /// nobody copied it on the way.
    address: usize,
}

/// What a test plugin does once it has recorded the message.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Succeed,
    Fail,
    Panic,
}

/// A plugin that records every message it is handed.
struct Recorder {
    name: String,
    seen: Mutex<Vec<Seen>>,
    /// When set, the handler waits for a permit before it looks at the
    /// message: the check decides when handlers run.
    gate: Option<Arc<Semaphore>>,
    outcome: Outcome,
}

impl Recorder {
    fn new(name: &str, outcome: Outcome) -> Arc<Recorder> {
        Arc::new(Recorder {
            name: name.to_owned(),
            seen: Mutex::new(Vec::new()),
            gate: None,
            outcome,
        })
    }

    fn gated(name: &str, gate: &Arc<Semaphore>) -> Arc<Recorder> {
        Arc::new(Recorder {
            name: name.to_owned(),
            seen: Mutex::new(Vec::new()),
            gate: Some(Arc::clone(gate)),
            outcome: Outcome::Succeed,
        })
    }

    /// What this plugin saw, ordered by message id (tasks may run in any
    /// order).
    fn seen(&self) -> Vec<Seen> {
        let mut seen = self.seen.lock().unwrap().clone();
        seen.sort_by_key(|s| s.id);
        seen
    }
}

impl Plugin for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, msg: BorrowedMessage<'a>) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                let _permit = gate.acquire().await.expect("gate closed");
            }
            self.seen.lock().unwrap().push(Seen {
                id: msg.meta.id,
                topic: msg.meta.topic.clone(),
                raw: msg.raw.to_vec(),
                address: msg.raw.as_ptr() as usize,
            });
            match self.outcome {
                Outcome::Succeed => Ok(()),
                Outcome::Fail => Err(HandlerError(format!("{} refuses", self.name))),
                Outcome::Panic => {
                    lesson_support::panic_on_purpose(format!("{} panics on purpose", self.name))
                }
            }
        })
    }
}

/// A dispatcher over these recorders, in this order.
fn dispatcher(recorders: &[Arc<Recorder>]) -> Dispatcher {
    let plugins = recorders.iter().map(|r| Arc::clone(r) as Arc<dyn Plugin>);
    Dispatcher::new(plugins.collect())
}

fn meta(id: u64) -> MessageMeta {
    MessageMeta {
        id,
        topic: format!("topic-{id}"),
    }
}

/// A payload in a heap buffer of its own, as a decoder would produce it.
fn payload(text: &str) -> Bytes {
    Bytes::from(text.as_bytes().to_vec())
}

type Outcomes = Vec<Result<Result<(), HandlerError>, tokio::task::JoinError>>;

/// Waits for every handler of one dispatch.
async fn finish(handles: Vec<JoinHandle<Result<(), HandlerError>>>) -> Outcomes {
    within(
        "every handler to finish",
        futures::future::join_all(handles),
    )
    .await
}
