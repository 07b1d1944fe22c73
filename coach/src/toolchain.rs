//! Which compiler the course is pinned to, and which one cargo will use.
//! Another compiler still runs the lessons, but its messages and error codes
//! may differ from the recorded snapshots, so the learner is told, once, in
//! one line.

use std::path::Path;
use std::process::Command;

/// The channel `rust-toolchain.toml` pins (`1.95.0`), if it can be read.
pub fn pinned(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("rust-toolchain.toml")).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    Some(doc.get("toolchain")?.get("channel")?.as_str()?.to_owned())
}

/// The version of the `rustc` that cargo will run: `$RUSTC`, or the first
/// `rustc` on `PATH` (rustup's, which honours `rust-toolchain.toml`).
/// `None` when there is no compiler to ask.
pub fn in_use() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "rustc 1.95.0 (59807616e 2026-01-14)"
    text.split_whitespace().nth(1).map(str::to_owned)
}

/// One line for the learner when the compiler is not the pinned one.
pub fn mismatch(pinned: Option<&str>, in_use: Option<&str>) -> Option<String> {
    let pinned = pinned?;
    match in_use {
        Some(version) if version == pinned => None,
        Some(version) => Some(format!(
            "note: rustc is {version}, not the pinned {pinned}: the lessons work, but rustc's \
             messages and error codes may differ from the book's. With rustup, \
             `rustup toolchain install {pinned}` and check that no `RUSTC` or \
             `rustup override` picks another one."
        )),
        None => Some(format!(
            "note: no rustc found: install rustup (https://rustup.rs); it reads \
             rust-toolchain.toml and installs the pinned {pinned}."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_different_or_missing_compiler_is_mentioned() {
        assert_eq!(mismatch(Some("1.95.0"), Some("1.95.0")), None);
        let other = mismatch(Some("1.95.0"), Some("1.97.0-nightly")).unwrap();
        assert!(other.contains("1.97.0-nightly") && other.contains("pinned 1.95.0"));
        assert!(!other.contains('\n'), "one line: {other}");
        assert!(mismatch(Some("1.95.0"), None).unwrap().contains("rustup"));
        assert_eq!(mismatch(None, Some("1.97.0")), None);
    }
}
