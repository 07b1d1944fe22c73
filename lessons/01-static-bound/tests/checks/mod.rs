//! What the fixed helpers promise. Each file is one promise; a failing test's
//! name says which one is broken.

mod context;
mod spawn_all;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}
