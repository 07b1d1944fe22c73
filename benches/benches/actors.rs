//! Lesson 06: what a plugin actor costs. The reference `PluginHost`, with
//! one plugin that only glances at each message, against a raw tokio mpsc
//! channel of the same messages into a task that does the same glance, on
//! a current-thread runtime:
//!
//! - `tell`: 10,000 messages sent fire-and-forget, then the wait until the
//!   last is handled (`dispatch`, then `unplug`, which drains; or `send`,
//!   then dropping the sender and joining the task). Plugging in, spawning
//!   and joining are in the measured time on both sides.
//! - `ask`: 1,000 round trips, each a message and its answer (`ask`; or the
//!   message and a `oneshot` sender, and the task answers after its
//!   glance).
//!
//! After the run it prints the ratios, which are what the chapter quotes.

use std::hint::black_box;

use benches::{mean_ns, print_ratios};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use solution_06_plugin_actors::{HostConfig, Message, Plugin, PluginHost};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

const TELLS: u64 = 10_000;
const ASKS: u64 = 1_000;
/// The actor's mailbox and the raw channel hold as many messages.
const CAPACITY: usize = 64;

/// A plugin that looks at the message and is done: the cost measured is
/// the actor's, not the work's.
struct Glance;

impl Plugin for Glance {
    async fn handle(&mut self, msg: Message) {
        black_box(msg.payload.len());
    }
}

fn message(seq: u64) -> Message {
    Message {
        seq,
        payload: Bytes::from_static(b"a message of a few dozen bytes, as plugins see it"),
    }
}

fn host() -> PluginHost {
    PluginHost::new(HostConfig {
        mailbox_capacity: CAPACITY,
        ..HostConfig::default()
    })
}

fn tell(c: &mut Criterion, runtime: &Runtime) {
    let mut group = c.benchmark_group("actors");
    group.throughput(Throughput::Elements(TELLS));
    group.bench_function(BenchmarkId::new("actor", "tell"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut host = host();
                let id = host.plug("glance", || Glance);
                for seq in 0..TELLS {
                    host.dispatch(message(seq)).await;
                }
                host.unplug(id).await.expect("plugged in");
            })
        })
    });
    group.bench_function(BenchmarkId::new("raw_mpsc", "tell"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (mailbox, mut letters) = mpsc::channel::<Message>(CAPACITY);
                let consumer = tokio::spawn(async move {
                    while let Some(msg) = letters.recv().await {
                        black_box(msg.payload.len());
                    }
                });
                for seq in 0..TELLS {
                    mailbox.send(message(seq)).await.expect("the consumer runs");
                }
                drop(mailbox);
                consumer.await.expect("no panic");
            })
        })
    });
    group.finish();
}

fn ask(c: &mut Criterion, runtime: &Runtime) {
    let mut group = c.benchmark_group("actors");
    group.throughput(Throughput::Elements(ASKS));

    // One actor for every iteration: a round trip is what is measured.
    let mut host = host();
    let id = {
        let _runtime = runtime.enter();
        host.plug("glance", || Glance)
    };
    group.bench_function(BenchmarkId::new("actor", "ask"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                for seq in 0..ASKS {
                    host.ask(id, message(seq)).await.expect("answered");
                }
            })
        })
    });

    let (mailbox, mut letters) = mpsc::channel::<(Message, oneshot::Sender<()>)>(CAPACITY);
    runtime.spawn(async move {
        while let Some((msg, reply)) = letters.recv().await {
            black_box(msg.payload.len());
            let _ = reply.send(());
        }
    });
    group.bench_function(BenchmarkId::new("raw_mpsc", "ask"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                for seq in 0..ASKS {
                    let (reply, answer) = oneshot::channel();
                    mailbox
                        .send((message(seq), reply))
                        .await
                        .expect("the consumer runs");
                    answer.await.expect("answered");
                }
            })
        })
    });
    group.finish();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut criterion = Criterion::default().configure_from_args();
    tell(&mut criterion, &runtime);
    ask(&mut criterion, &runtime);
    criterion.final_summary();
    print_ratios("actors", "actor", "raw_mpsc", &["tell", "ask"]);
    if let (Some(actor), Some(raw)) = (
        mean_ns("actors", "actor", "ask"),
        mean_ns("actors", "raw_mpsc", "ask"),
    ) {
        println!(
            "actors/ask: an actor's round trip takes {:.2}x the time of raw_mpsc's ({:.0} ns and {:.0} ns)",
            actor / raw,
            actor / ASKS as f64,
            raw / ASKS as f64
        );
    }
}
