//! Unplugging a plugin loses none of its messages. The rule: whatever it
//! still owes (a try running, a retry waiting) is dead-lettered at once,
//! with its last error, and is never retried; a try that was running is
//! dropped. The plugin is handed nothing more, and the other plugins go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lesson::{Dispatcher, Reason};
use lesson_support::{settle, within};

use super::{Act, Scripted, error_of, policy, queued, recording_jitter, tracked};

/// The dead letters queued so far, in the order of their messages (an
/// unplug gives up its plugin's deliveries in any order).
fn unplugged(
    dead_letters: &mut lesson::DeadLetters,
) -> Vec<(String, u64, u32, Option<lesson::HandlerError>, Reason)> {
    let mut letters: Vec<_> = queued(dead_letters)
        .into_iter()
        .map(|l| (l.plugin, l.id, l.tries, l.last_error, l.reason))
        .collect();
    letters.sort_by_key(|letter| letter.1);
    letters
}

#[tokio::test(start_paused = true)]
async fn unplugging_a_plugin_dead_letters_what_it_still_owed_and_hands_it_nothing_more() {
    // Retries wait a second: at 40 ms, every retry is still waiting.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(5, 1_000, 2, 10_000), jitter);
    let steady = Scripted::new("steady", |_, _| Act::Ack);
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    let stuck = Scripted::new("stuck", |_, _| Act::Hang);
    for plugin in [&steady, &failing, &stuck] {
        within("plug", dispatcher.plug(Arc::clone(plugin) as _))
            .await
            .unwrap();
    }
    let live = Arc::new(AtomicUsize::new(0));
    let mut ids = Vec::new();
    for n in 0..4 {
        let message = tracked(format!("message {n}").as_bytes(), &live);
        ids.push(within("send", dispatcher.send(message)).await.unwrap());
    }
    settle().await;

    within("unplug failing", dispatcher.unplug("failing"))
        .await
        .unwrap();
    let letters = unplugged(&mut dead_letters);
    let expected: Vec<_> = ids
        .iter()
        .map(|&id| {
            let error = Some(error_of("failing", id, 1));
            ("failing".to_owned(), id, 1, error, Reason::Unplugged)
        })
        .collect();
    assert_eq!(
        letters, expected,
        "unplugged while a retry of each message waited: every message it still \
         owed is dead-lettered at once, with its last error"
    );

    within("unplug stuck", dispatcher.unplug("stuck"))
        .await
        .unwrap();
    let letters = unplugged(&mut dead_letters);
    let expected: Vec<_> = ids
        .iter()
        .map(|&id| ("stuck".to_owned(), id, 1, None, Reason::Unplugged))
        .collect();
    assert_eq!(
        letters, expected,
        "unplugged while a try of each message ran: every one is dead-lettered \
         at once, with no error (none of its tries failed)"
    );
    settle().await;
    assert_eq!(
        stuck.dropped(),
        ids.len(),
        "the unplugged plugin's running tries are dropped, not left running"
    );

    // Long after the retries were due, and a message sent after the unplugs.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let late = tracked(b"after the unplugs", &live);
    let late = within("send", dispatcher.send(late)).await.unwrap();
    settle().await;
    assert_eq!(
        (failing.ids(), stuck.ids()),
        (ids.clone(), ids.clone()),
        "an unplugged plugin is handed nothing more"
    );
    for &id in &ids {
        assert_eq!(
            failing.tries_of(id),
            1,
            "message {id} was retried to an unplugged plugin"
        );
    }
    assert_eq!(steady.acks_of(late), 1, "the plugins still plugged go on");
    assert!(
        queued(&mut dead_letters).is_empty(),
        "every delivery to an unplugged plugin is dead-lettered once"
    );
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(0),
        "every message was acked or given up: none is in flight"
    );
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "every message was acked by the plugin still plugged, and given up by \
         the others (their dead letters are dropped): no buffer may be held"
    );
}
