//! Lesson 05: the reference `MessageArena` against `slotmap::SlotMap` and
//! `slab::Slab`, all three holding the same `Bytes` handles. Insert (fill
//! an empty one with 10k), get at random with 10k and 1M live, and churn
//! (release a random live message, insert one, get it) with 10k and 1M live.
//! After the run it prints the arena's time against each, which is what the
//! solution page quotes.
//!
//! A quick run: `cargo bench -p benches --bench arena -- --warm-up-time 1
//! --measurement-time 2`.

use std::hint::black_box;

use benches::mean_ns;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use slab::Slab;
use slotmap::{DefaultKey, SlotMap};
use solution_05_message_arena::{MessageArena, MessageRef, Release};

const LIVE: [(usize, &str); 2] = [(10_000, "10k"), (1_000_000, "1M")];
const INSERTS: usize = 10_000;
/// Random picks are drawn up front, so that the loops measure the stores
/// and not a random number generator: 2^20 of them, used in a cycle.
const PICKS: usize = 1 << 20;
const STORES: [&str; 3] = ["arena", "slotmap", "slab"];

/// The three stores behind one face, so that each bench is written once.
trait Store: Default {
    type Key: Copy;
    fn insert(&mut self, bytes: Bytes) -> Self::Key;
    fn get(&self, key: Self::Key) -> Option<&Bytes>;
    /// Frees what `key` names; it is live.
    fn remove(&mut self, key: Self::Key);
}

impl Store for MessageArena {
    type Key = MessageRef;
    fn insert(&mut self, bytes: Bytes) -> MessageRef {
        MessageArena::insert(self, bytes)
    }
    fn get(&self, key: MessageRef) -> Option<&Bytes> {
        MessageArena::get(self, key)
    }
    fn remove(&mut self, key: MessageRef) {
        let released = self.release(key);
        debug_assert!(matches!(released, Release::Freed(_)));
    }
}

impl Store for SlotMap<DefaultKey, Bytes> {
    type Key = DefaultKey;
    fn insert(&mut self, bytes: Bytes) -> DefaultKey {
        SlotMap::insert(self, bytes)
    }
    fn get(&self, key: DefaultKey) -> Option<&Bytes> {
        SlotMap::get(self, key)
    }
    fn remove(&mut self, key: DefaultKey) {
        SlotMap::remove(self, key);
    }
}

impl Store for Slab<Bytes> {
    type Key = usize;
    fn insert(&mut self, bytes: Bytes) -> usize {
        Slab::insert(self, bytes)
    }
    fn get(&self, key: usize) -> Option<&Bytes> {
        Slab::get(self, key)
    }
    fn remove(&mut self, key: usize) {
        Slab::remove(self, key);
    }
}

fn message() -> Bytes {
    // A static payload: cloning and dropping it touch no reference count,
    // so the benches time the stores alone.
    Bytes::from_static(b"a frame a plugin is working on")
}

/// `count` positions below `below`, in no particular order (xorshift).
fn picks(count: usize, below: usize) -> Vec<u32> {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as u32
        })
        .collect()
}

/// A store with `live` messages, and their keys.
fn filled<S: Store>(live: usize) -> (S, Vec<S::Key>) {
    let mut store = S::default();
    let keys = (0..live).map(|_| store.insert(message())).collect();
    (store, keys)
}

fn bench_insert<S: Store>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
) {
    c.bench_function(BenchmarkId::new(name, "10k"), |b| {
        b.iter(|| {
            let (store, keys) = filled::<S>(INSERTS);
            black_box((store, keys))
        })
    });
}

fn bench_get<S: Store>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
) {
    for (live, label) in LIVE {
        let (store, keys) = filled::<S>(live);
        let picks: Vec<S::Key> = picks(PICKS, live)
            .into_iter()
            .map(|i| keys[i as usize])
            .collect();
        let mut next = 0;
        c.bench_function(BenchmarkId::new(name, label), |b| {
            b.iter(|| {
                next = (next + 1) % PICKS;
                black_box(store.get(black_box(picks[next])))
            })
        });
    }
}

fn bench_churn<S: Store>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
) {
    for (live, label) in LIVE {
        let (mut store, mut keys) = filled::<S>(live);
        let picks = picks(PICKS, live);
        let mut next = 0;
        c.bench_function(BenchmarkId::new(name, label), |b| {
            b.iter(|| {
                next = (next + 1) % PICKS;
                let at = picks[next] as usize;
                store.remove(keys[at]);
                let key = store.insert(message());
                keys[at] = key;
                black_box(store.get(key));
            })
        });
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();

    let mut group = criterion.benchmark_group("arena_insert");
    group.throughput(Throughput::Elements(INSERTS as u64));
    bench_insert::<MessageArena>(&mut group, "arena");
    bench_insert::<SlotMap<DefaultKey, Bytes>>(&mut group, "slotmap");
    bench_insert::<Slab<Bytes>>(&mut group, "slab");
    group.finish();

    let mut group = criterion.benchmark_group("arena_get");
    group.throughput(Throughput::Elements(1));
    bench_get::<MessageArena>(&mut group, "arena");
    bench_get::<SlotMap<DefaultKey, Bytes>>(&mut group, "slotmap");
    bench_get::<Slab<Bytes>>(&mut group, "slab");
    group.finish();

    let mut group = criterion.benchmark_group("arena_churn");
    group.throughput(Throughput::Elements(1));
    bench_churn::<MessageArena>(&mut group, "arena");
    bench_churn::<SlotMap<DefaultKey, Bytes>>(&mut group, "slotmap");
    bench_churn::<Slab<Bytes>>(&mut group, "slab");
    group.finish();

    criterion.final_summary();
    // Test mode (`-- --test`) times nothing, and the saved results would be
    // an earlier run's.
    if !std::env::args().any(|arg| arg == "--test") {
        print_ratios();
    }
}

/// The arena's time per operation against each other store's, for every
/// bench that ran (a filter may have skipped some): from criterion's mean,
/// and from the fastest sample of each, which a busy machine disturbs least.
fn print_ratios() {
    let runs = [
        ("arena_insert", "10k"),
        ("arena_get", "10k"),
        ("arena_get", "1M"),
        ("arena_churn", "10k"),
        ("arena_churn", "1M"),
    ];
    for (group, live) in runs {
        let (Some(mean), Some(fastest)) = (
            mean_ns(group, STORES[0], live),
            fastest_ns(group, STORES[0], live),
        ) else {
            continue;
        };
        for store in &STORES[1..] {
            let (Some(their_mean), Some(their_fastest)) =
                (mean_ns(group, store, live), fastest_ns(group, store, live))
            else {
                continue;
            };
            println!(
                "{group}/{live}: the arena takes {:.2}x the time of {store} ({:.2}x by the fastest samples)",
                mean / their_mean,
                fastest / their_fastest
            );
        }
    }
}

/// The time per iteration of the fastest sample of one criterion benchmark
/// of the last run, in nanoseconds, from the samples criterion saved next
/// to the estimates that `mean_ns` reads (`None` in `--test` mode).
fn fastest_ns(group: &str, function: &str, parameter: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<bench> -> target/criterion
    let target = exe.ancestors().nth(3)?.to_path_buf();
    let path = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| target.join("criterion"))
        .join(group)
        .join(function)
        .join(parameter)
        .join("new/sample.json");
    let text = std::fs::read_to_string(path).ok()?;
    let sample: serde_json::Value = serde_json::from_str(&text).ok()?;
    let iters = sample["iters"].as_array()?;
    let times = sample["times"].as_array()?;
    iters
        .iter()
        .zip(times)
        .filter_map(|(iters, time)| Some(time.as_f64()? / iters.as_f64()?))
        .min_by(f64::total_cmp)
}
