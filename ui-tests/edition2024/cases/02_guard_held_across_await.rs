// Lesson 02, the `Send` half. A `std::sync::MutexGuard` must be released on
// the thread that took the lock, so it is not `Send`. Held across an
// `.await`, it makes the whole task's future not `Send`.
use std::sync::{Arc, Mutex};

pub fn record_in_a_task(seen: Arc<Mutex<Vec<u64>>>, id: u64) {
    tokio::spawn(async move {
        let mut guard = seen.lock().unwrap();
        tokio::task::yield_now().await;
        guard.push(id);
    });
}

fn main() {}
