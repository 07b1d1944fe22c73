// Lesson 02, the `Send` half. The task owns everything it touches, so it is
// `'static`; but it keeps an `Rc` across an `.await`, and a multi-threaded
// runtime may resume the task on another thread. `Rc`'s count is not atomic,
// so `Rc` is not `Send`, and neither is a future that holds one at an await.

// ANCHOR: case
use std::rc::Rc;

pub fn count_in_a_task(names: Vec<String>) {
    tokio::spawn(async move {
        let shared = Rc::new(names);
        tokio::task::yield_now().await;
        shared.len()
    });
}
// ANCHOR_END: case

fn main() {}
