//! What a dispatcher with retries, acknowledgements and dead letters
//! promises. Each file is one promise; a failing test's name says which one
//! is broken.
//!
//! Every check runs on a current-thread runtime with paused time: a wait of
//! a second costs nothing, and the times a plugin records are exact.

mod acks;
mod dead_letters;
mod growth;
mod load;
mod schedule;
mod shutdown;
mod unplug;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use lesson::{DeadLetter, DeadLetters, HandlerError, Plugin, RetryPolicy};
use tokio::time::Instant;

/// A policy of `max_tries` tries, whose first wait is at most `base_ms`,
/// each next one at most `factor` times more, and none more than `cap_ms`.
fn policy(max_tries: u32, base_ms: u64, factor: u32, cap_ms: u64) -> RetryPolicy {
    RetryPolicy {
        max_tries,
        base: Duration::from_millis(base_ms),
        factor,
        cap: Duration::from_millis(cap_ms),
    }
}

/// What the dispatcher asked a check's jitter: each ceiling, and the wait
/// the jitter picked for it, in the order asked.
type Asked = Arc<Mutex<Vec<(Duration, Duration)>>>;

/// A jitter that picks `pick(ceiling, how many were picked before)` and
/// records what it was asked: the check knows every wait in advance.
fn recording_jitter(
    pick: impl Fn(Duration, usize) -> Duration + Send + 'static,
) -> (impl FnMut(Duration) -> Duration + Send + 'static, Asked) {
    let asked = Asked::default();
    let record = Arc::clone(&asked);
    let jitter = move |ceiling: Duration| {
        let mut asked = record.lock().unwrap();
        let wait = pick(ceiling, asked.len());
        asked.push((ceiling, wait));
        wait
    };
    (jitter, asked)
}

/// What try `n` (counted from 1) of a message does in a [`Scripted`] plugin.
#[derive(Clone, Copy, Debug)]
enum Act {
    Ack,
    Fail,
    /// Works this long, then acks.
    AckAfter(Duration),
    /// Works this long, then fails.
    FailAfter(Duration),
    /// Never finishes.
    Hang,
}

/// The error of try `n` of message `id` in plugin `plugin`: each try's
/// error is its own.
fn error_of(plugin: &str, id: u64, n: u32) -> HandlerError {
    HandlerError(format!("{plugin}: try {n} of message {id} failed"))
}

/// One try, as a [`Scripted`] plugin saw it.
#[derive(Clone, Copy, Debug)]
struct Try {
    /// The message tried.
    id: u64,
    /// When the try started, in paused time.
    at: Instant,
    /// Where the payload was in memory.
    address: usize,
}

#[derive(Default)]
struct Log {
    tries: Vec<Try>,
    /// Tries per message.
    counts: HashMap<u64, u32>,
    /// Acknowledgements (an `Ok` returned) per message.
    acks: HashMap<u64, u32>,
    /// Tries dropped before they finished.
    dropped: usize,
}

/// What try `n` of message `id`, whose payload is given, does.
type Script = Box<dyn Fn(u64, u32, &[u8]) -> Act + Send + Sync>;

/// A plugin that does what its script says for each try, and records it.
struct Scripted {
    name: String,
    script: Script,
    log: Mutex<Log>,
}

impl Scripted {
    fn new(name: &str, script: impl Fn(u64, u32) -> Act + Send + Sync + 'static) -> Arc<Scripted> {
        Scripted::by_payload(name, move |id, n, _| script(id, n))
    }

    /// A plugin whose script also reads the payload: a check that must not
    /// assume which ids the dispatcher gives can script by content.
    fn by_payload(
        name: &str,
        script: impl Fn(u64, u32, &[u8]) -> Act + Send + Sync + 'static,
    ) -> Arc<Scripted> {
        Arc::new(Scripted {
            name: name.to_owned(),
            script: Box::new(script),
            log: Mutex::default(),
        })
    }

    /// Every try so far, in the order they started.
    fn tries(&self) -> Vec<Try> {
        self.log.lock().unwrap().tries.clone()
    }

    /// How many times message `id` was handed to this plugin.
    fn tries_of(&self, id: u64) -> u32 {
        self.log
            .lock()
            .unwrap()
            .counts
            .get(&id)
            .copied()
            .unwrap_or(0)
    }

    /// How many times this plugin acknowledged message `id`.
    fn acks_of(&self, id: u64) -> u32 {
        self.log.lock().unwrap().acks.get(&id).copied().unwrap_or(0)
    }

    /// Every message this plugin was handed.
    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.log.lock().unwrap().counts.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// How many tries were dropped while they ran.
    fn dropped(&self) -> usize {
        self.log.lock().unwrap().dropped
    }
}

/// Counts a try as dropped unless it is marked finished first.
struct Running<'a> {
    plugin: &'a Scripted,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.plugin.log.lock().unwrap().dropped += 1;
        }
    }
}

impl Plugin for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, id: u64, payload: &'a [u8]) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let n = {
                let mut log = self.log.lock().unwrap();
                let count = log.counts.entry(id).or_default();
                *count += 1;
                let n = *count;
                log.tries.push(Try {
                    id,
                    at: Instant::now(),
                    address: payload.as_ptr() as usize,
                });
                n
            };
            let mut running = Running {
                plugin: self,
                finished: false,
            };
            let ack = match (self.script)(id, n, payload) {
                Act::Ack => true,
                Act::Fail => false,
                Act::AckAfter(work) => {
                    tokio::time::sleep(work).await;
                    true
                }
                Act::FailAfter(work) => {
                    tokio::time::sleep(work).await;
                    false
                }
                Act::Hang => std::future::pending().await,
            };
            running.finished = true;
            if ack {
                *self.log.lock().unwrap().acks.entry(id).or_default() += 1;
                Ok(())
            } else {
                Err(error_of(&self.name, id, n))
            }
        })
    }
}

/// The owner of a tracked payload's memory: its drop is the moment the
/// buffer is freed, whoever held the last handle.
struct Owner {
    bytes: Vec<u8>,
    live: Arc<AtomicUsize>,
}

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A payload whose buffer counts itself in `live` until it is freed.
fn tracked(content: &[u8], live: &Arc<AtomicUsize>) -> Bytes {
    live.fetch_add(1, Ordering::SeqCst);
    Bytes::from_owner(Owner {
        bytes: content.to_vec(),
        live: Arc::clone(live),
    })
}

/// Message `n`'s payload.
fn payload(n: u64) -> Bytes {
    Bytes::from(format!("message {n}"))
}

/// The dead letters queued so far, without waiting.
fn queued(dead_letters: &mut DeadLetters) -> Vec<DeadLetter> {
    let mut letters = Vec::new();
    while let Ok(letter) = dead_letters.try_recv() {
        letters.push(letter);
    }
    letters
}

/// A pseudo-random number from `seed` (SplitMix64's mix): the checks' random
/// failures and waits are the same on every run.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
