//! Unplugging a plugin loses none of its messages. The rule: whatever it
//! still owes (a try running, a retry waiting) is dead-lettered at once,
//! with its last error, and is never retried; a try that was running is
//! dropped. The plugin is handed nothing more, and the other plugins go on.
//! A try that ends in the very instant of the unplug ends its delivery
//! once: acked, or dead-lettered, never both, and never applied after its
//! delivery was given up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
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

/// Unplugs `name`, then asserts that each of `ids` was dead-lettered at
/// once as `Unplugged`, after `tries` tries, with `last_error` as its error.
async fn unplug_expecting(
    dispatcher: &Dispatcher,
    dead_letters: &mut lesson::DeadLetters,
    (name, ids): (&str, &[u64]),
    (tries, last_error): (u32, impl Fn(u64) -> Option<lesson::HandlerError>),
    why: &str,
) {
    within(&format!("unplug {name}"), dispatcher.unplug(name))
        .await
        .unwrap();
    let expected: Vec<_> = ids
        .iter()
        .map(|&id| {
            (
                name.to_owned(),
                id,
                tries,
                last_error(id),
                Reason::Unplugged,
            )
        })
        .collect();
    assert_eq!(unplugged(dead_letters), expected, "{why}");
}

#[tokio::test(start_paused = true)]
async fn unplugging_a_plugin_dead_letters_what_it_still_owed_and_hands_it_nothing_more() {
    // Retries wait a second: at 40 ms, every retry is still waiting.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(5, 1_000, 2, 10_000), jitter);
    let steady = Scripted::new("steady", |_, _| Act::Ack);
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    let stuck = Scripted::new("stuck", |_, _| Act::Hang);
    // Fails its first try, then hangs in its retry.
    let relapsing = Scripted::new(
        "relapsing",
        |_, n| if n == 1 { Act::Fail } else { Act::Hang },
    );
    for plugin in [&steady, &failing, &stuck, &relapsing] {
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

    unplug_expecting(
        &dispatcher,
        &mut dead_letters,
        ("failing", &ids),
        (1, |id| Some(error_of("failing", id, 1))),
        "unplugged while a retry of each message waited: every message it still \
         owed is dead-lettered at once, with its last error",
    )
    .await;

    unplug_expecting(
        &dispatcher,
        &mut dead_letters,
        ("stuck", &ids),
        (1, |_| None),
        "unplugged while a try of each message ran: every one is dead-lettered \
         at once, with no error (none of its tries failed)",
    )
    .await;
    settle().await;
    assert_eq!(
        stuck.dropped(),
        ids.len(),
        "the unplugged plugin's running tries are dropped, not left running"
    );

    // Unplugged while its retries run: those tries are dropped too.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    unplug_expecting(
        &dispatcher,
        &mut dead_letters,
        ("relapsing", &ids),
        (2, |id| Some(error_of("relapsing", id, 1))),
        "unplugged while the retry of each message ran: every one is dead-lettered \
         at once, with its two tries and the first one's error",
    )
    .await;
    settle().await;
    assert_eq!(
        relapsing.dropped(),
        ids.len(),
        "a plugin unplugged during its retries: each retry's try is dropped, not \
         left running (the abort handle of the wait kept, not the retry's?)"
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

#[tokio::test(start_paused = true)]
async fn a_try_that_ends_in_the_instant_of_its_unplug_is_settled_once() {
    // In each round a plugin's try ends in the very instant the plugin is
    // unplugged: the loop sees the try's end and the unplug together, in
    // either order. Whichever it takes first, the delivery ends once; a try
    // it gave up must not be applied after all. Even rounds ack, odd rounds
    // fail. Which comes first varies from round to round.
    const ROUNDS: u64 = 32;
    const WORK: Duration = Duration::from_millis(10);
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 1_000, 2, 10_000), jitter);
    // Holds every message well past the unplug: its hold must keep the
    // buffer alive.
    let steady = Scripted::new("steady", |_, _| Act::AckAfter(3 * WORK));
    within("plug steady", dispatcher.plug(steady.clone()))
        .await
        .unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    for round in 0..ROUNDS {
        let name = format!("round {round}");
        let acks = round % 2 == 0;
        let outcome = if acks { "acked" } else { "failed" };
        let plugin = Scripted::new(&name, move |_, _| {
            if acks {
                Act::AckAfter(WORK)
            } else {
                Act::FailAfter(WORK)
            }
        });
        let running = Running { round, outcome };
        running.ok(within("plug", dispatcher.plug(plugin.clone())).await);
        let message = tracked(format!("message {round}").as_bytes(), &live);
        let id = running.ok(within("send", dispatcher.send(message)).await);

        tokio::time::sleep(WORK).await; // the try ends now
        running.ok(within("unplug", dispatcher.unplug(&name)).await);

        let letters: Vec<_> = queued(&mut dead_letters)
            .into_iter()
            .map(|l| (l.plugin, l.id, l.tries, l.reason))
            .collect();
        let once = vec![(name.clone(), id, 1, Reason::Unplugged)];
        assert!(
            letters == once || (acks && letters.is_empty()),
            "round {round}: a try {outcome} as its plugin was unplugged; its delivery \
             must end once: {}, got {letters:?}",
            if acks {
                "acked, or given up by the unplug"
            } else {
                "dead-lettered by the unplug"
            }
        );
        assert_eq!(
            running.ok(within("in_flight", dispatcher.in_flight()).await),
            1,
            "round {round}: steady still owes message {id}, so it is in flight"
        );
        assert_eq!(
            live.load(Ordering::SeqCst),
            1,
            "round {round}: the buffer of message {id} was freed while steady still \
             owed it: an ack applied after its delivery was given up released a hold \
             twice"
        );

        tokio::time::sleep(2 * WORK).await; // steady acks
        settle().await;
        assert_eq!(steady.acks_of(id), 1);
        assert_eq!(
            running.ok(within("in_flight", dispatcher.in_flight()).await),
            0,
            "round {round}: message {id} was acked or given up by every plugin"
        );
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "round {round}: freed at last"
        );
    }
}

/// The dispatcher must still answer after each round of
/// [`a_try_that_ends_in_the_instant_of_its_unplug_is_settled_once`].
struct Running {
    round: u64,
    outcome: &'static str,
}

impl Running {
    fn ok<T>(&self, result: Result<T, lesson::ShutDown>) -> T {
        result.unwrap_or_else(|_| {
            panic!(
                "round {}: the dispatcher has stopped (ShutDown) after a try {} in the \
                 instant its plugin was unplugged: did the loop apply a step of a \
                 delivery it had already given up?",
                self.round, self.outcome
            )
        })
    }
}

#[tokio::test(start_paused = true)]
async fn plugins_that_share_a_name_are_each_handed_every_message_and_unplugged_together() {
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 1_000, 2, 10_000), jitter);
    // Two plugins named "twin": each fails its first try of message 0 and
    // acks the retry, hangs on message 1, and acks the rest.
    let twin = || {
        Scripted::new("twin", |id, n| match (id, n) {
            (0, 1) => Act::Fail,
            (1, _) => Act::Hang,
            _ => Act::Ack,
        })
    };
    let (first, second) = (twin(), twin());
    let gone = Scripted::new("gone", |_, _| Act::Ack);
    let late = Scripted::new("late", |_, _| Act::Ack);
    // "late" is plugged after "gone" is unplugged: it takes the place of
    // none of the plugins still plugged.
    for plugin in [&gone, &first, &second] {
        within("plug", dispatcher.plug(Arc::clone(plugin) as _))
            .await
            .unwrap();
    }
    within("unplug gone", dispatcher.unplug("gone"))
        .await
        .unwrap();
    within("plug late", dispatcher.plug(late.clone()))
        .await
        .unwrap();

    let live = Arc::new(AtomicUsize::new(0));
    let m0 = within("send", dispatcher.send(tracked(b"message 0", &live)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // the twins' retries, at 1 s
    settle().await;
    assert_eq!(
        [&first, &second, &late, &gone].map(|p| (p.tries_of(m0), p.acks_of(m0))),
        [(2, 1), (2, 1), (1, 1), (0, 0)],
        "(tries, acks) of message {m0}: each of the two plugins named twin fails its \
         first try and acks its retry (a retry goes to the plugin that failed, not \
         to another of its name), late acks it at once; gone was unplugged before \
         it was sent"
    );
    assert_eq!(
        (
            within("in_flight", dispatcher.in_flight()).await,
            live.load(Ordering::SeqCst)
        ),
        (Ok(0), 0),
        "every plugin acked message {m0}: it is done, and its buffer freed (a \
         delivery per plugin, even when two share a name or one was plugged \
         after an unplug)"
    );

    let message = tracked(b"message 1", &live);
    let address = message.as_ptr();
    let m1 = within("send", dispatcher.send(message)).await.unwrap();
    settle().await;
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(1),
        "both twins owe message {m1}: that is one message in flight"
    );

    within("unplug twin", dispatcher.unplug("twin"))
        .await
        .unwrap();
    let letters = queued(&mut dead_letters);
    let summary: Vec<_> = letters
        .iter()
        .map(|l| {
            (
                l.plugin.as_str(),
                l.id,
                l.tries,
                l.last_error.clone(),
                l.reason,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![("twin", m1, 1, None, Reason::Unplugged); 2],
        "unplug(\"twin\") unplugs both plugins of that name: each one's running \
         try of message {m1} is dead-lettered"
    );
    for letter in &letters {
        assert_eq!(
            letter.payload.as_ptr(),
            address,
            "an unplug's dead letter carries the sender's bytes, not a copy"
        );
    }
    settle().await;
    assert_eq!(
        (first.dropped(), second.dropped()),
        (1, 1),
        "both twins' running tries are dropped"
    );

    let m2 = within("send", dispatcher.send(tracked(b"message 2", &live)))
        .await
        .unwrap();
    settle().await;
    assert_eq!(
        (first.ids(), second.ids(), late.acks_of(m2)),
        (vec![m0, m1], vec![m0, m1], 1),
        "neither twin is handed anything after the unplug; late goes on"
    );
    drop(letters);
    assert_eq!(
        (
            within("in_flight", dispatcher.in_flight()).await,
            live.load(Ordering::SeqCst)
        ),
        (Ok(0), 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_plugin_stuck_on_thousands_of_messages_is_still_unplugged() {
    // A plugin that never answers owes every message it is handed. However
    // many that is, the dispatcher keeps taking messages and commands (it
    // sets no bound of its own on what is in flight), and one unplug
    // dead-letters them all.
    const MESSAGES: u64 = 2_000;
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 10, 2, 100), jitter);
    let stuck = Scripted::new("stuck", |_, _| Act::Hang);
    within("plug", dispatcher.plug(stuck.clone()))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..MESSAGES {
        let message = Bytes::from(format!("message {n}"));
        ids.push(
            within("a send while a plugin is stuck", dispatcher.send(message))
                .await
                .unwrap(),
        );
    }
    settle().await;
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(ids.len())
    );

    unplug_expecting(
        &dispatcher,
        &mut dead_letters,
        ("stuck", &ids),
        (1, |_| None),
        "a plugin stuck on thousands of messages is unplugged like any other: \
         every message it owed is dead-lettered at once",
    )
    .await;
    settle().await;
    assert_eq!(stuck.dropped(), ids.len(), "its running tries are dropped");
    assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(0));
}
