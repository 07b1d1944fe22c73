//! Nothing to see here: this crate exists to run `tests/ui.rs`, which compiles
//! every file in `cases/` under edition 2021 and compares rustc's output with
//! the `.stderr` file next to it.
