// Lesson 02. The seed text's dispatcher: each plugin's handler future is
// spawned as it is. That future borrows both the message (`'a`) and the
// plugin (through `&self`), and `tokio::spawn` wants a future that borrows
// nothing: E0521, once for each borrow.

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

pub struct Dispatcher {
    plugins: Vec<Arc<dyn Plugin>>,
}

impl Dispatcher {
    pub fn dispatch<'a>(&self, msg: BorrowedMessage<'a>) {
        for plugin in &self.plugins {
            tokio::spawn(plugin.handle(msg));
        }
    }
}
// ANCHOR_END: case

fn main() {}
