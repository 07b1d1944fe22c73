// Lesson 09. The next error of the starter, modelled without async-graphql
// (this crate does not depend on it): a resolver gets `&Context<'_>` for
// one call, and `data` lends what the schema keeps for the context's
// lifetime `'a`, as async-graphql's `Context::data` does. The worker task
// outlives the call, so it may not hold the loan: E0521, "`ctx` escapes the
// method body". The real starter fails the same way once its schema owns
// the log and its resolvers ask the context for a `MessageLog`.

// ANCHOR: case
use std::any::{Any, TypeId};
use std::collections::HashMap;

use tokio::sync::mpsc;

/// A context as async-graphql hands it to a resolver.
pub struct Context<'a> {
    data: &'a HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl<'a> Context<'a> {
    pub fn data<D: Any + Send + Sync>(&self) -> Option<&'a D> {
        self.data.get(&TypeId::of::<D>())?.downcast_ref()
    }
}

/// What the schema keeps: the pipeline's messages.
pub struct MessageLog {
    pub messages: Vec<String>,
}

pub struct SubscriptionRoot;

impl SubscriptionRoot {
    pub async fn messages(&self, ctx: &Context<'_>) -> mpsc::Receiver<String> {
        let log = ctx.data::<MessageLog>().expect("the schema keeps the log");
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            for message in &log.messages {
                if tx.send(message.clone()).await.is_err() {
                    return;
                }
            }
        });
        rx
    }
}
// ANCHOR_END: case

fn main() {}
