//! A plugin that fails, panics or never finishes does not stop the others;
//! its failure is reported on its own handle.

use std::sync::Arc;

use lesson_support::{settle, within};
use tokio::sync::Semaphore;

use super::{Outcome, Recorder, dispatcher, finish, meta, payload};

#[tokio::test(start_paused = true)]
async fn a_failing_plugin_does_not_stop_the_others() {
    let recorders = [
        Recorder::new("first", Outcome::Succeed),
        Recorder::new("grumpy", Outcome::Fail),
        Recorder::new("broken", Outcome::Panic),
        Recorder::new("last", Outcome::Succeed),
    ];
    let dispatcher = dispatcher(&recorders);

    let outcomes = finish(dispatcher.dispatch(meta(1), payload("hello"))).await;
    let later = finish(dispatcher.dispatch(meta(2), payload("again"))).await;

    for outcomes in [&outcomes, &later] {
        assert_eq!(outcomes.len(), 4);
        assert!(
            matches!(outcomes[0], Ok(Ok(()))),
            "first: {:?}",
            outcomes[0]
        );
        assert!(
            matches!(&outcomes[1], Ok(Err(e)) if e.0 == "grumpy refuses"),
            "grumpy: {:?}",
            outcomes[1]
        );
        // What a caller logs says what went wrong.
        if let Ok(Err(error)) = &outcomes[1] {
            let said = error.to_string();
            assert!(said.contains("grumpy refuses"), "displayed as {said:?}");
        }
        // Its own handle says it failed: as a panicked task, or as an error
        // the dispatcher made of the panic.
        assert!(
            matches!(&outcomes[2], Err(e) if e.is_panic()) || matches!(&outcomes[2], Ok(Err(_))),
            "a panicking handler shows up on its own handle as a failure (a panicked \
             task, or an error): {:?}",
            outcomes[2],
        );
        assert!(matches!(outcomes[3], Ok(Ok(()))), "last: {:?}", outcomes[3]);
    }
    for recorder in &recorders {
        assert_eq!(
            recorder.seen().len(),
            2,
            "{} missed a message",
            recorder.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_plugin_that_never_finishes_holds_up_nobody() {
    // A gate that never opens: this plugin waits forever on every message.
    let never = Arc::new(Semaphore::new(0));
    let recorders = [
        Recorder::gated("stuck", &never),
        Recorder::new("second", Outcome::Succeed),
        Recorder::new("third", Outcome::Fail),
        Recorder::new("fourth", Outcome::Succeed),
    ];
    let dispatcher = dispatcher(&recorders);

    let mut stuck = Vec::new();
    for id in 0..3 {
        let mut handles = dispatcher.dispatch(meta(id), payload("urgent"));
        assert_eq!(handles.len(), 4, "one handle per plugin");
        stuck.push(handles.remove(0));
        let others = within(
            "the other plugins, while the first one never finishes",
            futures::future::join_all(handles),
        )
        .await;
        assert!(
            others.iter().all(Result::is_ok),
            "no other handler panics: {others:?}"
        );
    }
    for recorder in &recorders[1..] {
        assert_eq!(
            recorder.seen().len(),
            3,
            "{} missed a message",
            recorder.name
        );
    }
    settle().await;
    assert!(
        stuck.iter().all(|handle| !handle.is_finished()),
        "the stuck plugin's handles are still running"
    );
    for handle in stuck {
        handle.abort();
    }
}
