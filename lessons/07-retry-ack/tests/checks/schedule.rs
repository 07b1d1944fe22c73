//! A failed try is retried after a wait: exponential backoff with full
//! jitter. The wait before retry `n` is what the jitter picks between zero
//! and `min(cap, base * factor^(n - 1))`, to the millisecond, however many
//! retries there are.

use std::time::Duration;

use std::sync::Arc;

use bytes::Bytes;

use lesson::{Dispatcher, Jitter, Reason, RetryPolicy};
use lesson_support::within;
use tokio::time::Instant;

use super::{Act, Asked, Scripted, policy, queued, recording_jitter};

/// The ceilings the jitter was asked to pick under, in milliseconds, in the
/// order asked.
fn ceilings_ms(asked: &Asked) -> Vec<u128> {
    let asked = asked.lock().unwrap();
    asked
        .iter()
        .map(|(ceiling, _)| ceiling.as_millis())
        .collect()
}

/// When `plugin` began its tries of the messages `which` picks, in
/// milliseconds after `start`.
fn tried_at_ms(plugin: &Scripted, start: Instant, which: impl Fn(u64) -> bool) -> Vec<u128> {
    let tries = plugin.tries();
    let picked = tries.iter().filter(|t| which(t.id));
    picked.map(|t| (t.at - start).as_millis()).collect()
}

/// A plugin that fails every try, sent one message under `policy`; returns
/// after 5 s of paused time, with the plugin and when the message was sent.
async fn one_message_that_always_fails(
    policy: RetryPolicy,
    jitter: impl Jitter,
) -> (Arc<Scripted>, Instant) {
    let (dispatcher, _dead_letters) = Dispatcher::new(policy, jitter);
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    within("plug", dispatcher.plug(failing.clone()))
        .await
        .unwrap();
    let start = Instant::now();
    within("send", dispatcher.send("retry me".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    (failing, start)
}

/// One message per entry of `work_ms` to a plugin that fails each of them
/// after that many milliseconds of work (0: at once), under a policy of 2
/// tries with a 100 ms base; returns after 5 s of paused time, with the
/// plugin, when the first was sent, and the ids in the order sent.
async fn messages_failing_apart(
    jitter: impl Jitter,
    work_ms: &[u64],
) -> (Arc<Scripted>, Instant, Vec<u64>) {
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(2, 100, 2, 1_000), jitter);
    // Each message's payload is its work in milliseconds.
    let failing = Scripted::by_payload("failing", |_, _, payload| {
        match std::str::from_utf8(payload).unwrap().parse().unwrap() {
            0 => Act::Fail,
            ms => Act::FailAfter(Duration::from_millis(ms)),
        }
    });
    within("plug", dispatcher.plug(failing.clone()))
        .await
        .unwrap();
    let start = Instant::now();
    let mut ids = Vec::new();
    for ms in work_ms {
        let payload = Bytes::from(ms.to_string());
        ids.push(within("send", dispatcher.send(payload)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    (failing, start, ids)
}

#[tokio::test(start_paused = true)]
async fn retries_wait_a_jittered_exponential_backoff_to_the_millisecond() {
    // Ceilings of 100, 300 and 900 ms, then 2,700 ms held to the cap of 1 s.
    let (jitter, asked) = recording_jitter(|ceiling, n| {
        // 5/8, 3/8, 7/8 and 2/8 of the ceiling, in whole milliseconds: never
        // zero and never the ceiling, so a wait that skips the jitter shows.
        const EIGHTHS: [u64; 4] = [5, 3, 7, 2];
        Duration::from_millis(ceiling.as_millis() as u64 * EIGHTHS[n % 4] / 8)
    });
    // 5 s: longer than the whole schedule (at most 100 + 300 + 900 + 1,000 ms).
    let (failing, start) = one_message_that_always_fails(policy(5, 100, 3, 1_000), jitter).await;

    let tried_at = tried_at_ms(&failing, start, |_| true);
    // The waits the jitter picked: 62, 112, 787 and 250 ms.
    assert_eq!(
        tried_at,
        [0, 62, 174, 961, 1_211],
        "a message that always fails, with 5 tries: the first at once, then \
         each after the wait the jitter picked (62, 112, 787, 250 ms): tries \
         at these milliseconds of paused time, and no more"
    );
    let ceilings = ceilings_ms(&asked);
    assert_eq!(
        ceilings,
        [100, 300, 900, 1_000],
        "the ceilings the jitter was asked to pick under: base * factor^(n - 1), \
         never more than the cap"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_run_of_retries_stays_at_the_cap_and_never_overflows() {
    // A jitter that always picks the ceiling: each wait is the ceiling.
    let (jitter, asked) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy(100, 1, 2, 20), jitter);
    let failing = Scripted::new("failing", |_, _| Act::Fail);
    within("plug", dispatcher.plug(failing.clone()))
        .await
        .unwrap();

    let id = within("send", dispatcher.send("retry me".into()))
        .await
        .unwrap();
    // 1 + 2 + 4 + 8 + 16 ms, then 94 waits of 20 ms: under 2 s.
    tokio::time::sleep(Duration::from_secs(10)).await;

    assert_eq!(
        failing.tries_of(id),
        100,
        "a message that always fails is tried max_tries = 100 times; 2^32 is \
         only 33 retries away, so a ceiling computed as base * factor^(n - 1) \
         and only then held to the cap overflows on the way"
    );
    let ceilings = ceilings_ms(&asked);
    let mut expected = vec![1, 2, 4, 8, 16];
    expected.resize(99, 20);
    assert_eq!(
        ceilings, expected,
        "the ceiling doubles from 1 ms and stays at the cap of 20 ms"
    );
    let letters = queued(&mut dead_letters);
    assert!(
        matches!(
            &letters[..],
            [letter] if letter.tries == 100 && letter.reason == Reason::OutOfTries
        ),
        "after its 100th try the message is dead-lettered: {letters:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_delivery_backs_off_on_its_own_schedule_from_its_own_failure() {
    // The first wait is the whole ceiling, every later one a quarter of it.
    let (jitter, asked) = recording_jitter(|ceiling, n| if n == 0 { ceiling } else { ceiling / 4 });
    // Message 0 fails at once; message 1 works 50 ms, then fails.
    let (failing, start, ids) = messages_failing_apart(jitter, &[0, 50]).await;
    let (first, second) = (ids[0], ids[1]);

    let ceilings = ceilings_ms(&asked);
    assert_eq!(
        ceilings,
        [100, 100],
        "each message's first retry waits under the base ceiling of 100 ms: \
         the ceiling belongs to one delivery, and another delivery's failure \
         does not raise it"
    );
    let tried_at = |id: u64| tried_at_ms(&failing, start, |t| t == id);
    assert_eq!(
        (tried_at(first), tried_at(second)),
        (vec![0, 100], vec![0, 75]),
        "message {first} fails at 0 ms and waits 100 ms; message {second} \
         fails at 50 ms and waits 25 ms, so its retry (at 75 ms) comes before \
         the other's (at 100 ms): each wait counts from its own failure, and \
         a short wait is not held up by a longer one that began earlier"
    );
}

#[tokio::test(start_paused = true)]
async fn a_base_above_the_cap_is_held_to_the_cap() {
    // A jitter that always picks the ceiling: each wait is the ceiling.
    let (jitter, asked) = recording_jitter(|ceiling, _| ceiling);
    let (failing, start) = one_message_that_always_fails(policy(4, 500, 2, 200), jitter).await;

    let ceilings = ceilings_ms(&asked);
    assert_eq!(
        ceilings,
        [200, 200, 200],
        "base 500 ms, cap 200 ms: min(cap, base * factor^(n - 1)) is the cap \
         from the first retry on"
    );
    let tried_at = tried_at_ms(&failing, start, |_| true);
    assert_eq!(tried_at, [0, 200, 400, 600]);
}

/// One message that always fails, under a policy of `max_tries` tries from
/// 1 ms, `factor` times more each retry, and no cap (`Duration::MAX`), with
/// a jitter that picks zero: the tries follow one another at once. Returns
/// the plugin and the ceilings asked, in nanoseconds.
async fn uncapped_from_one_ms(max_tries: u32, factor: u32) -> (Arc<Scripted>, Vec<u128>) {
    let (jitter, asked) = recording_jitter(|_, _| Duration::ZERO);
    let policy = RetryPolicy {
        max_tries,
        base: Duration::from_millis(1),
        factor,
        cap: Duration::MAX,
    };
    let (failing, _) = one_message_that_always_fails(policy, jitter).await;
    let ceilings = asked
        .lock()
        .unwrap()
        .iter()
        .map(|(c, _)| c.as_nanos())
        .collect();
    (failing, ceilings)
}

/// min(Duration::MAX, 1 ms * factor^(n - 1)) for the first `retries`
/// retries, in nanoseconds, computed exactly.
fn exact_ceilings_ns(factor: u128, retries: u32) -> Vec<u128> {
    let max = Duration::MAX.as_nanos();
    (0..retries)
        .map(|n| {
            factor
                .checked_pow(n)
                .and_then(|p| p.checked_mul(1_000_000))
                .map_or(max, |c| c.min(max))
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_cap_of_duration_max_and_a_factor_of_ten_never_overflow() {
    let (failing, ceilings) = uncapped_from_one_ms(40, 10).await;

    assert_eq!(
        failing.tries().len(),
        40,
        "a message that always fails is tried max_tries = 40 times: with a factor \
         of 10, 10^(n - 1) passes u32::MAX at the 11th retry, and a ceiling of 1 ms \
         times 10^(n - 1) passes Duration::MAX at the 24th; neither may overflow"
    );
    // min(cap, 1 ms times 10^(n - 1)), exactly, for every retry: past the
    // 10th, ceilings of months and years, and from the 24th on, the cap.
    let expected = exact_ceilings_ns(10, 39);
    assert_eq!(
        ceilings[..10],
        expected[..10],
        "the ceiling, in nanoseconds, grows tenfold from 1 ms"
    );
    assert_eq!(
        ceilings, expected,
        "past the 10th retry, where 10^(n - 1) no longer fits a u32, the ceiling \
         is still min(cap, base * factor^(n - 1)), in nanoseconds: it keeps \
         growing tenfold until it reaches the cap of Duration::MAX (not held \
         at base * u32::MAX, nor at a bound of its own)"
    );
}

#[tokio::test(start_paused = true)]
async fn ceilings_of_months_and_years_are_exact_to_the_nanosecond() {
    // A factor of 7 from 1 ms: from the 13th retry on, the ceilings (160
    // days, then years, then the cap) are past 2^23 seconds, where
    // neighbouring f64 values of seconds are more than a nanosecond apart.
    let (_, ceilings) = uncapped_from_one_ms(30, 7).await;

    assert_eq!(
        ceilings,
        exact_ceilings_ns(7, 29),
        "base 1 ms, factor 7, no cap: each ceiling is min(cap, base * factor^(n - 1)) \
         to the nanosecond, the ceilings of months and years too (computed in \
         floating point, with powi or mul_f64, they are off by some nanoseconds)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_of_duration_max_overflows_nothing() {
    // No cap at all, and a jitter that picks the whole ceiling: the retry is
    // due Duration::MAX after the failure, far past anything an `Instant`
    // can hold. Waiting that long is fine; adding it to `Instant::now()`
    // panics.
    let (jitter, asked) = recording_jitter(|ceiling, _| ceiling);
    let policy = RetryPolicy {
        max_tries: 2,
        base: Duration::MAX,
        factor: 2,
        cap: Duration::MAX,
    };
    let (dispatcher, mut dead_letters) = Dispatcher::new(policy, jitter);
    let late = Scripted::new("late", |_, n| if n == 1 { Act::Fail } else { Act::Ack });
    within("plug", dispatcher.plug(late.clone())).await.unwrap();
    let id = within("send", dispatcher.send(Bytes::from_static(b"late")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3_600)).await;

    assert_eq!(ceilings_ms(&asked), [Duration::MAX.as_millis()]);
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(1),
        "an hour after the first try failed, its retry still waits its wait of \
         Duration::MAX, and the dispatcher answers (did the loop panic on \
         `Instant::now() + wait`?)"
    );
    assert_eq!(late.tries_of(id), 1, "the retry is not due yet");
    let report = within("shutdown", dispatcher.shutdown(Duration::from_secs(1)))
        .await
        .unwrap();
    let unfinished: Vec<_> = report
        .unfinished
        .iter()
        .map(|l| (l.id, l.tries, l.reason))
        .collect();
    assert_eq!(
        unfinished,
        [(id, 1, Reason::Deadline)],
        "the shutdown's deadline cuts off the retry that waits"
    );
    assert!(queued(&mut dead_letters).is_empty());
}

#[tokio::test(start_paused = true)]
async fn ceilings_that_are_not_whole_milliseconds_are_kept_exactly() {
    // A jitter that always picks the ceiling: each wait is the ceiling.
    let (jitter, asked) = recording_jitter(|ceiling, _| ceiling);
    let policy = RetryPolicy {
        max_tries: 4,
        base: Duration::from_micros(1_500),
        factor: 3,
        cap: Duration::from_micros(10_250),
    };
    let (failing, _) = one_message_that_always_fails(policy, jitter).await;

    let ceilings: Vec<u128> = asked
        .lock()
        .unwrap()
        .iter()
        .map(|(c, _)| c.as_micros())
        .collect();
    assert_eq!(
        ceilings,
        [1_500, 4_500, 10_250],
        "base 1.5 ms, factor 3, cap 10.25 ms: the ceilings, in microseconds, are \
         exact, not rounded to whole milliseconds"
    );
    // tokio's timer counts whole milliseconds: a wait ends on the first
    // millisecond at or after its end, never before it.
    let tries = failing.tries();
    assert_eq!(tries.len(), 4);
    let gaps: Vec<Duration> = tries.windows(2).map(|t| t[1].at - t[0].at).collect();
    let waits = [1_500, 4_500, 10_250].map(Duration::from_micros);
    for (gap, wait) in gaps.iter().zip(waits) {
        assert!(
            *gap >= wait && *gap < wait + Duration::from_millis(1),
            "a retry after a wait of {wait:?} came {gap:?} after the try before it \
             (the gaps: {gaps:?}): it is due once the whole wait has passed, at the \
             timer's next millisecond (a wait cut to whole milliseconds retries \
             early)"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_began_later_and_ends_later_does_not_hold_up_an_earlier_one() {
    // A jitter that always picks the ceiling: each first wait is 100 ms.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    // Message 0 fails at once, message 1 after 10 ms of work, message 2
    // after 20 ms: their retries are due at 100, 110 and 120 ms.
    let (failing, start, ids) = messages_failing_apart(jitter, &[0, 10, 20]).await;

    let tried_at = |id: u64| tried_at_ms(&failing, start, |t| t == id);
    let tried_at: Vec<Vec<u128>> = ids.iter().map(|&id| tried_at(id)).collect();
    assert_eq!(
        tried_at,
        [vec![0, 100], vec![0, 110], vec![0, 120]],
        "three messages fail at 0, 10 and 20 ms and each waits 100 ms: their \
         retries are due at 100, 110 and 120 ms. A wait set later, due later, \
         moves no earlier one's retry, before or after another wait ends (one \
         timer set to the newest wait, or re-armed to it when it rings?)"
    );
}

#[tokio::test(start_paused = true)]
async fn each_plugin_backs_off_on_its_own_and_an_ack_resets_nothing_else() {
    // A jitter that always picks the ceiling.
    let (jitter, asked) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    // Both plugins fail every try of message 0 and ack message 1 at once.
    let script = |_, _, payload: &[u8]| {
        if payload == b"fails" {
            Act::Fail
        } else {
            Act::Ack
        }
    };
    let alpha = Scripted::by_payload("alpha", script);
    let beta = Scripted::by_payload("beta", script);
    for plugin in [&alpha, &beta] {
        within("plug", dispatcher.plug(plugin.clone()))
            .await
            .unwrap();
    }
    let start = Instant::now();
    let failing = within("send", dispatcher.send("fails".into()))
        .await
        .unwrap();
    // Acknowledged by both plugins at 50 ms, between message 0's tries.
    tokio::time::sleep(Duration::from_millis(50)).await;
    within("send", dispatcher.send("acked".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut ceilings = ceilings_ms(&asked);
    ceilings.sort_unstable();
    assert_eq!(
        ceilings,
        [100, 100, 200, 200],
        "one message fails on two plugins, three tries each: each delivery (the \
         message to one plugin) asks for ceilings of 100 then 200 ms. A ceiling \
         kept per message (the second plugin's first retry at 200 ms?) or reset \
         when the plugin acks another message (at 50 ms, so the second retries \
         ask 100 ms?) breaks it"
    );
    for plugin in [&alpha, &beta] {
        let tried_at = tried_at_ms(plugin, start, |id| id == failing);
        assert_eq!(
            tried_at,
            [0, 100, 300],
            "{}'s tries of message {failing}",
            plugin.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_wait_of_years_is_waited_whole() {
    // A ceiling of three years, and a jitter that picks all of it: an
    // `Instant` holds that sum, and `tokio::time::sleep` waits it whole, so
    // the retry comes three years after the failure, to the millisecond.
    let years = Duration::from_secs(3 * 365 * 24 * 3_600);
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let policy = RetryPolicy {
        max_tries: 2,
        base: years,
        factor: 2,
        cap: Duration::MAX,
    };
    let (dispatcher, _dead_letters) = Dispatcher::new(policy, jitter);
    let patient = Scripted::new("patient", |_, n| if n == 1 { Act::Fail } else { Act::Ack });
    within("plug", dispatcher.plug(patient.clone()))
        .await
        .unwrap();
    let start = Instant::now();
    let id = within("send", dispatcher.send(Bytes::from_static(b"patient")))
        .await
        .unwrap();
    tokio::time::sleep(years + Duration::from_secs(1)).await;
    assert_eq!(
        tried_at_ms(&patient, start, |_| true),
        [0, years.as_millis()],
        "the jitter picked a wait of three years: the retry comes three years \
         after the failure, not sooner (is every wait held to a longest wait \
         of its own?)"
    );
    assert_eq!(patient.acks_of(id), 1);
}
