// Lesson 05. The loop reads every frame into one buffer, reused, and hands
// each handler a slice of it. The handlers are still running (they hold the
// frame across their own `.await`s) when the loop reads the next frame into
// the same buffer: E0502, the buffer borrowed mutably while borrowed.

// ANCHOR: case
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

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
    let mut handlers = FuturesUnordered::new();
    while read_frame(&mut buf).await {
        for plugin in plugins {
            handlers.push(plugin.handle(&buf));
        }
        // At most 8 handlers at a time.
        while handlers.len() > 8 {
            handlers.next().await;
        }
    }
    while handlers.next().await.is_some() {}
}
// ANCHOR_END: case

fn main() {}
