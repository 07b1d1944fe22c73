//! The payload is shared, not copied; the caller's buffer is free the moment
//! `dispatch` returns; and nothing holds the message once handlers are done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use lesson::{BorrowedMessage, Dispatcher, HandlerError, Plugin};
use lesson_support::{alive_tasks, count_allocations, paused_runtime, settle};
use tokio::sync::Semaphore;

use super::{Outcome, Recorder, dispatcher, finish, meta, payload};

#[tokio::test(start_paused = true)]
async fn every_plugin_sees_the_callers_bytes_not_a_copy() {
    let recorders = [
        Recorder::new("one", Outcome::Succeed),
        Recorder::new("two", Outcome::Succeed),
    ];
    let dispatcher = dispatcher(&recorders);
    let payload = payload("a large frame, in real life");

    finish(dispatcher.dispatch(meta(7), payload.clone())).await;

    for recorder in &recorders {
        let seen = &recorder.seen()[0];
        assert_eq!(
            seen.address,
            payload.as_ptr() as usize,
            "plugin {} got a copy of the payload: hand tasks a clone of the \
             `Bytes` (a reference count), not of its contents",
            recorder.name,
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_caller_reuses_its_buffer_while_handlers_still_run() {
    let gate = Arc::new(Semaphore::new(0));
    let recorders = [
        Recorder::gated("slow", &gate),
        Recorder::gated("slower", &gate),
    ];
    let dispatcher = dispatcher(&recorders);

    // The decoder's read buffer: the frame is split off it, then it is reused.
    let mut buffer = BytesMut::with_capacity(64);
    buffer.put_slice(b"first frame");
    let frame = buffer.split().freeze();
    let handles = dispatcher.dispatch(meta(1), frame);
    settle().await;
    assert!(
        recorders.iter().all(|r| r.seen().is_empty()),
        "dispatch must return without waiting for handlers (they are gated)",
    );

    buffer.put_slice(b"second frame, overwriting nothing it should not");
    drop(buffer);
    gate.add_permits(recorders.len());
    finish(handles).await;

    for recorder in &recorders {
        assert_eq!(recorder.seen()[0].raw, b"first frame");
    }
}

#[tokio::test(start_paused = true)]
async fn nothing_keeps_the_message_once_handlers_are_done() {
    let tasks_before = alive_tasks();
    let recorders = [
        Recorder::new("a", Outcome::Succeed),
        Recorder::new("b", Outcome::Fail),
    ];
    let dispatcher = dispatcher(&recorders);
    let payload = payload("short-lived");

    finish(dispatcher.dispatch(meta(3), payload.clone())).await;
    settle().await;

    assert!(
        payload.is_unique(),
        "handlers are done, yet someone still holds the payload (leaked or stored)",
    );
    assert_eq!(alive_tasks(), tasks_before, "a handler task is still alive");
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_panics_or_is_aborted_lets_go_of_the_message() {
    // Cleanup written after the handler's `.await` never runs for these two:
    // a panic unwinds past it, and an abort drops the task where it waits.
    let tasks_before = alive_tasks();
    let never = Arc::new(Semaphore::new(0));
    let recorders = [
        Recorder::new("broken", Outcome::Panic),
        Recorder::gated("stuck", &never),
    ];
    let dispatcher = dispatcher(&recorders);
    let payload = payload("short-lived");

    let mut handles = dispatcher.dispatch(meta(4), payload.clone());
    let stuck = handles.pop().expect("one handle per plugin");
    let broken = finish(handles).await;
    // Its failure shows on its handle: a panicked task, or an error made
    // of the panic (chapter 02 allows both).
    assert!(
        matches!(&broken[..], [Err(error)] if error.is_panic())
            || matches!(&broken[..], [Ok(Err(_))]),
        "{broken:?}"
    );
    stuck.abort();
    settle().await;

    assert!(
        payload.is_unique(),
        "one handler panicked and the other was aborted, yet someone still holds \
         the payload: what a task holds must be dropped with the task, however it ends",
    );
    assert_eq!(alive_tasks(), tasks_before, "a handler task is still alive");
}

/// A plugin that only looks at the message: it allocates nothing itself, so
/// what an allocation count sees is the dispatcher's doing.
struct Glance {
    bytes_seen: AtomicUsize,
}

impl Plugin for Glance {
    fn name(&self) -> &str {
        "glance"
    }

    fn handle<'a>(&'a self, msg: BorrowedMessage<'a>) -> BoxFuture<'a, Result<(), HandlerError>> {
        self.bytes_seen.fetch_add(msg.raw.len(), Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

#[test]
fn dispatching_allocates_nothing_the_size_of_the_payload() {
    const PLUGINS: usize = 8;
    const FRAME: usize = 256 * 1024;
    let glance = Arc::new(Glance {
        bytes_seen: AtomicUsize::new(0),
    });
    let plugins = (0..PLUGINS).map(|_| Arc::clone(&glance) as Arc<dyn Plugin>);
    let dispatcher = Dispatcher::new(plugins.collect());
    let frame = Bytes::from(vec![7_u8; FRAME]);
    let runtime = paused_runtime();

    let ((), counted) = count_allocations(|| {
        runtime.block_on(async {
            finish(dispatcher.dispatch(meta(1), frame.clone())).await;
        })
    });

    assert_eq!(glance.bytes_seen.load(Ordering::SeqCst), PLUGINS * FRAME);
    // Tasks, handles and reference counts take a few hundred bytes each;
    // one copy of the frame alone is 256 KiB.
    assert!(
        counted.bytes_total < FRAME as u64,
        "dispatching one {FRAME}-byte frame to {PLUGINS} plugins allocated {} bytes: \
         the payload was copied. Share it: cloning a `Bytes` bumps a reference count",
        counted.bytes_total
    );
}

#[test]
fn finished_dispatches_leave_nothing_behind_while_the_dispatcher_lives() {
    // A dispatcher lives as long as the pipeline: what it keeps of each
    // finished dispatch (a handle of every task it spawned) adds up.
    const FEW: usize = 10;
    let glance = Arc::new(Glance {
        bytes_seen: AtomicUsize::new(0),
    });
    let plugins = (0..4).map(|_| Arc::clone(&glance) as Arc<dyn Plugin>);
    let dispatcher = Dispatcher::new(plugins.collect());
    let frame = Bytes::from_static(b"a frame");
    let runtime = paused_runtime();
    let run = |dispatches: usize| {
        runtime.block_on(async {
            for id in 0..dispatches {
                finish(dispatcher.dispatch(meta(id as u64), frame.clone())).await;
            }
        })
    };
    // The first run may set up what a first use sets up for good.
    run(FEW);

    let ((), few) = count_allocations(|| run(FEW));
    let ((), many) = count_allocations(|| run(10 * FEW));
    assert!(
        many.count_current <= few.count_current && many.bytes_current <= few.bytes_current,
        "with the dispatcher alive, {FEW} finished dispatches left {} allocations \
         ({} bytes) alive, and {} finished dispatches {} ({} bytes): the dispatcher \
         keeps something of every dispatch (a handle of each task it spawned?)",
        few.count_current,
        few.bytes_current,
        10 * FEW,
        many.count_current,
        many.bytes_current,
    );
}
