// Lesson 02. The task owns an `Arc` of the plugin and a `Bytes` handle of the
// payload, which is the right idea, but the block is `async` without `move`:
// it captures `plugin` and `payload` by reference, and the task may outlive
// this function's locals: E0373.

// ANCHOR: case
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait Plugin: Send + Sync {
    fn handle<'a>(&'a self, raw: &'a [u8]) -> HandlerFuture<'a>;
}

pub fn dispatch(plugins: &[Arc<dyn Plugin>], frame: &Bytes) {
    for plugin in plugins {
        let plugin = Arc::clone(plugin);
        let payload = frame.clone();
        tokio::spawn(async {
            let _ = plugin.handle(&payload).await;
        });
    }
}
// ANCHOR_END: case

fn main() {}
