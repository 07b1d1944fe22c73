// Lesson 05. Spawning each handler looks like the way to let it run while
// the loop reads on. But a task may outlive the loop, so its future may
// borrow nothing: this one borrows the loop's buffer (E0597, and E0502 at
// the next read, since the borrow now lasts for `'static`) and the caller's
// plugin list (E0521).

// ANCHOR: case
use std::sync::Arc;

use futures::future::BoxFuture;

pub trait Plugin: Send + Sync {
    fn handle<'a>(&'a self, frame: &'a [u8]) -> BoxFuture<'a, ()>;
}

/// Reads the next frame into `buf`, reusing its allocation; `false` at the
/// end of the input.
async fn read_frame(buf: &mut Vec<u8>) -> bool {
    buf.clear();
    false
}

pub async fn run(plugins: &[Arc<dyn Plugin>]) {
    let mut buf = Vec::new();
    while read_frame(&mut buf).await {
        for plugin in plugins {
            tokio::spawn(plugin.handle(&buf));
        }
    }
}
// ANCHOR_END: case

fn main() {}
