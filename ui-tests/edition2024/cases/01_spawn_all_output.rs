// Lesson 01. The same helper with no `'static` at all. A task also hands its
// output back through its `JoinHandle`, possibly long after this call, so
// the output must hold no borrow either. E0310 is not only about type
// parameters: here it also names an associated type, `<Fut as Future>::Output`.

// ANCHOR: case
use std::future::Future;

pub async fn spawn_all<T, F, Fut>(items: Vec<T>, work: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    Fut: Future + Send,
    Fut::Output: Send,
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
