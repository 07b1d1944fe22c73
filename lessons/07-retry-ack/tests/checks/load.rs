//! Under load, with failures at random: every message is acknowledged or
//! dead-lettered by every plugin, exactly once, after no more than
//! `max_tries` tries; and then every buffer is freed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lesson::{Dispatcher, Reason};
use lesson_support::{settle, within};

use super::{Act, Scripted, error_of, mix, payload, policy, queued, recording_jitter, tracked};

const MESSAGES: u64 = 10_000;
const MAX_TRIES: u32 = 4;
const PLUGINS: [&str; 3] = ["alpha", "beta", "gamma"];

/// Whether try `n` of message `id` fails for plugin number `plugin`: one
/// try in three, at random (the same on every run).
fn fails(plugin: usize, id: u64, n: u32) -> bool {
    mix(id << 16 | (plugin as u64) << 8 | u64::from(n)).is_multiple_of(3)
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_messages_with_random_failures_each_end_exactly_once_per_plugin() {
    // Waits picked at random in 0..=ceiling, in whole milliseconds.
    let (jitter, _) = recording_jitter(|ceiling, n| {
        Duration::from_millis(mix(n as u64) % (ceiling.as_millis() as u64 + 1))
    });
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(MAX_TRIES, 1, 2, 4), jitter);
    let plugins: Vec<Arc<Scripted>> = PLUGINS
        .iter()
        .enumerate()
        .map(|(number, name)| {
            Scripted::new(name, move |id, n| {
                if fails(number, id, n) {
                    Act::Fail
                } else {
                    Act::Ack
                }
            })
        })
        .collect();
    for plugin in &plugins {
        within("plug", dispatcher.plug(plugin.clone()))
            .await
            .unwrap();
    }

    let live = Arc::new(AtomicUsize::new(0));
    let mut ids = Vec::new();
    for n in 0..MESSAGES {
        let message = tracked(format!("message {n}").as_bytes(), &live);
        ids.push(within("send", dispatcher.send(message)).await.unwrap());
    }
    // Every delivery is over within 1 + 2 + 4 ms of its first try.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let letters = queued(&mut dead_letters);
    let mut letters_of: HashMap<(&str, u64), Vec<_>> = HashMap::new();
    for letter in &letters {
        letters_of
            .entry((letter.plugin.as_str(), letter.id))
            .or_default()
            .push(letter);
    }
    let mut wrong = Vec::new();
    let mut dead = 0;
    for (number, plugin) in plugins.iter().enumerate() {
        let name = PLUGINS[number];
        for &id in &ids {
            let tries = plugin.tries_of(id);
            let acks = plugin.acks_of(id);
            let letters = letters_of.remove(&(name, id)).unwrap_or_default();
            // The try that acks is the first that does not fail.
            let first_ok = (1..=MAX_TRIES).find(|&n| !fails(number, id, n));
            let right = match first_ok {
                Some(n) => tries == n && acks == 1 && letters.is_empty(),
                None => {
                    dead += 1;
                    tries == MAX_TRIES
                        && acks == 0
                        && matches!(
                            &letters[..],
                            [letter] if letter.tries == MAX_TRIES
                                && letter.reason == Reason::OutOfTries
                                && letter.last_error == Some(error_of(name, id, MAX_TRIES))
                        )
                }
            };
            if !right {
                wrong.push(format!(
                    "{name}, message {id}: {tries} tries, {acks} acks, {} dead letters \
                     (its first try to succeed: {first_ok:?})",
                    letters.len()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} deliveries did not end exactly once ({dead} of them should have \
         been dead-lettered after {MAX_TRIES} tries, the others acked by the first \
         try that succeeds). The first ones:\n{}",
        wrong.len(),
        MESSAGES * PLUGINS.len() as u64,
        wrong[..wrong.len().min(8)].join("\n")
    );
    assert!(
        letters_of.is_empty(),
        "dead letters for messages nobody sent: {:?}",
        letters_of.keys().take(8).collect::<Vec<_>>()
    );

    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(0),
        "every delivery has ended: no message is in flight"
    );
    drop(letters_of);
    drop(letters);
    settle().await;
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "every delivery has ended and every dead letter is dropped, yet these \
         many buffers are still held"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_command_queue_holds_its_callers_back() {
    // 1,000 sends begun while the loop cannot run (this task never yields
    // between them): the command queue takes 64, and every send after that
    // waits for room. Dropped before there is any, those are never accepted.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    let counter = Scripted::new("counter", |_, _| Act::Ack);
    within("plug", dispatcher.plug(counter.clone()))
        .await
        .unwrap();
    let mut sends: Vec<_> = (0..1_000)
        .map(|n| Box::pin(dispatcher.send(payload(n))))
        .collect();
    for send in &mut sends {
        assert!(
            futures::FutureExt::now_or_never(send).is_none(),
            "a send was answered while the loop could not run"
        );
    }
    drop(sends);
    settle().await;
    let accepted = counter.ids().len();
    assert!(
        (1..=64).contains(&accepted),
        "{accepted} of 1,000 sends begun while the loop could not run got in: \
         the command queue holds 64, and a caller beyond that waits for room \
         (is the queue unbounded?)"
    );
    assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(0));
}
