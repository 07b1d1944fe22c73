// Lesson 02, the `Send` half. The task owns its `Stats`, and `Cell` is
// `Send`, so owning one is fine. But the task holds `&Cell<u64>` across an
// `.await`, and `&T` is `Send` only when `T` is `Sync`: `Cell` is not.
use std::cell::Cell;

pub struct Stats {
    pub handled: Cell<u64>,
}

pub fn count_in_a_task(stats: Stats) {
    tokio::spawn(async move {
        let handled = &stats.handled;
        tokio::task::yield_now().await;
        handled.set(handled.get() + 1);
    });
}

fn main() {}
