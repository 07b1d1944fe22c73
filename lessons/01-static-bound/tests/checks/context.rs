//! The context owns its data: it outlives the request it was built from, and
//! can be handed to another task, as GraphQL executors do with theirs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use lesson::{Context, Request, UserDto, build_context};
use lesson_support::{count_allocations, within};

fn request(user: &str) -> Request {
    Request {
        user: user.to_string(),
        body: Bytes::from_static(b"{ me { name } }"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_context_outlives_the_request() {
    let request = request("ada");
    let context = build_context(&request);
    drop(request);

    let user = context
        .get::<UserDto>()
        .expect("the context holds the current user");
    assert_eq!(&*user.name, "ada");
}

#[tokio::test(start_paused = true)]
async fn the_context_can_be_moved_to_another_task() {
    let context = build_context(&request("grace"));

    let name =
        tokio::spawn(async move { context.get::<UserDto>().map(|user| user.name.to_string()) });

    let name = within("the resolver task", name)
        .await
        .expect("resolver panicked");
    assert_eq!(name.as_deref(), Some("grace"));
}

#[test]
fn the_type_map_keeps_one_value_per_type() {
    let mut context = Context::new();
    context.insert(42_u32);
    context.insert(String::from("first"));
    context.insert(String::from("second"));

    assert_eq!(context.get::<u32>(), Some(&42));
    assert_eq!(context.get::<String>().map(String::as_str), Some("second"));
    assert!(context.get::<u64>().is_none());
}

#[test]
fn a_context_and_its_request_leave_nothing_behind() {
    // The first context may set up what any first use sets up; from then on
    // a request and its context, once dropped, must give back every byte.
    drop(build_context(&request("warm-up")));
    for user in ["ada", "grace", "barbara"] {
        let ((), counted) = count_allocations(|| {
            let request = request(&format!("{user}, signed in at 09:00"));
            let context = build_context(&request);
            assert!(context.get::<UserDto>().is_some());
            drop(context);
            drop(request);
        });
        assert_eq!(
            (counted.count_current, counted.bytes_current),
            (0, 0),
            "building and dropping a context for {user:?} left {} allocations ({} bytes) \
             alive: something keeps the user forever (a leak, or a global table \
             nobody empties)",
            counted.count_current,
            counted.bytes_current,
        );
    }
}

#[test]
fn a_value_replaced_by_another_of_its_type_is_dropped_at_once() {
    // A context can live as long as a request does, and a resolver may set
    // a value many times: the one it replaces goes now, not with the context.
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut context = Context::new();
    for _ in 0..1_000 {
        context.insert(Tracked(Arc::clone(&dropped)));
    }

    assert_eq!(
        dropped.load(Ordering::SeqCst),
        999,
        "1,000 values of one type inserted in a context that is still alive: \
         the 999 replaced ones must be dropped, not kept"
    );
    drop(context);
    assert_eq!(dropped.load(Ordering::SeqCst), 1_000);
}
