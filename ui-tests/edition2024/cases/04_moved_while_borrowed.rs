// Lesson 04. Why a value that points into itself must not move, where the
// borrow checker can see it: in one function. `view` holds the address of
// `name`, and moving `name` while `view` is still used would leave `view`
// pointing at the old place: E0505. The future of `keeps_both` holds the
// same two things in its own state across the `.await`, and compiles: the
// borrow checker does not follow moves of the future itself, which is why
// its `poll` takes `Pin<&mut Self>`.

// ANCHOR: case
pub fn moved_while_borrowed() -> usize {
    let name = String::from("ada");
    let view = &name;
    let moved = name;
    view.len() + moved.len()
}

pub async fn keeps_both() -> usize {
    let name = String::from("ada");
    let view = &name;
    tokio::task::yield_now().await;
    view.len()
}
// ANCHOR_END: case

fn main() {}
