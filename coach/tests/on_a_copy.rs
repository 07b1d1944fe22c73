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
    /// A git repository holding the committed workspace: a clone where this
    /// one is a clone, and otherwise (a ZIP download has no `.git`) its
    /// files, committed in a repository made for the test.
    fn new(name: &str) -> Copy {
        let copy = Copy::without_git(name);
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .args(["-c", "user.name=coach", "-c", "user.email=coach@localhost"])
                .args(args)
                .current_dir(&copy.root)
                .stdout(Stdio::null())
                .status()
                .expect("git runs");
            assert!(status.success(), "git {args:?} failed in the copy");
        };
        git(&["init", "--quiet"]);
        git(&["add", "--all"]);
        git(&["commit", "--quiet", "--message", "the course"]);
        copy
    }

    /// The workspace's files as a ZIP download has them: everything but
    /// `.git`, build output and backups. Where this workspace is a clone,
    /// the committed files (`git archive`), so that a maintainer's
    /// uncommitted edits do not leak in.
    fn without_git(name: &str) -> Copy {
        let root = std::env::temp_dir().join(format!("coach-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if here.join(".git").exists() {
            let mut archive = Command::new("git")
                .args(["archive", "--format=tar", "HEAD"])
                .current_dir(&here)
                .stdout(Stdio::piped())
                .spawn()
                .expect("git runs");
            let status = Command::new("tar")
                .args(["-x", "-C"])
                .arg(&root)
                .stdin(archive.stdout.take().expect("piped"))
                .status()
                .expect("tar runs");
            assert!(status.success(), "git archive | tar failed");
            assert!(
                archive.wait().expect("git ends").success(),
                "git archive failed"
            );
        } else {
            copy_tree(&here, &root);
        }
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

/// Copies the files below `from` into `to`, leaving out what a download
/// does not have.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if [".git", "target", "backups"]
            .iter()
            .any(|skip| name == *skip)
        {
            continue;
        }
        let (source, dest) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&source, &dest);
        } else {
            std::fs::copy(&source, &dest).unwrap();
        }
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
fn without_git_reset_says_what_it_needs_in_one_line_and_changes_nothing() {
    let copy = Copy::without_git("zip");
    assert!(!copy.root.join(".git").exists());

    // Untouched: nothing to reset, and no git needed to know it.
    let untouched = copy.run(&["reset", "01"]);
    assert!(untouched.status.success(), "{}", text(&untouched));
    assert!(
        text(&untouched).contains("nothing to reset"),
        "{}",
        text(&untouched)
    );

    let mine = b"// half done\n".to_vec();
    std::fs::write(copy.starter(), &mine).unwrap();
    for args in [&["reset", "01"][..], &["reset", "--all", "--yes"][..]] {
        let refused = copy.run(args);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(said.trim_end().lines().count(), 1, "{said}");
        assert!(said.contains("needs git") && said.contains("ZIP"), "{said}");
        assert_eq!(std::fs::read(copy.starter()).unwrap(), mine);
        assert!(!copy.root.join("backups").exists());
    }
}

#[test]
fn without_git_the_starters_are_known_by_their_fingerprints() {
    // What lets `cargo run` call a lesson "not started" without building
    // it: every committed starter has its recorded fingerprint.
    let copy = Copy::without_git("prints");
    let output = copy.run(&["fingerprint"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(!text(&output).contains("NOT recorded"), "{}", text(&output));

    // An edit is seen, and the lesson is no longer "as committed".
    std::fs::write(copy.starter(), b"// half done\n").unwrap();
    let output = copy.run(&["fingerprint"]);
    assert!(!output.status.success(), "{}", text(&output));
    let not: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("NOT recorded"))
        .collect();
    assert_eq!(not.len(), 1, "{}", text(&output));
    assert!(not[0].trim_start().starts_with("01 "), "{}", text(&output));
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
