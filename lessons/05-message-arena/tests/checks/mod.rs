//! What a message arena and the loop that uses it promise. Each file is one
//! promise; a failing test's name says which one is broken.

mod churn;
mod event_loop;
mod generations;
mod holders;
mod model;
mod stale;
mod zero_copy;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use lesson::Plugin;
use tokio::sync::watch;

/// Message `n`'s payload: a different one for every `n`.
fn payload(n: usize) -> Bytes {
    Bytes::from(format!("message {n}"))
}

/// The frames as a connection sends them, one frame a read: a 4-byte
/// big-endian length, then the frame's bytes.
fn wire<P: AsRef<[u8]>>(payloads: &[P]) -> Vec<Vec<u8>> {
    payloads
        .iter()
        .map(|payload| {
            let payload = payload.as_ref();
            let mut frame = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
            frame.extend_from_slice(payload);
            frame
        })
        .collect()
}

/// Counts the frames a plugin holds, and the most it held at once.
#[derive(Default)]
struct Holding {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Holding {
    fn start(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn end(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    /// Counts a frame held until the guard is dropped: when its handler
    /// ends, or when the handler itself is dropped midway.
    fn hold(&self) -> Held<'_> {
        self.start();
        Held(self)
    }
}

struct Held<'a>(&'a Holding);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A plugin that holds each frame across an `.await` (a sleep, as long as
/// `delay` says for that frame), then records the frame and its address.
struct Recorder {
    delay: fn(&[u8]) -> Duration,
    seen: Mutex<Vec<(Vec<u8>, usize)>>,
    holding: Holding,
}

impl Recorder {
    fn new(delay: fn(&[u8]) -> Duration) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Recorder {
            delay,
            seen: Mutex::default(),
            holding: Holding::default(),
        })
    }

    /// Every frame the plugin held to the end, in the order it let go.
    fn seen(&self) -> Vec<Vec<u8>> {
        let seen = self.seen.lock().unwrap();
        seen.iter().map(|(frame, _)| frame.clone()).collect()
    }

    /// Where each frame was in memory while the plugin held it.
    fn addresses(&self) -> Vec<(Vec<u8>, usize)> {
        self.seen.lock().unwrap().clone()
    }

    /// The most frames the plugin held at once.
    fn most_held(&self) -> usize {
        self.holding.most.load(Ordering::SeqCst)
    }
}

impl Plugin for Recorder {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.holding.start();
            tokio::time::sleep((self.delay)(frame)).await;
            // After the `.await`: the frame must still be the one handed in.
            let address = frame.as_ptr() as usize;
            self.seen.lock().unwrap().push((frame.to_vec(), address));
            self.holding.end();
        })
    }
}

/// A plugin that holds every frame until the check opens its gate.
struct Gate {
    open: watch::Sender<bool>,
    holding: Holding,
}

impl Gate {
    fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Gate {
            open: watch::Sender::new(false),
            holding: Holding::default(),
        })
    }

    fn open(&self) {
        self.open.send_replace(true);
    }

    fn holding_now(&self) -> usize {
        self.holding.now.load(Ordering::SeqCst)
    }
}

impl Plugin for Gate {
    fn handle<'a>(&'a self, _frame: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _held = self.holding.hold();
            let mut open = self.open.subscribe();
            let _ = open.wait_for(|open| *open).await;
        })
    }
}
