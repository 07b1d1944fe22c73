// Lesson 01. A generic helper that runs `work` on every item on its own task.
// The future type `Fut` could borrow (an `async` block over `&str` is a valid
// `Fut` here), and spawn needs it to hold no borrows: E0310 asks for
// `Fut: 'static`. The item type `T` is fine: it is used outside the tasks.

// ANCHOR: case
use std::future::Future;

pub async fn spawn_all<T, F, Fut>(items: Vec<T>, work: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    Fut: Future + Send,
    Fut::Output: Send + 'static,
{
    let handles: Vec<_> = items.into_iter().map(|item| tokio::spawn(work(item))).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("task panicked"));
    }
    results
}
// ANCHOR_END: case

fn main() {}
