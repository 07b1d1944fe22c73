//! Lessons 01 and 02: handing one message to N plugins, three ways. The
//! reference `Dispatcher` spawns a task per plugin per message; a `JoinSet`
//! does the same with the handles kept together; `join_all` polls every
//! handler on the caller's own task, with no spawn and no `'static`.

use std::hint::black_box;
use std::sync::Arc;

use benches::print_ratios;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::future::BoxFuture;
use solution_02_spawn_borrowed::{
    BorrowedMessage, Dispatcher, HandlerError, MessageMeta, OwnedMessage, Plugin,
};

const MESSAGES: usize = 1_000;
const PLUGINS: [(usize, &str); 4] = [(1, "1"), (4, "4"), (16, "16"), (64, "64")];

/// A plugin that looks at the message and is done: the cost measured is the
/// dispatching, not the work.
struct Glance;

impl Plugin for Glance {
    fn name(&self) -> &str {
        "glance"
    }

    fn handle<'a>(&'a self, msg: BorrowedMessage<'a>) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            black_box(msg.raw.len());
            Ok(())
        })
    }
}

fn message(id: u64) -> (MessageMeta, Bytes) {
    let meta = MessageMeta {
        id,
        topic: "bench".to_owned(),
    };
    (
        meta,
        Bytes::from_static(b"a message of a few dozen bytes, as plugins see it"),
    )
}

fn dispatch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("dispatch");
    for (count, name) in PLUGINS {
        let plugins: Vec<Arc<dyn Plugin>> = (0..count).map(|_| Arc::new(Glance) as _).collect();
        group.throughput(Throughput::Elements((MESSAGES * count) as u64));

        let dispatcher = Dispatcher::new(plugins.clone());
        group.bench_function(BenchmarkId::new("spawn_per_plugin", name), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    for id in 0..MESSAGES as u64 {
                        let (meta, payload) = message(id);
                        for handle in dispatcher.dispatch(meta, payload) {
                            handle.await.expect("no panic").expect("no error");
                        }
                    }
                })
            })
        });

        group.bench_function(BenchmarkId::new("join_set", name), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    for id in 0..MESSAGES as u64 {
                        let (meta, payload) = message(id);
                        let message = OwnedMessage {
                            meta: Arc::new(meta),
                            payload,
                        };
                        let mut tasks = tokio::task::JoinSet::new();
                        for plugin in &plugins {
                            let plugin = Arc::clone(plugin);
                            let message = message.clone();
                            tasks.spawn(async move { plugin.handle(message.borrow()).await });
                        }
                        while let Some(joined) = tasks.join_next().await {
                            joined.expect("no panic").expect("no error");
                        }
                    }
                })
            })
        });

        group.bench_function(BenchmarkId::new("join_all", name), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    for id in 0..MESSAGES as u64 {
                        let (meta, payload) = message(id);
                        let msg = BorrowedMessage {
                            raw: &payload,
                            meta: &meta,
                        };
                        let handlers = plugins.iter().map(|plugin| plugin.handle(msg));
                        for result in futures::future::join_all(handlers).await {
                            result.expect("no error");
                        }
                    }
                })
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    dispatch(&mut criterion);
    criterion.final_summary();
    let names: Vec<&str> = PLUGINS.iter().map(|(_, name)| *name).collect();
    print_ratios("dispatch", "spawn_per_plugin", "join_set", &names);
    print_ratios("dispatch", "spawn_per_plugin", "join_all", &names);
}
