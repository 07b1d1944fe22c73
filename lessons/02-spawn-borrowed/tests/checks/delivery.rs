//! Every plugin receives every message, exactly once, with its metadata.

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
