//! `ask` hands one plugin a message after what is already queued for it,
//! and returns once the plugin has handled it, saying whether the handler
//! panicked.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use lesson::AskError;
use lesson_support::{settle, within};
use tokio::sync::Semaphore;

use super::{Behaviour, Probe, StuckPlugin, dispatch_counting, host, message};

#[tokio::test(start_paused = true)]
async fn ask_returns_once_the_plugin_has_handled_the_message() {
    let gate = Arc::new(Semaphore::new(0));
    let probe = Probe::new();
    let mut host = host(8);
    let id = host.plug(
        "gated",
        probe.gated_factory(Behaviour::Record, Some(Arc::clone(&gate))),
    );
    within("three messages into a mailbox of eight", async {
        for seq in 0..3 {
            host.dispatch(message(seq)).await;
        }
    })
    .await;

    let answered = Cell::new(false);
    let asking = async {
        let answer = host.ask(id, message(3)).await;
        answered.set(true);
        answer
    };
    let watching = async {
        // Enough for the three messages before the one asked about.
        gate.add_permits(3);
        settle().await;
        assert_eq!(probe.seqs(), [0, 1, 2]);
        assert!(
            !answered.get(),
            "ask returned before the plugin handled the message (it waits at the \
             gate): answer after the handler, not when the message arrives"
        );
        gate.add_permits(1);
    };
    let (answer, ()) = within("an ask", async { tokio::join!(asking, watching) }).await;

    assert_eq!(answer, Ok(()));
    assert_eq!(
        probe.seqs(),
        [0, 1, 2, 3],
        "when ask returns, the plugin has handled the message, after those \
         dispatched before it"
    );
}

#[tokio::test(start_paused = true)]
async fn ask_says_when_the_handler_panicked_or_the_plugin_is_unknown() {
    let probe = Probe::new();
    let mut host = host(4);
    // Panics on odd messages.
    let id = host.plug(
        "odd",
        probe.factory(Behaviour::PanicEvery { every: 2, at: 1 }),
    );

    let mut ask = async |seq| within("an ask", host.ask(id, message(seq))).await;
    assert_eq!(ask(0).await, Ok(()));
    assert_eq!(
        ask(1).await,
        Err(AskError::Panicked),
        "the handler panicked on this message, and the asker must hear of it"
    );
    assert_eq!(ask(2).await, Ok(()), "restarted after the panic");
    assert_eq!(probe.seqs(), [0, 1, 2]);

    within("unplugging", host.unplug(id)).await;
    assert_eq!(
        within("asking an unplugged plugin", host.ask(id, message(3))).await,
        Err(AskError::NoSuchPlugin)
    );
}

#[tokio::test(start_paused = true)]
async fn the_ask_that_puts_a_plugin_down_hears_panicked() {
    // Three asks of a plugin that panics on every message: each handler
    // panicked on its message, the third too, though that panic puts the
    // plugin down. Only an ask after that hears `Down`.
    let probe = Probe::new();
    let mut host = host(4);
    let id = host.plug("doomed", probe.factory(Behaviour::PanicAlways));
    let mut answers = Vec::new();
    for seq in 0..4 {
        answers.push(within("asking", host.ask(id, message(seq))).await);
    }
    assert_eq!(
        answers,
        [
            Err(AskError::Panicked),
            Err(AskError::Panicked),
            Err(AskError::Panicked),
            Err(AskError::Down)
        ],
        "the third ask's handler panicked on it, which put the plugin down: \
         that ask hears Panicked (what became of its message), the fourth Down"
    );
    assert_eq!(probe.seqs(), [0, 1, 2], "down after its third panic");
}

#[tokio::test(start_paused = true)]
async fn an_ask_queued_behind_the_last_panic_hears_down() {
    // Three messages for a plugin that panics on every one, and an ask
    // queued behind them: the third panic puts the plugin down before the
    // ask's message is handled, so the ask hears `Down`: its handler never
    // ran, so it did not panic.
    let probe = Probe::new();
    let mut host = host(4);
    let id = host.plug("doomed", probe.factory(Behaviour::PanicAlways));
    within("three messages into a mailbox of four", async {
        for seq in 0..3 {
            host.dispatch(message(seq)).await;
        }
    })
    .await;
    assert_eq!(
        within(
            "asking behind three doomed messages",
            host.ask(id, message(3))
        )
        .await,
        Err(AskError::Down),
        "the plugin went down with this ask's message still queued: the message was \
         dropped unhandled, which is Down, not Panicked"
    );
    assert_eq!(probe.seqs(), [0, 1, 2], "down after its third panic");
}

#[tokio::test(start_paused = true)]
async fn an_ask_waits_for_room_and_for_a_slow_plugin() {
    // A mailbox of one, full behind a plugin stuck on its first message for
    // an hour of tokio's clock, then on its second for another hour: an ask
    // waits for room in the mailbox, then for its turn, however long that
    // takes, and then says Ok. No timeout is promised, and a full mailbox is
    // not a plugin that is down.
    let StuckPlugin {
        mut host,
        id,
        probe,
        gate,
    } = StuckPlugin::behind_a_mailbox_of(1);
    let answered = Cell::new(false);
    let asking = async {
        // One message for the handler, one for the mailbox. (A mailbox may
        // also make `dispatch` wait until the plugin takes the message:
        // then the second dispatch waits here for the first hour.)
        dispatch_counting(&mut host, 2, &Cell::new(0)).await;
        let answer = host.ask(id, message(2)).await;
        answered.set(true);
        answer
    };
    let watching = async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(
            !answered.get(),
            "ask returned while the plugin was stuck on an earlier message for an \
             hour, with the mailbox full: it must wait for room (no try_send)"
        );
        // Message 0 handled, the plugin is stuck on message 1 for another
        // hour, with the ask's message in the mailbox.
        gate.add_permits(1);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(
            !answered.get(),
            "ask returned while its message was queued behind one the plugin was \
             stuck on for an hour: it must wait for the handler, however long \
             that takes (no timeout)"
        );
        gate.add_permits(2);
    };
    // Each wait above is bounded; this bounds the whole.
    let (answer, ()) = tokio::time::timeout(Duration::from_secs(7500), async {
        tokio::join!(asking, watching)
    })
    .await
    .expect("ask returns once the plugin has handled the message");

    assert_eq!(
        answer,
        Ok(()),
        "the plugin was slow, not down: once it handled the message, ask says Ok"
    );
    assert_eq!(probe.seqs(), [0, 1, 2]);
}
