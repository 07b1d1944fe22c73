// Lesson 02. Cloning the `Arc` looks like the fix: the task could own its
// plugin. But the clone is a local of the loop body, and the handler future
// borrows it (E0597) as well as the message (E0521).

// ANCHOR: case
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub struct MessageMeta {
    pub id: u64,
}

#[derive(Clone, Copy)]
pub struct BorrowedMessage<'a> {
    pub raw: &'a [u8],
    pub meta: &'a MessageMeta,
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait Plugin: Send + Sync {
    fn handle<'a>(&'a self, msg: BorrowedMessage<'a>) -> HandlerFuture<'a>;
}

pub fn dispatch(plugins: &[Arc<dyn Plugin>], msg: BorrowedMessage<'_>) {
    for plugin in plugins {
        let plugin = Arc::clone(plugin);
        tokio::spawn(plugin.handle(msg));
    }
}
// ANCHOR_END: case

fn main() {}
