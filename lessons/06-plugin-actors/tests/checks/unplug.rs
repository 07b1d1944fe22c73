//! Unplugging drains: a plugin handles what is already in its mailbox, then
//! is dropped, and `unplug` returns after that. An unplugged plugin gets
//! nothing more, and a dropped host leaves no actor behind.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use lesson::{AskError, PluginReport};
use lesson_support::{alive_tasks, settle, within};
use tokio::sync::Semaphore;

use super::{Behaviour, Probe, host, message};

#[tokio::test(start_paused = true)]
async fn unplug_waits_until_the_queued_messages_are_handled() {
    let gate = Arc::new(Semaphore::new(0));
    let slow = Probe::new();
    let mut host = host(8);
    // Panics on message 3, one of those still queued when unplug is called.
    let id = host.plug(
        "slow",
        slow.gated_factory(
            Behaviour::PanicEvery { every: 5, at: 3 },
            Some(Arc::clone(&gate)),
        ),
    );
    within("five messages into a mailbox of eight", async {
        for seq in 0..5 {
            host.dispatch(message(seq)).await;
        }
    })
    .await;

    let returned = Cell::new(false);
    let unplugging = async {
        let report = host.unplug(id).await;
        returned.set(true);
        report
    };
    let watching = async {
        // An hour of tokio's clock with the plugin stuck on its first
        // message (paused time: it passes at once): unplug waits all that
        // time, and gives up on no drain after some minutes.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(
            !returned.get(),
            "unplug returned while five messages were still queued for the plugin, \
             stuck on the first for an hour: the rule is that a plugin handles \
             what it was sent before it goes, however long that takes"
        );
        // Four handled; the plugin is stuck on the last one, the mailbox empty.
        gate.add_permits(4);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            !returned.get(),
            "unplug returned while the plugin was still on the last message queued \
             for it (its mailbox empty, its handler waiting a minute): an empty \
             mailbox is not a handled one (was the actor stopped once its mailbox \
             was empty?)"
        );
        gate.add_permits(1);
    };
    // Each wait above is bounded; this bounds the whole.
    let (report, ()) = tokio::time::timeout(Duration::from_secs(3900), async {
        tokio::join!(unplugging, watching)
    })
    .await
    .expect("unplug returns once the plugin has handled its queue");

    assert_eq!(
        report,
        Some(PluginReport {
            name: "slow".to_owned(),
            panics: 1,
            gave_up: false
        }),
        "the report unplug returns is read after the drain: it counts the panic on \
         message 3, which was still queued when unplug was called"
    );
    assert_eq!(
        slow.seqs(),
        [0, 1, 2, 3, 4],
        "when unplug returns, the plugin has handled every message queued for it"
    );
    assert_eq!(
        slow.alive(),
        0,
        "when unplug returns, the plugin is dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unplugged_plugin_gets_nothing_more() {
    let probes = [Probe::new(), Probe::new(), Probe::new()];
    let mut host = host(4);
    let ids: Vec<_> = probes
        .iter()
        .enumerate()
        .map(|(n, probe)| host.plug(&format!("plugin {n}"), probe.factory(Behaviour::Record)))
        .collect();

    // Plugin 0 goes after message 9, plugin 1 after message 19.
    for seq in 0..30 {
        if seq == 10 || seq == 20 {
            let gone = ids[seq as usize / 10 - 1];
            within("unplugging", host.unplug(gone))
                .await
                .expect("plugged in");
        }
        within("dispatching", host.dispatch(message(seq))).await;
    }
    settle().await;

    let upto = |end: u64| (0..end).collect::<Vec<u64>>();
    for (n, end) in [(0, 10), (1, 20)] {
        assert_eq!(
            probes[n].seqs(),
            upto(end),
            "plugin {n} was unplugged after message {}: it must get everything \
             before, and nothing after (was another plugin unplugged instead?)",
            end - 1
        );
        assert_eq!(
            probes[n].alive(),
            0,
            "plugin {n} was unplugged, and not dropped"
        );
        assert_eq!(
            host.report(ids[n]),
            None,
            "no report for an unplugged plugin"
        );
        assert_eq!(
            within("unplugging it again", host.unplug(ids[n])).await,
            None
        );
        assert_eq!(
            within("asking it", host.ask(ids[n], message(30))).await,
            Err(AskError::NoSuchPlugin)
        );
    }
    within("unplugging the last one", host.unplug(ids[2])).await;
    assert_eq!(
        probes[2].seqs(),
        upto(30),
        "plugin 2 stayed plugged in, and must get every message"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_host_leaves_no_actor_and_no_plugin_behind() {
    let tasks_before = alive_tasks();
    let probes = [Probe::new(), Probe::new(), Probe::new()];
    // The third plugin is stuck in its handler, on its first message, and
    // never moves on its own.
    let gate = Arc::new(Semaphore::new(0));
    let mut host = host(16);
    for (n, probe) in probes.iter().enumerate() {
        let gate = (n == 2).then(|| Arc::clone(&gate));
        host.plug(
            &format!("plugin {n}"),
            probe.gated_factory(Behaviour::Record, gate),
        );
    }
    within("ten messages", async {
        for seq in 0..10 {
            host.dispatch(message(seq)).await;
        }
    })
    .await;
    settle().await;

    drop(host);
    settle().await;

    assert_eq!(
        alive_tasks(),
        tasks_before,
        "the host is gone, and actor tasks still run: something keeps a mailbox \
         open, or an actor stuck in its plugin's handler was left running"
    );
    for (n, probe) in probes.iter().enumerate() {
        assert_eq!(
            probe.alive(),
            0,
            "the host is gone, and plugin {n} is still alive{}",
            if n == 2 {
                " (it is stuck in its handler: its actor must be stopped, not \
                 just told there is no more mail)"
            } else {
                ""
            }
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_unplugged_plugins_id_is_never_reused() {
    let probes = [Probe::new(), Probe::new(), Probe::new()];
    let mut host = host(4);
    let a = host.plug("a", probes[0].factory(Behaviour::Record));
    let b = host.plug("b", probes[1].factory(Behaviour::Record));
    within("unplugging b", host.unplug(b))
        .await
        .expect("b is plugged in");
    let c = host.plug("c", probes[2].factory(Behaviour::Record));
    assert!(
        c != b && c != a,
        "plugged in after b was unplugged, c got the id {c:?} (a is {a:?}, b was \
         {b:?}): an id is never reused by the same host"
    );
    assert_eq!(
        within("asking the unplugged b", host.ask(b, message(0))).await,
        Err(AskError::NoSuchPlugin),
        "b was unplugged: asking it must not reach another plugin"
    );
    assert_eq!(host.report(b), None, "b was unplugged");
    within("asking c", host.ask(c, message(1)))
        .await
        .expect("c handles its message");
    assert_eq!(probes[2].seqs(), [1], "c got only what was sent to c");
}
