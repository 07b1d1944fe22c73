//! Every plugin receives every message, exactly once, with its metadata.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use lesson::{BorrowedMessage, Dispatcher, HandlerError, Plugin};

use super::{Outcome, Recorder, dispatcher, finish, meta, payload};

#[tokio::test(start_paused = true)]
async fn every_plugin_receives_every_message_once() {
    let recorders = [
        Recorder::new("audit", Outcome::Succeed),
        Recorder::new("metrics", Outcome::Succeed),
        Recorder::new("search", Outcome::Succeed),
    ];
    let dispatcher = dispatcher(&recorders);

    for id in 0..5 {
        let handles = dispatcher.dispatch(meta(id), payload(&format!("message {id}")));
        assert_eq!(handles.len(), 3, "one handle per plugin");
        for outcome in finish(handles).await {
            assert_eq!(outcome.expect("no handler panics"), Ok(()));
        }
    }

    for recorder in &recorders {
        let seen = recorder.seen();
        let ids: Vec<u64> = seen.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [0, 1, 2, 3, 4],
            "plugin {} missed or repeated a message",
            recorder.name
        );
        for s in &seen {
            assert_eq!(s.raw, format!("message {}", s.id).as_bytes());
            assert_eq!(s.topic, format!("topic-{}", s.id));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn dispatching_to_no_plugin_is_fine() {
    let dispatcher = dispatcher(&[]);
    assert!(
        finish(dispatcher.dispatch(meta(0), payload("nobody")))
            .await
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn plugins_with_one_name_each_get_every_message() {
    // A name is what a plugin calls itself, not who it is: two plugins may
    // share one, and each is still a plugin of its own.
    let recorders = [
        Recorder::new("twin", Outcome::Succeed),
        Recorder::new("other", Outcome::Succeed),
        Recorder::new("twin", Outcome::Succeed),
    ];
    let dispatcher = dispatcher(&recorders);

    for id in 0..3 {
        let handles = dispatcher.dispatch(meta(id), payload(&format!("message {id}")));
        assert_eq!(
            handles.len(),
            3,
            "one handle per plugin, two of them named alike"
        );
        for outcome in finish(handles).await {
            assert_eq!(outcome.expect("no handler panics"), Ok(()));
        }
    }
    for (n, recorder) in recorders.iter().enumerate() {
        let ids: Vec<u64> = recorder.seen().iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [0, 1, 2],
            "plugin {n}, named {:?}, missed or repeated a message: plugins that \
             share a name are still two plugins, and each gets every message",
            recorder.name
        );
    }
}

/// What a `Logger` saw of one message: its id, topic and bytes.
type Logged = (u64, String, Vec<u8>);

/// A plugin the dispatcher alone owns: what it sees goes to a log the check
/// keeps.
struct Logger {
    log: Arc<Mutex<Vec<Logged>>>,
}

impl Plugin for Logger {
    fn name(&self) -> &str {
        "logger"
    }

    fn handle<'a>(&'a self, msg: BorrowedMessage<'a>) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let seen = (msg.meta.id, msg.meta.topic.clone(), msg.raw.to_vec());
            self.log.lock().unwrap().push(seen);
            Ok(())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn messages_in_flight_keep_their_own_metadata_and_plugins() {
    // Five messages dispatched before any handler runs (this runtime has one
    // thread, and the check does not yield), then the dispatcher is dropped:
    // every handler still runs, and sees its own message.
    let logs: Vec<Arc<Mutex<Vec<Logged>>>> = (0..2).map(|_| Arc::default()).collect();
    let plugins = logs
        .iter()
        .map(|log| {
            let log = Arc::clone(log);
            Arc::new(Logger { log }) as Arc<dyn Plugin>
        })
        .collect();
    let dispatcher = Dispatcher::new(plugins);
    let handles: Vec<_> = (0..5)
        .flat_map(|id| dispatcher.dispatch(meta(id), payload(&format!("message {id}"))))
        .collect();
    drop(dispatcher);

    for outcome in finish(handles).await {
        assert_eq!(outcome.expect("no handler panics"), Ok(()));
    }
    let expected: Vec<Logged> = (0..5)
        .map(|id| {
            (
                id,
                format!("topic-{id}"),
                format!("message {id}").into_bytes(),
            )
        })
        .collect();
    for (n, log) in logs.iter().enumerate() {
        let mut seen = log.lock().unwrap().clone();
        seen.sort();
        assert_eq!(
            seen, expected,
            "plugin {n} missed a message, or saw another message's metadata: each \
             task owns its own message and its plugin, until it has run"
        );
    }
}
