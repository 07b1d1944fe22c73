//! What a fixed subscription promises. Each file is one promise; a failing
//! test's name says which one is broken. Every check executes the real
//! schema, as a server does: `Schema::execute_stream` with the text of a
//! subscription, reading the responses it streams.

mod back_pressure;
mod cancellation;
mod context;
mod leaks;
mod order;

use async_graphql::{Response, Value};
use futures::{Stream, StreamExt};
use lesson::{FeedSchema, MessageDto};
use lesson_support::within;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

/// The responses of `subscription { messages(topic: ..) { .. } }`, as a
/// GraphQL server would stream them to a client.
fn subscribe(schema: &FeedSchema, topic: &str) -> impl Stream<Item = Response> + Send + 'static {
    schema.execute_stream(format!(
        "subscription {{ messages(topic: {topic:?}) {{ seq topic text }} }}"
    ))
}

/// The message in one response, or a failed check if the response holds
/// errors or something else.
fn message(response: Response) -> MessageDto {
    assert!(
        response.errors.is_empty(),
        "the subscription answered with errors: {:?}",
        response.errors
    );
    let field = |object: &async_graphql::indexmap::IndexMap<async_graphql::Name, Value>,
                 name: &str| {
        object
            .get(name)
            .unwrap_or_else(|| panic!("the message has no {name:?}: {object:?}"))
            .clone()
    };
    let Value::Object(data) = response.data else {
        panic!("a response holds an object: {:?}", response.data)
    };
    let Value::Object(message) = field(&data, "messages") else {
        panic!("`messages` is an object: {data:?}")
    };
    let (Value::Number(seq), Value::String(topic), Value::String(text)) = (
        field(&message, "seq"),
        field(&message, "topic"),
        field(&message, "text"),
    ) else {
        panic!("seq is a number, topic and text are strings: {message:?}")
    };
    MessageDto {
        seq: seq.as_u64().expect("seq is a whole number"),
        topic,
        text,
    }
}

/// The next message of `stream`, `None` if the subscription ended, or a
/// failed check if none comes.
async fn next_message<S>(what: &str, stream: &mut S) -> Option<MessageDto>
where
    S: Stream<Item = Response> + Unpin,
{
    within(what, stream.next()).await.map(message)
}

/// Every message until the subscription ends, or a failed check if it does
/// not end, or if it sends more messages than any check's log holds (a
/// subscription that sends some again and again would never end, and never
/// wait either, so no timeout of paused time would see it).
async fn drain<S>(stream: S) -> Vec<MessageDto>
where
    S: Stream<Item = Response>,
{
    const LIMIT: usize = 10_000;
    let responses: Vec<Response> =
        within("the subscription to end", stream.take(LIMIT + 1).collect()).await;
    assert!(
        responses.len() <= LIMIT,
        "the subscription sent more than {LIMIT} messages, more than the log \
         holds: it sends some again"
    );
    responses.into_iter().map(message).collect()
}

/// `(seq, text)` of each message, for short assertions.
fn seq_and_text(messages: &[MessageDto]) -> Vec<(u64, &str)> {
    messages
        .iter()
        .map(|message| (message.seq, message.text.as_str()))
        .collect()
}
