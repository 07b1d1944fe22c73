//! A graceful shutdown stops taking messages at once, lets every accepted
//! one be acknowledged or dead-lettered (retries included) before its
//! deadline, reports what the deadline cut off, and returns as soon as all
//! is done. Every send after it begins is refused at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lesson::{DeadLetter, Dispatcher, Reason, ShutDown, ShutdownReport};
use lesson_support::{settle, within};
use tokio::time::Instant;

use super::{Act, Scripted, error_of, mix, payload, policy, recording_jitter, tracked};

/// Every dead letter until the queue ends, which it does once the
/// dispatcher's loop is over.
async fn all_letters(dead_letters: &mut lesson::DeadLetters) -> Vec<DeadLetter> {
    let mut letters = Vec::new();
    while let Some(letter) = within("the dead-letter queue to end", dead_letters.recv()).await {
        letters.push(letter);
    }
    letters
}

#[tokio::test(start_paused = true)]
async fn shutdown_under_load_finishes_every_accepted_message() {
    const MAX_TRIES: u32 = 4;
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling / 2);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(MAX_TRIES, 4, 2, 16), jitter);
    // Each try works 1 to 5 ms; one in three fails.
    let plugins: Vec<Arc<Scripted>> = ["alpha", "beta", "gamma"]
        .iter()
        .enumerate()
        .map(|(number, name)| {
            Scripted::new(name, move |id, n| {
                let roll = mix(id << 16 | (number as u64) << 8 | u64::from(n));
                let work = Duration::from_millis(1 + roll % 5);
                if roll.is_multiple_of(3) {
                    Act::FailAfter(work)
                } else {
                    Act::AckAfter(work)
                }
            })
        })
        .collect();
    for plugin in &plugins {
        within("plug", dispatcher.plug(plugin.clone()))
            .await
            .unwrap();
    }

    // Four senders, each sending a message every millisecond until refused.
    let senders: Vec<_> = (0..4_u64)
        .map(|sender| {
            let dispatcher = dispatcher.clone();
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                for n in 0..10_000 {
                    let asked = Instant::now();
                    match within("send", dispatcher.send(payload(sender * 100_000 + n))).await {
                        Ok(id) => accepted.push(id),
                        Err(ShutDown) => return (accepted, asked.elapsed()),
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                panic!("a sender was never refused");
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Duration::from_secs(20);
    let asked = Instant::now();
    let report = within("shutdown", dispatcher.shutdown(deadline))
        .await
        .unwrap();
    let took = asked.elapsed();

    // What each plugin had done when shutdown returned.
    let done: Vec<HashMap<u64, (u32, u32)>> = plugins
        .iter()
        .map(|plugin| {
            plugin
                .ids()
                .into_iter()
                .map(|id| (id, (plugin.tries_of(id), plugin.acks_of(id))))
                .collect()
        })
        .collect();
    let letters = all_letters(&mut dead_letters).await;
    let mut accepted = BTreeSet::new();
    for sender in senders {
        let (ids, refused_after) = within("a sender", sender).await.unwrap();
        assert_eq!(
            refused_after,
            Duration::ZERO,
            "a send after the shutdown began was refused only after a wait"
        );
        accepted.extend(ids);
    }

    assert!(
        accepted.len() > 300,
        "only {} messages were accepted in 300 ms",
        accepted.len()
    );
    assert!(
        report.unfinished.is_empty(),
        "with a deadline of 20 s, nothing should be left unfinished: {:?}",
        &report.unfinished[..report.unfinished.len().min(4)]
    );
    let dead: HashMap<(&str, u64), usize> =
        letters.iter().fold(HashMap::new(), |mut dead, letter| {
            *dead.entry((letter.plugin.as_str(), letter.id)).or_default() += 1;
            dead
        });
    let mut lost = Vec::new();
    for (plugin, done) in plugins.iter().zip(&done) {
        for &id in &accepted {
            let (tries, acks) = done.get(&id).copied().unwrap_or_default();
            let letters = dead.get(&(plugin.name.as_str(), id)).copied().unwrap_or(0);
            let ended_once =
                (acks == 1 && letters == 0) || (acks == 0 && letters == 1 && tries == MAX_TRIES);
            if !ended_once {
                lost.push(format!(
                    "{}, message {id}: {tries} tries, {acks} acks, {letters} dead letters",
                    plugin.name
                ));
            }
        }
        let strangers: Vec<&u64> = done.keys().filter(|id| !accepted.contains(id)).collect();
        assert!(
            strangers.is_empty(),
            "{} was handed messages whose send was refused: {strangers:?}",
            plugin.name
        );
    }
    assert!(
        lost.is_empty(),
        "shutdown returned, and {} of {} accepted deliveries had not ended (acked \
         once, or dead-lettered once after {MAX_TRIES} tries). The first ones:\n{}",
        lost.len(),
        accepted.len() * plugins.len(),
        lost[..lost.len().min(8)].join("\n")
    );
    assert!(
        took < Duration::from_secs(1),
        "shutdown took {took:?}: it returns once every delivery has ended, not \
         at its deadline of {deadline:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_reports_what_it_could_not_finish_by_the_deadline() {
    let tasks_before = lesson_support::alive_tasks();
    // Retries of "failing" wait a second, longer than the deadline.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(10, 1_000, 2, 10_000), jitter);
    let steady = Scripted::new("steady", |_, _| Act::Ack);
    let stuck = Scripted::new(
        "stuck",
        |id, _| if id % 2 == 1 { Act::Hang } else { Act::Ack },
    );
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    for plugin in [&steady, &stuck, &failing] {
        within("plug", dispatcher.plug(Arc::clone(plugin) as _))
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(within("send", dispatcher.send(payload(n))).await.unwrap());
    }
    settle().await;

    let deadline = Duration::from_millis(500);
    let asked = Instant::now();
    let report = within("shutdown", dispatcher.shutdown(deadline))
        .await
        .unwrap();
    assert_eq!(
        asked.elapsed(),
        deadline,
        "a stuck plugin keeps the shutdown waiting until its deadline, and no longer"
    );

    let mut expected = Vec::new();
    for (n, &id) in ids.iter().enumerate() {
        if id % 2 == 1 {
            expected.push((id, "stuck".to_owned(), payload(n as u64), 1, None));
        }
        let error = error_of("failing", id, 1);
        expected.push((id, "failing".to_owned(), payload(n as u64), 1, Some(error)));
    }
    expected.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut unfinished: Vec<_> = report
        .unfinished
        .iter()
        .map(|letter| {
            assert_eq!(letter.reason, Reason::Deadline, "{letter:?}");
            (
                letter.id,
                letter.plugin.clone(),
                letter.payload.clone(),
                letter.tries,
                letter.last_error.clone(),
            )
        })
        .collect();
    unfinished.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(
        unfinished, expected,
        "the report lists every delivery the deadline cut off: the stuck plugin's \
         odd messages (a try running, no error yet) and every message of the \
         failing plugin (waiting to retry, with its last error)"
    );
    for &id in &ids {
        assert_eq!(steady.acks_of(id), 1);
        assert_eq!(stuck.acks_of(id), u32::from(id % 2 == 0));
    }
    settle().await;
    assert_eq!(
        stuck.dropped(),
        3,
        "the three tries still running at the deadline are dropped"
    );
    assert_eq!(
        lesson_support::alive_tasks(),
        tasks_before,
        "once the shutdown has returned, nothing of the dispatcher runs on: not \
         its loop, not a try, not a wait (a timer spawned as a task that nothing \
         stops?)"
    );
    let letters = all_letters(&mut dead_letters).await;
    assert!(
        letters.is_empty(),
        "what the report lists is not also dead-lettered: {letters:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_send_after_shutdown_is_refused_at_once_with_a_clear_error() {
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 10, 2, 100), jitter);
    let slow = Scripted::new("slow", |_, _| Act::AckAfter(Duration::from_secs(1)));
    within("plug", dispatcher.plug(slow.clone())).await.unwrap();
    let id = within("send", dispatcher.send(payload(1))).await.unwrap();

    // The shutdown waits a second for the slow plugin; meanwhile, more sends.
    let closing = tokio::spawn({
        let dispatcher = dispatcher.clone();
        async move { dispatcher.shutdown(Duration::from_secs(10)).await }
    });
    settle().await;
    let asked = Instant::now();
    let refused = within("a send during the shutdown", dispatcher.send(payload(2))).await;
    assert_eq!(
        refused,
        Err(ShutDown),
        "a send during the shutdown is refused"
    );
    assert_eq!(
        asked.elapsed(),
        Duration::ZERO,
        "the send was refused only after a wait: a refusal is at once"
    );
    let message = ShutDown.to_string();
    assert!(
        message.contains("shut down"),
        "the error says what happened: {message:?}"
    );
    assert_eq!(
        within("a plug during the shutdown", dispatcher.plug(slow.clone())).await,
        Err(ShutDown)
    );
    assert_eq!(
        within(
            "a second shutdown",
            dispatcher.shutdown(Duration::from_secs(10))
        )
        .await,
        Err(ShutDown)
    );

    let report = within("the shutdown", closing).await.unwrap().unwrap();
    assert!(report.unfinished.is_empty(), "{report:?}");
    assert_eq!(slow.acks_of(id), 1, "the accepted message was finished");
    assert_eq!(slow.ids(), [id], "the refused message was not delivered");

    let asked = Instant::now();
    assert_eq!(
        within("a send after the shutdown", dispatcher.send(payload(3))).await,
        Err(ShutDown)
    );
    assert_eq!(asked.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_ends_the_loop_quietly() {
    let panics_before = lesson_support::panics_on_this_thread();
    let tasks_before = lesson_support::alive_tasks();

    // A caller that does not read the dead letters drops the queue at once.
    // A message that fails its one try is dead-lettered into nowhere, and the
    // dispatcher goes on.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling / 2);
    let (unread, _) = Dispatcher::new(policy(1, 4, 2, 16), jitter);
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    within("plug", unread.plug(failing.clone())).await.unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    let id = within("send", unread.send(tracked(b"lost", &live)))
        .await
        .unwrap();
    settle().await;
    assert_eq!(failing.tries_of(id), 1, "one try, then a dead letter");
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "the letter went to a queue that was dropped: it goes nowhere, and its \
         buffer is freed while the dispatcher lives on (letters the queue refused \
         kept somewhere?)"
    );
    assert_eq!(
        within("in_flight", unread.in_flight()).await,
        Ok(0),
        "the message was dead-lettered, into a queue that was dropped: the dispatcher \
         goes on (does a dead letter that nobody receives stop the loop, a `send` \
         unwrapped?)"
    );
    drop(unread);
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling / 2);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(2, 4, 2, 16), jitter);
    let plugin = Scripted::new("alpha", |_, _| Act::AckAfter(Duration::from_millis(1)));
    within("plug", dispatcher.plug(plugin.clone()))
        .await
        .unwrap();
    within("send", dispatcher.send(payload(1))).await.unwrap();
    settle().await;

    // No shutdown: the last handle goes, with nothing owed. The loop ends,
    // and its dead-letter queue with it, without a panic.
    drop(dispatcher);
    let letters = all_letters(&mut dead_letters).await;
    settle().await;

    assert!(letters.is_empty(), "nothing failed: {letters:?}");
    assert_eq!(
        lesson_support::alive_tasks(),
        tasks_before,
        "the dispatcher's loop is still running after its last handle was dropped"
    );
    assert_eq!(
        lesson_support::panics_on_this_thread() - panics_before,
        0,
        "the dispatcher's loop panicked when its last handle was dropped (a `select!` \
         whose branches were all disabled?): it must end on its own"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_is_not_pushed_back_by_the_tries_that_end_before_it() {
    // "busy" works a minute and fails, every try; its retries wait 1 ms. Its
    // tries start at 0, 60, 120, 180 and 240 s (and a few ms): something
    // ends every minute, and a shutdown's deadline of 270 s must still come
    // at 270 s.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(100, 1, 1, 1), jitter);
    let busy = Scripted::new("busy", |_, _| Act::FailAfter(Duration::from_secs(60)));
    within("plug", dispatcher.plug(busy.clone())).await.unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    let sent = tracked(b"message 1", &live);
    let address = sent.as_ptr();
    // The check keeps no handle of the buffer: the dispatcher's are the only ones.
    let id = within("send", dispatcher.send(sent)).await.unwrap();

    let deadline = Duration::from_secs(270);
    let asked = Instant::now();
    // Longer than `within` waits: a deadline that starts over at every step
    // never comes, and this fails after ten minutes of paused time.
    let report = tokio::time::timeout(Duration::from_secs(600), dispatcher.shutdown(deadline))
        .await
        .expect("the shutdown had not returned ten minutes after it began: is its deadline started over whenever a try ends?")
        .unwrap();
    assert_eq!(
        asked.elapsed(),
        deadline,
        "a try ends every minute; the deadline counts from the shutdown, not \
         from the last thing that happened"
    );
    let unfinished: Vec<_> = report
        .unfinished
        .iter()
        .map(|l| {
            (
                l.id,
                l.plugin.as_str(),
                l.tries,
                l.last_error.clone(),
                l.reason,
            )
        })
        .collect();
    assert_eq!(
        unfinished,
        [(
            id,
            "busy",
            5,
            Some(error_of("busy", id, 4)),
            Reason::Deadline
        )],
        "at 270 s the fifth try runs: the report counts it, and carries the \
         error of the fourth, the last that failed"
    );
    assert_eq!(
        report.unfinished[0].payload.as_ptr(),
        address,
        "the report's payload is the sender's bytes, not a copy"
    );
    settle().await;
    assert_eq!(busy.dropped(), 1, "the running try is dropped");
    assert!(all_letters(&mut dead_letters).await.is_empty());
    assert_eq!(
        live.load(Ordering::SeqCst),
        1,
        "the loop has ended: the report holds the message, and nothing else may"
    );
    drop(report);
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "the report held the last handle"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_of_duration_max_overflows_nothing() {
    // A deadline of Duration::MAX is no deadline: the shutdown drains for as
    // long as it takes, here three years. Sleeping that long is fine; adding
    // it to `Instant::now()` panics.
    let years = Duration::from_secs(3 * 365 * 24 * 3_600);
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    let slow = Scripted::new("slow", move |_, _| Act::AckAfter(years));
    within("plug", dispatcher.plug(slow.clone())).await.unwrap();
    let id = within("send", dispatcher.send(payload(0))).await.unwrap();

    let asked = Instant::now();
    // Longer than `within` waits: the drain takes three years.
    let report = tokio::time::timeout(
        years + Duration::from_secs(60),
        dispatcher.shutdown(Duration::MAX),
    )
    .await
    .expect("the shutdown had not returned a minute after its last delivery ended");
    assert_eq!(
        report,
        Ok(ShutdownReport::default()),
        "a shutdown with a deadline of Duration::MAX drains everything and \
         reports nothing unfinished (did the loop panic on `Instant::now() + \
         deadline`, or hold the deadline to a longest one of its own?)"
    );
    assert_eq!(
        asked.elapsed(),
        years,
        "it returns once the slow try has acked, three years later"
    );
    assert_eq!(slow.acks_of(id), 1);
    assert!(all_letters(&mut dead_letters).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_still_finishes_what_was_accepted() {
    // Each wait is its ceiling: the retry comes at 100 ms.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    let second_time = Scripted::new("second time", |_, n| {
        if n == 1 {
            Act::FailAfter(Duration::from_millis(100))
        } else {
            Act::Ack
        }
    });
    within("plug", dispatcher.plug(second_time.clone()))
        .await
        .unwrap();
    let id = within("send", dispatcher.send(payload(1))).await.unwrap();
    settle().await;
    assert_eq!(second_time.tries_of(id), 1, "the first try failed");

    // The last handle goes while the retry waits: the message was accepted,
    // so it is still retried, and the loop ends after that.
    drop(dispatcher);
    let letters = all_letters(&mut dead_letters).await;
    assert!(letters.is_empty(), "the retry acks: {letters:?}");
    assert_eq!(
        (second_time.tries_of(id), second_time.acks_of(id)),
        (2, 1),
        "the message was accepted before the last handle was dropped: it is \
         retried and acked all the same, not dropped with the loop"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_with_nothing_owed_returns_at_once() {
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 10, 2, 100), jitter);
    let quick = Scripted::new("quick", |_, _| Act::Ack);
    within("plug", dispatcher.plug(quick.clone()))
        .await
        .unwrap();
    let id = within("send", dispatcher.send(payload(0))).await.unwrap();
    settle().await;
    assert_eq!(quick.acks_of(id), 1);

    let asked = Instant::now();
    let report = within("shutdown", dispatcher.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(
        asked.elapsed(),
        Duration::ZERO,
        "nothing was owed when the shutdown began, so it is done at once: it \
         returns then, not at its deadline (is \"done\" only looked at after a \
         try or a wait ends?)"
    );
    assert!(report.unfinished.is_empty(), "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn retries_during_a_shutdown_keep_their_backoff() {
    // A jitter that always picks the ceiling: waits of 100 and 200 ms.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    within("plug", dispatcher.plug(failing.clone()))
        .await
        .unwrap();
    let start = Instant::now();
    let id = within("send", dispatcher.send(payload(0))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;

    let report = within("shutdown", dispatcher.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
    let tried_at: Vec<u128> = failing
        .tries()
        .iter()
        .map(|t| (t.at - start).as_millis())
        .collect();
    assert_eq!(
        tried_at,
        [0, 100, 300],
        "a shutdown at 10 ms drains the retries on their schedule (waits of 100 \
         and 200 ms): a drain does not skip the backoff to finish sooner"
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "the shutdown returns when the third try is dead-lettered"
    );
    assert!(report.unfinished.is_empty(), "{report:?}");
    let letters = all_letters(&mut dead_letters).await;
    assert!(
        matches!(&letters[..], [letter] if letter.id == id && letter.tries == 3),
        "{letters:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_due_after_the_deadline_is_not_moved_to_it() {
    // The first try fails at 100 ms, once the shutdown has begun; its retry
    // is due 1 s later, after the shutdown's deadline of 800 ms: the
    // deadline cuts it off. A retry moved to the deadline would
    // be due in the deadline's own instant, where either may come first, so
    // the check runs 20 times.
    for round in 0..20 {
        let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
        let (dispatcher, _dead_letters) = Dispatcher::new(policy(2, 1_000, 2, 1_000), jitter);
        let plugin = Scripted::new("second-try-acks", |_, n| {
            if n == 1 {
                Act::FailAfter(Duration::from_millis(100))
            } else {
                Act::Ack
            }
        });
        within("plug", dispatcher.plug(plugin.clone()))
            .await
            .unwrap();
        let id = within("send", dispatcher.send(payload(0))).await.unwrap();
        let report = within("shutdown", dispatcher.shutdown(Duration::from_millis(800)))
            .await
            .unwrap();
        assert_eq!(
            (plugin.tries_of(id), &report.unfinished[..]),
            (
                1,
                &[DeadLetter {
                    id,
                    plugin: "second-try-acks".into(),
                    payload: payload(0),
                    tries: 1,
                    last_error: Some(error_of("second-try-acks", id, 1)),
                    reason: Reason::Deadline,
                }][..]
            ),
            "round {round}: a retry due at 1.1 s, after the deadline of 800 ms, is cut \
             off by it, untried (a wait shortened to end at the deadline, to give \
             the message one more chance?)"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_on_its_call_stops_nothing() {
    use futures::FutureExt;

    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 10, 2, 100), jitter);
    let slow = Scripted::new("slow", |_, _| Act::AckAfter(Duration::from_millis(100)));
    within("plug", dispatcher.plug(slow.clone())).await.unwrap();
    let spare = Scripted::new("spare", |_, _| Act::Ack);
    within("plug", dispatcher.plug(spare)).await.unwrap();
    let id = within("send", dispatcher.send(payload(0))).await.unwrap();

    // Callers that drop their calls after the command is queued (a timeout
    // around them, a `select!` that took another branch): nobody hears the
    // answer.
    assert_eq!(dispatcher.send(payload(1)).now_or_never(), None);
    assert_eq!(dispatcher.in_flight().now_or_never(), None);
    assert_eq!(dispatcher.plug(slow.clone()).now_or_never(), None);
    assert_eq!(dispatcher.unplug("spare").now_or_never(), None);
    settle().await;

    assert!(
        within("in_flight", dispatcher.in_flight()).await.is_ok(),
        "a caller dropped its call, and the dispatcher stopped answering (a \
         reply sent with `expect`?)"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        slow.acks_of(id),
        1,
        "the message accepted before was finished"
    );

    // A shutdown whose caller gives up too (a timeout around it): the
    // shutdown has begun, and its drain still finishes what was accepted.
    let last = within("send", dispatcher.send(payload(2))).await.unwrap();
    assert_eq!(
        dispatcher.shutdown(Duration::from_secs(10)).now_or_never(),
        None
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        slow.tries_of(last) > 0 && slow.acks_of(last) == slow.tries_of(last),
        "a shutdown whose caller gave up on it still drains: each try of the \
         message sent before it acks 100 ms later, but {} of its {} tries acked \
         (did the loop end when nobody waited for the report?)",
        slow.acks_of(last),
        slow.tries_of(last)
    );
    assert_eq!(
        within("send", dispatcher.send(payload(3))).await,
        Err(ShutDown),
        "the shutdown was queued before its caller gave up: it began"
    );
}
