//! A plugin that panics is restarted, fresh from its factory, and its
//! siblings lose nothing; one that panics too often stays down, says so,
//! and holds up nobody. Each plugin counts its own panics, each when it
//! happens.

use std::sync::Arc;
use std::time::Duration;

use lesson::{AskError, Message, Plugin, PluginReport};
use lesson_support::{settle, within};
use tokio::sync::Semaphore;

use super::{Behaviour, Probe, host, message};

#[tokio::test(start_paused = true)]
async fn a_plugin_that_panics_on_every_tenth_message_is_restarted_and_its_siblings_lose_nothing() {
    let before = Probe::new();
    let flaky = Probe::new();
    let after = Probe::new();
    let mut host = host(8);
    let before_id = host.plug("before", before.factory(Behaviour::Record));
    // Panics on messages 4, 14, 24, ..., 94.
    let flaky_id = host.plug(
        "flaky",
        flaky.factory(Behaviour::PanicEvery { every: 10, at: 4 }),
    );
    let after_id = host.plug("after", after.factory(Behaviour::Record));

    for seq in 0..100 {
        within("dispatching", host.dispatch(message(seq))).await;
        // A tenth of a second between messages: one panic a second, fewer
        // than the limit of three within a second.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let report = host
        .report(flaky_id)
        .expect("the flaky plugin is plugged in");
    assert_eq!(
        report,
        PluginReport {
            name: "flaky".to_owned(),
            panics: 10,
            gave_up: false
        },
        "ten panics, a second apart: restarted every time, never given up \
         (the limit is three within a second, on tokio's clock)"
    );
    let seen = flaky.seen();
    let seqs: Vec<u64> = seen.iter().map(|&(_, seq)| seq).collect();
    assert_eq!(
        seqs,
        (0..100).collect::<Vec<u64>>(),
        "the flaky plugin must get every message once, in order, the one it \
         panicked on included, and go on after each panic"
    );
    // Messages 0..=4 went to the first plugin, 5..=14 to the second, ...
    for &(instance, seq) in &seen {
        let want = (seq as usize + 5) / 10 + 1;
        assert_eq!(
            instance, want,
            "message {seq} was handled by plugin instance {instance}, not {want}: \
             after a panic the plugin may be half-updated, so the supervisor makes \
             a fresh one with the factory"
        );
    }
    assert_eq!(flaky.made(), 11, "the first plugin and ten restarts");
    assert_eq!(flaky.alive(), 1, "a plugin that panicked is dropped");

    for id in [before_id, flaky_id, after_id] {
        within("unplugging, which drains the mailbox", host.unplug(id))
            .await
            .expect("still plugged in");
    }
    for (name, probe) in [("before", &before), ("after", &after)] {
        assert_eq!(
            probe.seqs(),
            (0..100).collect::<Vec<u64>>(),
            "plugin {name:?} lost messages when its sibling panicked"
        );
    }
    assert_eq!(flaky.alive(), 0, "unplugged, the last instance is dropped");
}

#[tokio::test(start_paused = true)]
async fn a_plugin_that_panics_too_often_stays_down_and_says_so() {
    let doomed = Probe::new();
    let sibling = Probe::new();
    let mut host = host(4);
    let doomed_id = host.plug("doomed", doomed.factory(Behaviour::PanicAlways));
    let sibling_id = host.plug("sibling", sibling.factory(Behaviour::Record));

    within("20 messages, one plugin panicking on each", async {
        for seq in 0..20 {
            host.dispatch(message(seq)).await;
        }
    })
    .await;
    settle().await;

    assert_eq!(
        doomed.seqs(),
        [0, 1, 2],
        "a plugin that panics on every message, with no time passing, must be \
         restarted twice and stay down at its third panic (three within a second)"
    );
    assert_eq!(doomed.made(), 3, "the first plugin and two restarts");
    assert_eq!(doomed.alive(), 0, "a plugin that stays down is dropped");
    assert_eq!(
        host.report(doomed_id),
        Some(PluginReport {
            name: "doomed".to_owned(),
            panics: 3,
            gave_up: true
        }),
        "the report says it gave up"
    );

    // Down, it holds up nobody: its mailbox is no place to wait.
    within(
        "20 more messages, with one plugin down: a downed plugin's mailbox must \
         not make the dispatcher wait",
        async {
            for seq in 20..40 {
                host.dispatch(message(seq)).await;
            }
        },
    )
    .await;
    assert_eq!(
        within(
            "asking the plugin that is down",
            host.ask(doomed_id, message(40))
        )
        .await,
        Err(AskError::Down)
    );
    // What a caller logs says why.
    let said = AskError::Down.to_string();
    assert!(said.contains("down"), "AskError::Down displays as {said:?}");
    let report = within("unplugging the plugin that is down", host.unplug(doomed_id)).await;
    assert!(
        report.is_some_and(|r| r.gave_up && r.panics == 3),
        "unplugging it returns the report that says it gave up"
    );
    within("unplugging the sibling", host.unplug(sibling_id)).await;
    assert_eq!(doomed.seqs(), [0, 1, 2], "it stayed down");
    assert_eq!(
        sibling.seqs(),
        (0..40).collect::<Vec<u64>>(),
        "the sibling lost messages while the other plugin panicked and went down"
    );
}

#[tokio::test(start_paused = true)]
async fn the_restart_window_is_measured_from_the_first_panic_in_it() {
    // The limit is three panics less than a second after the first of them.
    // Panics at 0 s, 0.5 s and 1 s: by the third, the first is a whole
    // second old and out of the window, so the plugin is restarted, not
    // given up. (Counted from the last panic instead, each of the three is
    // half a second after the one before: down.)
    let plugin = Probe::new();
    let mut host = host(4);
    let id = host.plug("edge", plugin.factory(Behaviour::PanicAlways));

    // At exactly those instants of tokio's paused clock: a handler takes
    // no time, and `settle` moves the clock on by a few milliseconds.
    let start = tokio::time::Instant::now();
    for (seq, at_ms) in [(0, 0), (1, 500), (2, 1000)] {
        tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
        within("dispatching", host.dispatch(message(seq))).await;
        settle().await;
    }
    assert_eq!(
        host.report(id)
            .map(|report| (report.panics, report.gave_up)),
        Some((3, false)),
        "panics at 0, 0.5 and 1 s are not three within a second: the first \
         is exactly a second old when the third comes"
    );
    // Restarted after each panic: the fresh plugin is made at once, or
    // when the next message comes (none has yet, after the third).
    assert!(
        (3..=4).contains(&plugin.made()),
        "{} plugins made for three panics: the first and a restart after each",
        plugin.made()
    );
}

#[tokio::test(start_paused = true)]
async fn good_messages_between_panics_do_not_reset_the_count() {
    // A plugin that panics on every other message, a tenth of a second
    // apart: its panics at 0.1, 0.3 and 0.5 s are three within a second,
    // whatever it handled well between them.
    let plugin = Probe::new();
    let mut host = host(4);
    let id = host.plug(
        "every other",
        plugin.factory(Behaviour::PanicEvery { every: 2, at: 1 }),
    );
    for seq in 0..20 {
        within("dispatching", host.dispatch(message(seq))).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        host.report(id)
            .map(|report| (report.panics, report.gave_up)),
        Some((3, true)),
        "panics at 0.1, 0.3 and 0.5 s are three within a second: the plugin \
         stays down at the third, though it handled a message well between \
         each two (a good message does not start the count over)"
    );
    assert_eq!(
        plugin.seqs(),
        [0, 1, 2, 3, 4, 5],
        "down at its third panic, on message 5, the plugin gets nothing more"
    );
}

#[tokio::test(start_paused = true)]
async fn the_restart_window_slides_from_panic_to_panic() {
    // The limit is three panics less than a second after the first of them,
    // any three. Panics at 0, 0.9, 1.1 and 1.2 s: the last three are within
    // 0.3 s of each other, so the plugin is down at the fourth panic, though
    // the first is more than a second old by then (a window that starts over
    // once its first panic is a second old never puts it down).
    let plugin = Probe::new();
    let mut host = host(4);
    let id = host.plug("sliding", plugin.factory(Behaviour::PanicAlways));

    let start = tokio::time::Instant::now();
    for (seq, at_ms) in [(0, 0), (1, 900), (2, 1100), (3, 1200)] {
        tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
        within("dispatching", host.dispatch(message(seq))).await;
        settle().await;
    }
    assert_eq!(
        host.report(id)
            .map(|report| (report.panics, report.gave_up)),
        Some((4, true)),
        "panics at 0.9, 1.1 and 1.2 s are three within a second: the plugin \
         stays down at the fourth panic, whenever the first one was"
    );
}

#[tokio::test(start_paused = true)]
async fn each_plugin_counts_its_own_panics() {
    // Two plugins that panic on every message, messages 0.6 s apart: each
    // panics at 0, 0.6, 1.2, ... s, never three times within a second. Both
    // together panic four times within 0.6 s, which is no plugin's business.
    // Both are plugged in under one name: a plugin is its id, not its name.
    let probes = [Probe::new(), Probe::new()];
    let mut host = host(4);
    let ids: Vec<_> = probes
        .iter()
        .map(|probe| host.plug("flaky", probe.factory(Behaviour::PanicAlways)))
        .collect();

    let start = tokio::time::Instant::now();
    for seq in 0..5 {
        tokio::time::sleep_until(start + Duration::from_millis(600 * seq)).await;
        within("dispatching", host.dispatch(message(seq))).await;
        settle().await;
    }
    for (n, id) in ids.into_iter().enumerate() {
        assert_eq!(
            host.report(id)
                .map(|report| (report.panics, report.gave_up)),
            Some((5, false)),
            "plugin {n} panicked five times, 0.6 s apart, never three within a second: \
             the panics of one plugin must not count against another (a window per \
             plugin, not one per host, nor one per name: both are called \"flaky\")"
        );
        assert_eq!(probes[n].seqs(), [0, 1, 2, 3, 4]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_timed_when_it_happens() {
    // A plugin that waits at a gate before it looks at each message, then
    // panics. Three messages are queued at 0 s; the gate lets the first
    // through at 0 s, the second at 0.2 s, the third at 1.2 s: the panics are
    // at 0, 0.2 and 1.2 s, not three within a second. (Timed when each
    // message was taken from the mailbox instead, they are at 0, 0 and 0.2 s.)
    let gate = Arc::new(Semaphore::new(0));
    let plugin = Probe::new();
    let mut host = host(4);
    let id = host.plug(
        "slow to panic",
        plugin.gated_factory(Behaviour::PanicAlways, Some(Arc::clone(&gate))),
    );
    let start = tokio::time::Instant::now();
    within("three messages into a mailbox of four", async {
        for seq in 0..3 {
            host.dispatch(message(seq)).await;
        }
    })
    .await;
    for at_ms in [0, 200, 1200] {
        tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
        gate.add_permits(1);
        settle().await;
    }
    assert_eq!(plugin.seqs(), [0, 1, 2]);
    assert_eq!(
        host.report(id)
            .map(|report| (report.panics, report.gave_up)),
        Some((3, false)),
        "panics at 0, 0.2 and 1.2 s are not three within a second: a panic \
         counts when the handler panics, not when its message left the mailbox"
    );
}

/// A plugin written as a `fn` that returns a future, not as an `async fn`:
/// it panics on odd messages before it returns the future at all.
struct PanicsWhenCalled {
    probe: Arc<Probe>,
}

impl Plugin for PanicsWhenCalled {
    fn handle(&mut self, msg: Message) -> impl Future<Output = ()> + Send {
        self.probe.seen.lock().unwrap().push((0, msg.seq));
        if msg.seq % 2 == 1 {
            lesson_support::panic_on_purpose(format!(
                "plugin panics on message {} on purpose, before it returns a future",
                msg.seq
            ));
        }
        async {}
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_before_the_handler_returns_its_future_is_caught_too() {
    let probe = Probe::new();
    let mut host = host(4);
    let factory_probe = Arc::clone(&probe);
    let id = host.plug("panics when called", move || PanicsWhenCalled {
        probe: Arc::clone(&factory_probe),
    });

    let mut ask = async |seq| within("an ask", host.ask(id, message(seq))).await;
    assert_eq!(ask(0).await, Ok(()));
    assert_eq!(
        ask(1).await,
        Err(AskError::Panicked),
        "the plugin panicked when its handler was called, before there was a \
         future to poll: that is a panic of the plugin like any other, to be \
         caught (call the handler inside what catches the panic, not outside)"
    );
    assert_eq!(ask(2).await, Ok(()), "restarted after the panic");
    assert_eq!(probe.seqs(), [0, 1, 2]);
    assert_eq!(
        host.report(id),
        Some(PluginReport {
            name: "panics when called".to_owned(),
            panics: 1,
            gave_up: false
        })
    );
}
