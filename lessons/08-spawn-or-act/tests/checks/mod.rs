//! What a request handler, a tally and a connection loop promise. Each file
//! is one promise; a failing test's name says which one is broken.

mod event_loop;
mod flood;
mod locks;
mod replies;
mod tally;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use lesson::Request;

/// What a check's requests go through, counted by the check's own source
/// and work: taken from the source, work started, work finished. It holds
/// any design to the same numbers, whether it spawns tasks, polls futures
/// itself or hands requests to workers.
#[derive(Clone, Default)]
struct Gauge(Arc<Counts>);

#[derive(Default)]
struct Counts {
    taken: AtomicUsize,
    started: AtomicUsize,
    finished: AtomicUsize,
    /// The most requests whose work had started and not finished.
    max_in_flight: AtomicUsize,
}

impl Gauge {
    /// A request leaves the source.
    fn take(&self) {
        self.0.taken.fetch_add(1, SeqCst);
    }

    /// A request's work begins.
    fn start(&self) {
        let started = self.0.started.fetch_add(1, SeqCst) + 1;
        let in_flight = started - self.0.finished.load(SeqCst);
        self.0.max_in_flight.fetch_max(in_flight, SeqCst);
    }

    /// A request's work is done.
    fn finish(&self) {
        self.0.finished.fetch_add(1, SeqCst);
    }

    /// Requests taken from the source whose work has not started: they
    /// wait somewhere, in a queue or as tasks.
    fn waiting(&self) -> usize {
        self.0.taken.load(SeqCst) - self.0.started.load(SeqCst)
    }

    /// Requests taken from the source whose work has not finished: in
    /// flight, or waiting somewhere.
    fn not_done(&self) -> usize {
        self.0.taken.load(SeqCst) - self.0.finished.load(SeqCst)
    }

    /// Requests whose work is done.
    fn finished(&self) -> usize {
        self.0.finished.load(SeqCst)
    }

    fn max_in_flight(&self) -> usize {
        self.0.max_in_flight.load(SeqCst)
    }
}

/// The topic of request `id`, among `topics`.
fn topic_of(id: u64, topics: u32) -> u32 {
    (id % u64::from(topics)) as u32
}

/// What the check's work says request `id` amounts to.
fn amount_of(id: u64) -> u64 {
    id % 97 + 1
}

/// Requests `0..count`, made as they are taken (nothing is queued up front),
/// each taken one counted by `gauge`.
fn requests(count: u64, topics: u32, gauge: &Gauge) -> impl Stream<Item = Request> + use<> {
    let gauge = gauge.clone();
    futures::stream::iter(0..count).map(move |id| {
        gauge.take();
        Request {
            id,
            topic: topic_of(id, topics),
        }
    })
}

/// The work most checks give `serve`: a request's work takes `took(id)` of
/// (paused) time and comes to `amount(id)`; `gauge` counts it started when
/// it is first polled, and finished when it is done.
///
/// Boxed, so that every check gives `serve` the same type of work: `serve`,
/// and the task machinery it instantiates for the work's future, are
/// compiled once for all of them and not once per check, which keeps a
/// learner's save -> verdict short.
fn gauged_work(
    gauge: &Gauge,
    took: fn(u64) -> Duration,
    amount: fn(u64) -> u64,
) -> impl FnMut(Request) -> BoxFuture<'static, u64> + use<> {
    let gauge = gauge.clone();
    move |request: Request| {
        let gauge = gauge.clone();
        Box::pin(async move {
            gauge.start();
            tokio::time::sleep(took(request.id)).await;
            gauge.finish();
            amount(request.id)
        })
    }
}

/// The wire form of `payloads`: each one after its length, a big-endian `u32`.
fn encode<P: AsRef<[u8]>>(payloads: &[P]) -> Vec<u8> {
    let mut wire = Vec::new();
    for payload in payloads {
        let payload = payload.as_ref();
        wire.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        wire.extend_from_slice(payload);
    }
    wire
}
