//! A plugin that fails, or panics, does not stop the others; its failure is
//! reported on its own handle.

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
        assert!(
            matches!(&outcomes[2], Err(e) if e.is_panic()),
            "a panicking handler shows up as a panicked task: {:?}",
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
