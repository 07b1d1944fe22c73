//! Lesson 08: what each row of the spawn-or-act table costs per request on
//! tokio's current-thread runtime. The reference `serve` (a task per
//! request, at most 64 at once, each adding to the `Tally` actor) against
//! the same requests polled side by side on the caller's task
//! (`buffer_unordered`, no task), and the actor's two messages (`add`, and
//! `total`: an ask, with a oneshot reply) against an update behind an
//! uncontended mutex.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;

use benches::print_ratios;
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::StreamExt;
use solution_08_spawn_or_act::{Reply, Request, Tally, serve};

const REQUESTS: u64 = 10_000;
const LIMIT: usize = 64;

fn requests() -> impl futures::Stream<Item = Request> {
    futures::stream::iter((0..REQUESTS).map(|id| Request {
        id,
        topic: (id % 16) as u32,
    }))
}

fn spawn_or_act(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("spawn_or_act");
    group.throughput(Throughput::Elements(REQUESTS));

    group.bench_function(BenchmarkId::new("serve_a_task_each", "10k"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tally = Tally::new(LIMIT);
                let replies = serve(
                    requests(),
                    &tally,
                    LIMIT,
                    |request| async move { request.id },
                )
                .await;
                assert_eq!(replies.len() as u64, REQUESTS);
            })
        })
    });

    group.bench_function(BenchmarkId::new("buffer_unordered", "10k"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tally = Tally::new(LIMIT);
                let replies: Vec<Reply> = requests()
                    .map(|request| {
                        let tally = &tally;
                        async move {
                            let amount = request.id;
                            tally.add(request.topic, amount).await;
                            Reply {
                                id: request.id,
                                amount,
                            }
                        }
                    })
                    .buffer_unordered(LIMIT)
                    .collect()
                    .await;
                assert_eq!(replies.len() as u64, REQUESTS);
            })
        })
    });

    group.bench_function(BenchmarkId::new("tally_add", "10k"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tally = Tally::new(LIMIT);
                for id in 0..REQUESTS {
                    tally.add((id % 16) as u32, id).await;
                }
                black_box(tally.total(0).await);
            })
        })
    });

    group.bench_function(BenchmarkId::new("tally_total_ask", "10k"), |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tally = Tally::new(LIMIT);
                for id in 0..REQUESTS {
                    black_box(tally.total((id % 16) as u32).await);
                }
            })
        })
    });

    group.bench_function(BenchmarkId::new("mutex_update", "10k"), |b| {
        let totals: Mutex<HashMap<u32, u64>> = Mutex::new(HashMap::new());
        b.iter(|| {
            for id in 0..REQUESTS {
                *totals.lock().unwrap().entry((id % 16) as u32).or_default() += id;
            }
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    spawn_or_act(&mut criterion);
    criterion.final_summary();
    print_ratios(
        "spawn_or_act",
        "serve_a_task_each",
        "buffer_unordered",
        &["10k"],
    );
    print_ratios("spawn_or_act", "tally_add", "mutex_update", &["10k"]);
    print_ratios("spawn_or_act", "tally_total_ask", "tally_add", &["10k"]);
}
