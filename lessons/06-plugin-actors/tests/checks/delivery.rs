//! Every plugin that is plugged in when a message is dispatched gets that
//! message exactly once, in dispatch order, while plugins come and go.

use lesson_support::within;

use super::{Behaviour, Probe, host, message};

/// Many times the mailboxes' 32, so that every mailbox fills up and drains
/// again and again.
const MESSAGES: u64 = 10_000;
/// When the second plugin is unplugged, and when a fifth one is plugged in.
const UNPLUG_AT: u64 = 4_000;
const PLUG_AT: u64 = 6_000;

#[tokio::test(start_paused = true)]
async fn every_plugin_present_gets_each_message_once_in_order() {
    let probes = [Probe::new(), Probe::new(), Probe::new(), Probe::new()];
    let late = Probe::new();
    let mut host = host(32);
    let mut ids: Vec<_> = probes
        .iter()
        .enumerate()
        .map(|(n, probe)| host.plug(&format!("plugin {n}"), probe.factory(Behaviour::Record)))
        .collect();

    for seq in 0..MESSAGES {
        if seq == UNPLUG_AT {
            // Messages are still queued for it: they are its to handle.
            within("unplugging plugin 1", host.unplug(ids[1]))
                .await
                .expect("plugin 1 is plugged in");
        }
        if seq == PLUG_AT {
            ids.push(host.plug("late", late.factory(Behaviour::Record)));
        }
        within("dispatching a message", host.dispatch(message(seq))).await;
    }
    for id in [ids[0], ids[2], ids[3], ids[4]] {
        within("unplugging, which drains the mailbox", host.unplug(id))
            .await
            .expect("still plugged in");
    }

    let expected = |range: std::ops::Range<u64>| range.collect::<Vec<u64>>();
    for (n, probe) in probes.iter().enumerate() {
        let want = if n == 1 {
            expected(0..UNPLUG_AT)
        } else {
            expected(0..MESSAGES)
        };
        let seen = probe.seqs();
        assert!(
            seen == want,
            "plugin {n} should have seen messages {}..{} once each, in order; \
             it saw {} messages{}",
            want[0],
            want[want.len() - 1] + 1,
            seen.len(),
            first_difference(&seen, &want),
        );
    }
    let seen = late.seqs();
    let want = expected(PLUG_AT..MESSAGES);
    assert!(
        seen == want,
        "the plugin plugged in at message {PLUG_AT} should have seen {PLUG_AT}..{MESSAGES}, \
         once each, in order; it saw {} messages{}",
        seen.len(),
        first_difference(&seen, &want),
    );
}

/// Where `seen` first differs from `want`, for the failure message.
fn first_difference(seen: &[u64], want: &[u64]) -> String {
    match seen.iter().zip(want).position(|(a, b)| a != b) {
        Some(i) => format!(
            "; the first difference is at position {i}: {} instead of {}",
            seen[i], want[i]
        ),
        None if seen.len() < want.len() => format!("; the first missing is {}", want[seen.len()]),
        None if seen.len() > want.len() => format!("; then more: {}", seen[want.len()]),
        None => String::new(),
    }
}
