//! A slow plugin makes the dispatcher wait once its mailbox is full: memory
//! stays bounded by the mailboxes' sizes, no message is dropped, and the
//! slow plugin's siblings are not held up before that.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use lesson_support::{settle, within};
use tokio::sync::Semaphore;

use super::{Behaviour, Probe, StuckPlugin, dispatch_counting, host, message};

const CAPACITY: usize = 4;
const MESSAGES: u64 = 100;

#[tokio::test(start_paused = true)]
async fn a_slow_plugin_makes_the_dispatcher_wait() {
    // A gate that stays shut until the check opens it: the slow plugin
    // handles nothing until then.
    let gate = Arc::new(Semaphore::new(0));
    let fast = Probe::new();
    let slow = Probe::new();
    let mut host = host(CAPACITY);
    let fast_id = host.plug("fast", fast.factory(Behaviour::Record));
    let slow_id = host.plug(
        "slow",
        slow.gated_factory(Behaviour::Record, Some(Arc::clone(&gate))),
    );

    let dispatched = Cell::new(0_u64);
    let dispatching = async {
        for seq in 0..MESSAGES {
            host.dispatch(message(seq)).await;
            dispatched.set(seq + 1);
        }
    };
    let watching = async {
        settle().await;
        let done = dispatched.get();
        // The slow plugin holds one message at its gate and CAPACITY in its
        // mailbox, and not one more: the configured capacity is the bound.
        assert!(
            done <= CAPACITY as u64 + 1,
            "the slow plugin has handled nothing, its mailbox holds {CAPACITY}, and yet \
             {done} of {MESSAGES} dispatches returned: a mailbox that does not make the \
             dispatcher wait when full lets memory grow without bound (or drops \
             messages), and one that takes more than its capacity is not the \
             configured one (a channel made one larger?)"
        );
        assert!(
            done >= CAPACITY as u64,
            "only {done} dispatches returned while the slow plugin's mailbox \
             ({CAPACITY} messages) was not yet full: a slow plugin holds up the \
             dispatcher before its mailbox is full (are handlers run by the dispatcher?)"
        );
        let fast_seen = fast.seqs().len() as u64;
        assert!(
            fast_seen >= done,
            "the fast plugin has handled {fast_seen} of the {done} messages dispatched \
             so far: the slow plugin holds up its sibling (one task for all plugins?)"
        );
        gate.add_permits(MESSAGES as usize);
    };
    within(
        "dispatching while a slow plugin holds things up, then lets go",
        async { tokio::join!(dispatching, watching) },
    )
    .await;

    for id in [fast_id, slow_id] {
        within("unplugging, which drains the mailbox", host.unplug(id))
            .await
            .expect("still plugged in");
    }
    let all: Vec<u64> = (0..MESSAGES).collect();
    assert_eq!(
        fast.seqs(),
        all,
        "the fast plugin lost or reordered messages"
    );
    assert_eq!(
        slow.seqs(),
        all,
        "the slow plugin lost or reordered messages: waiting for room is the \
         policy here, not dropping"
    );
}

#[tokio::test(start_paused = true)]
async fn a_plugin_stuck_for_a_minute_loses_nothing() {
    // A plugin stuck on its first message for a whole minute of tokio's
    // clock, with a mailbox of one: the dispatcher waits all that minute. A
    // dispatcher that gives up on a slow plugin after a while, and drops the
    // message for it, sheds load the rule says to wait for.
    let StuckPlugin {
        mut host,
        id,
        probe: stuck,
        gate,
    } = StuckPlugin::behind_a_mailbox_of(1);
    let dispatched = Cell::new(0_u64);
    let dispatching = dispatch_counting(&mut host, 5, &dispatched);
    let watching = async {
        for second in [10, 20, 30, 40, 50, 60] {
            within(
                "ten seconds of tokio's clock",
                tokio::time::sleep(Duration::from_secs(10)),
            )
            .await;
            let done = dispatched.get();
            assert!(
                done < 5,
                "five messages for a plugin stuck on the first, with a mailbox of \
                 one, and all five dispatches returned within {second} s: the \
                 dispatcher stopped waiting for the stuck plugin (a timeout that \
                 drops the message?)"
            );
        }
        gate.add_permits(5);
    };
    // Each step above has its own timeout; this one bounds the whole.
    tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(dispatching, watching)
    })
    .await
    .expect("the dispatches return once the stuck plugin moves");
    within("unplugging, which drains the mailbox", host.unplug(id))
        .await
        .expect("still plugged in");
    assert_eq!(
        stuck.seqs(),
        [0, 1, 2, 3, 4],
        "a plugin that was stuck for a minute lost messages: no message is \
         dropped while its plugin is up, however long it takes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_mailbox_capacity_of_0_holds_one_message() {
    // `mailbox_capacity` is at least 1: a host configured with 0 has
    // mailboxes of one, and waits, as with 1.
    let StuckPlugin {
        mut host,
        id,
        probe: stuck,
        gate,
    } = StuckPlugin::behind_a_mailbox_of(0);
    let dispatched = Cell::new(0_u64);
    let dispatching = dispatch_counting(&mut host, 10, &dispatched);
    let watching = async {
        settle().await;
        let done = dispatched.get();
        assert!(
            (1..=3).contains(&done),
            "{done} of 10 dispatches returned to a plugin stuck on its first message, \
             with a mailbox capacity of 0: that is a mailbox of one"
        );
        gate.add_permits(10);
    };
    within("dispatching to a mailbox of capacity 0", async {
        tokio::join!(dispatching, watching)
    })
    .await;
    within("unplugging", host.unplug(id)).await;
    assert_eq!(stuck.seqs(), (0..10).collect::<Vec<u64>>());
}
