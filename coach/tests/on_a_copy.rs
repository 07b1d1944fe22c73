//! The coach driven against a temporary clone of this workspace, as a
//! learner would use it: `reset` and its undo, `reset --all` without a
//! terminal, the note about another compiler, and colour only where asked.
//! Nothing here builds a lesson, so the tests take a second or two.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A clone of the committed workspace in a temporary folder, removed when
/// dropped.
struct Copy {
    root: PathBuf,
}

impl Copy {
    fn new(name: &str) -> Copy {
        let root = std::env::temp_dir().join(format!("coach-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let status = Command::new("git")
            .args(["clone", "--quiet", "--no-hardlinks"])
            .arg(&here)
            .arg(&root)
            .status()
            .expect("git runs");
        assert!(status.success(), "git clone of the workspace failed");
        Copy { root }
    }

    fn coach(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coach"));
        command
            .args(args)
            .current_dir(&self.root)
            // Its own target folder: no sharing with the real one, or with
            // the other tests running at the same time.
            .env("CARGO_TARGET_DIR", self.root.join("target"))
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.coach(args).output().expect("the coach runs")
    }

    fn starter(&self) -> PathBuf {
        self.root.join("lessons/01-static-bound/src/lib.rs")
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn reset_then_undo_gives_back_the_learners_file_byte_for_byte() {
    let copy = Copy::new("undo");
    let starter = std::fs::read(copy.starter()).unwrap();
    // Not even UTF-8: whatever the learner had, it comes back unchanged.
    let mut mine = starter.clone();
    mine.extend_from_slice(b"\n// my attempt \xff\xfe\r\n");
    std::fs::write(copy.starter(), &mine).unwrap();

    let reset = copy.run(&["reset", "01"]);
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(
        text(&reset).contains("backups/01-static-bound-"),
        "{}",
        text(&reset)
    );
    assert_eq!(std::fs::read(copy.starter()).unwrap(), starter);

    let undo = copy.run(&["reset", "--undo", "01"]);
    assert!(undo.status.success(), "{}", text(&undo));
    assert_eq!(std::fs::read(copy.starter()).unwrap(), mine);

    // The undo kept what it replaced: undoing again brings the starter back.
    let again = copy.run(&["reset", "--undo", "1"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(std::fs::read(copy.starter()).unwrap(), starter);
}

#[test]
fn reset_all_without_a_terminal_or_yes_changes_nothing() {
    let copy = Copy::new("all");
    let starter = std::fs::read(copy.starter()).unwrap();
    let mine = b"// half done\n".to_vec();
    std::fs::write(copy.starter(), &mine).unwrap();

    let refused = copy.run(&["reset", "--all"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("--yes"), "{}", text(&refused));
    assert_eq!(std::fs::read(copy.starter()).unwrap(), mine);
    assert!(
        !copy.root.join("backups").exists(),
        "nothing was backed up either"
    );

    let forced = copy.run(&["reset", "--all", "--yes"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(std::fs::read(copy.starter()).unwrap(), starter);
}

#[test]
fn another_compiler_is_named_in_one_line() {
    let copy = Copy::new("rustc");
    let fake = copy.root.join("fake-rustc");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'rustc 1.97.0-nightly (0123456789 2026-11-01)'\n",
    )
    .unwrap();
    let status = Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    assert!(status.success());

    // `verify` of a lesson that does not exist: the note comes first, and
    // nothing is built.
    let output = copy
        .coach(&["verify", "99"])
        .env("RUSTC", &fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let notes: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("1.97.0-nightly"))
        .collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(notes[0].contains("pinned 1.95.0"), "{stderr}");

    let pinned = copy.run(&["verify", "99"]);
    assert!(
        !String::from_utf8_lossy(&pinned.stderr).contains("note: rustc is"),
        "no note with the pinned compiler: {}",
        text(&pinned)
    );
}

#[test]
fn colour_only_where_it_is_wanted() {
    let copy = Copy::new("colour");
    // An error is printed in colour when colour is forced...
    let forced = copy
        .coach(&["reset"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(text(&forced).contains('\u{1b}'), "{}", text(&forced));
    // ...and never with NO_COLOR, nor with --color never.
    let no_color = copy
        .coach(&["reset"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!text(&no_color).contains('\u{1b}'), "{:?}", text(&no_color));
    let never = copy
        .coach(&["--color", "never", "reset"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!text(&never).contains('\u{1b}'), "{:?}", text(&never));
    // Piped, with nothing set: plain.
    assert!(!text(&copy.run(&["reset"])).contains('\u{1b}'));
}
