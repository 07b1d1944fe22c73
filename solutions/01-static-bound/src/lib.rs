//! # Lesson 01, reference solution: `'static` means "holds no borrows"
//!
//! `T: 'static` does not ask a value to live forever. It asks its *type* to
//! contain no borrow with a shorter lifetime, so that whoever receives it (a
//! task, a type map) may keep it as long as it likes and drop it when done.
//! A `String` made a moment ago is `'static`; a `&str` into a request is not.
#![forbid(unsafe_code)]

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;

use bytes::Bytes;

// ANCHOR: spawn_all
/// Runs `work(item)` for every item, each on its own task, all at once, and
/// returns the results in the order of `items`. A panic in `work` is raised
/// again here.
pub async fn spawn_all<T, F, Fut>(items: Vec<T>, work: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    // A task owns its future, so the future may hold no borrow: `'static`.
    // Work that borrows a request's `&str` no longer fits; a `String` does.
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| tokio::spawn(work(item)))
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(result) => results.push(result),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    results
}
// ANCHOR_END: spawn_all

/// Per-request data for resolvers, looked up by type.
#[derive(Default)]
pub struct Context {
    data: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Stores `value`, replacing any earlier value of the same type.
    pub fn insert<D: Any + Send + Sync>(&mut self, value: D) {
        self.data.insert(TypeId::of::<D>(), Box::new(value));
    }

    pub fn get<D: Any + Send + Sync>(&self) -> Option<&D> {
        self.data.get(&TypeId::of::<D>())?.downcast_ref()
    }
}

/// An incoming request, as the transport hands it over.
pub struct Request {
    pub user: String,
    pub body: Bytes,
}

// ANCHOR: user_dto
/// The current user, as resolvers see it. It owns its name: the context
/// outlives the request (resolvers run later, on other tasks), and `Any`
/// only accepts types without borrows.
pub struct UserDto {
    pub name: String,
}

/// The context for one request.
pub fn build_context(request: &Request) -> Context {
    let mut context = Context::new();
    // One small copy, made once per request, buys a context that anything
    // may hold. A large payload would be shared instead (`Bytes`, `Arc`).
    context.insert(UserDto {
        name: request.user.clone(),
    });
    context
}
// ANCHOR_END: user_dto
