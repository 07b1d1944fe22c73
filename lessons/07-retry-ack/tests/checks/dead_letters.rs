//! A message that fails `max_tries` times for a plugin (the first try
//! included) is tried no more, and goes to the dead-letter queue, once,
//! with the error of its last try and the message itself.

use std::time::Duration;

use lesson::{DeadLetter, Dispatcher, Reason};
use lesson_support::within;

use super::{Act, Scripted, error_of, payload, policy, queued, recording_jitter};

#[tokio::test(start_paused = true)]
async fn a_failing_message_is_tried_exactly_max_tries_times() {
    for max_tries in [1, 3] {
        let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
        let (dispatcher, mut dead_letters) = Dispatcher::new(policy(max_tries, 10, 2, 100), jitter);
        let failing = Scripted::new("failing", |_, _| Act::Fail);
        let steady = Scripted::new("steady", |_, _| Act::Ack);
        within("plug", dispatcher.plug(failing.clone()))
            .await
            .unwrap();
        within("plug", dispatcher.plug(steady.clone()))
            .await
            .unwrap();

        let id = within("send", dispatcher.send(payload(1))).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;

        assert_eq!(
            failing.tries_of(id),
            max_tries,
            "with max_tries = {max_tries}, a message that always fails is handed \
             to the plugin {max_tries} times, the first try included"
        );
        assert_eq!(
            (steady.tries_of(id), steady.acks_of(id)),
            (1, 1),
            "the plugin that acked is not handed the message again"
        );
        let letters = queued(&mut dead_letters);
        let tries: Vec<(&str, u32)> = letters
            .iter()
            .map(|letter| (letter.plugin.as_str(), letter.tries))
            .collect();
        assert_eq!(
            tries,
            [("failing", max_tries)],
            "one dead letter, for the failing plugin, after its last try"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_dead_letter_carries_the_last_error_and_the_message() {
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 10, 2, 100), jitter);
    // Each try fails with an error of its own: "failing: try n of message id failed".
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    within("plug", dispatcher.plug(failing.clone()))
        .await
        .unwrap();

    let sent = payload(7);
    let id = within("send", dispatcher.send(sent.clone())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;

    let letters = queued(&mut dead_letters);
    let [letter] = &letters[..] else {
        panic!("one dead letter was expected, got {letters:?}");
    };
    let DeadLetter {
        id: letter_id,
        plugin,
        payload,
        tries,
        last_error,
        reason,
    } = letter;
    assert_eq!(
        (*letter_id, plugin.as_str(), *tries, *reason),
        (id, "failing", 3, Reason::OutOfTries),
        "the letter names the message, the plugin, its tries and why"
    );
    assert_eq!(
        last_error.as_ref(),
        Some(&error_of("failing", id, 3)),
        "the letter carries the error of the last try, the one that made the \
         dispatcher give up"
    );
    // What an operator reads in the log says what went wrong.
    let said = last_error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        said.contains("try 3 of message"),
        "the last error displays as {said:?}"
    );
    assert_eq!(payload, &sent, "the letter carries the message");
    assert_eq!(
        payload.as_ptr(),
        sent.as_ptr(),
        "the letter's payload is the sender's bytes, not a copy"
    );
}
