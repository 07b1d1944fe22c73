//! # Lesson 01: what a `'static` bound asks for
//!
//! Two helpers a service grows sooner or later. `spawn_all` runs a piece of
//! async work for every item, each on its own task, and gathers the results.
//! `build_context` fills a request's `Context`, a type map shaped like
//! async-graphql's `Schema::build(..).data(..)`, with the current user.
//!
//! Neither compiles. Run `cargo test` in this folder and read the errors; the
//! chapter is `book/src/01-static-bound.md`, and `cargo run -- hint 01` at the
//! root gives one hint at a time. The checks in `tests/` say what the helpers
//! promise: results in input order, work that really runs on separate tasks,
//! at the same time, and a context that outlives the request it came from.
//!
//! Keep the public API (`spawn_all`, `Context`, `Request`, `UserDto` with its
//! `name` field, `build_context`): the checks use it.
#![forbid(unsafe_code)]

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;

use bytes::Bytes;

/// Runs `work(item)` for every item, each on its own task, all at once, and
/// returns the results in the order of `items`. A panic in `work` is raised
/// again here.
pub async fn spawn_all<T, F, Fut>(items: Vec<T>, work: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    Fut: Future + Send,
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

/// The current user, as resolvers see it. It borrows the name from the
/// request: no need to copy it, the request is right there.
pub struct UserDto<'a> {
    pub name: &'a str,
}

/// The context for one request.
pub fn build_context(request: &Request) -> Context {
    let mut context = Context::new();
    context.insert(UserDto {
        name: &request.user,
    });
    context
}
