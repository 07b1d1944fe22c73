//! The files behind the lessons: pristine copies from git, content hashes,
//! the scratch workspace that `verify` builds in, backups for `reset`.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// Writes the committed (HEAD) version of `paths` into `dest`, keeping their
/// relative layout. Fails if `root` is not a git clone.
pub fn export_from_head(root: &Path, paths: &[&Path], dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut archive = Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar", "HEAD", "--"])
        .args(paths)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run git: a pristine copy of the lessons comes from git")?;
    // `-m`: the files get the time they are written, not the commit's. With
    // the commit's (older) times, cargo took a build left in the target
    // directory by an earlier run (the solution's, in verify) for fresh.
    let tar = Command::new("tar")
        .current_dir(dest)
        .args(["-m", "-xf", "-"])
        .stdin(archive.stdout.take().context("git's stdout is piped")?)
        .status()
        .context("cannot run tar")?;
    let git = archive.wait_with_output()?;
    if !git.status.success() {
        bail!(
            "git could not export {:?} from HEAD: {}",
            paths,
            String::from_utf8_lossy(&git.stderr).trim()
        );
    }
    if !tar.success() {
        bail!("tar could not unpack the lessons into {}", dest.display());
    }
    Ok(())
}

/// Whether `path` differs from HEAD (edited, added or removed files).
/// `None` when there is no git to ask.
pub fn has_local_edits(root: &Path, path: &Path) -> Option<bool> {
    // A copy without its own `.git` (a ZIP download) has no history, even
    // when it was unpacked inside another repository that git would find.
    if !is_git_clone(root) {
        return None;
    }
    let output = Command::new("git")
        .current_dir(root)
        .args(["status", "--porcelain", "--"])
        .arg(path)
        .output()
        .ok()?;
    output.status.success().then_some(!output.stdout.is_empty())
}

/// Whether `root` is a git clone of its own (`.git` is a folder, or a file
/// in a worktree).
pub fn is_git_clone(root: &Path) -> bool {
    root.join(".git").exists()
}

/// Every file below `dir`, sorted, skipping build output.
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            for entry in std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
            {
                pending.push(entry?.path());
            }
        } else if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A hash of the names and contents of every file in `paths` (files or
/// folders): equal hashes mean nothing that a check depends on changed.
pub fn content_hash(root: &Path, paths: &[&Path]) -> Result<String> {
    let mut hasher = DefaultHasher::new();
    for path in paths {
        let full = root.join(path);
        let files = if full.is_dir() {
            files_below(&full)?
        } else {
            vec![full]
        };
        for file in files {
            hasher.write(
                file.strip_prefix(root)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .as_bytes(),
            );
            // A missing file hashes as empty: it changes the hash all the same.
            let bytes = std::fs::read(&file).unwrap_or_default();
            hasher.write_usize(bytes.len());
            hasher.write(&bytes);
        }
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// The fingerprint of a lesson's starter: its `src/` and `tests/`, names
/// and contents, as a lesson's manifest records it (`starter-fingerprint`).
/// Unlike [`content_hash`] it is committed, so it must be the same on every
/// machine and every Rust release: FNV-1a (64 bits) over `/`-separated
/// paths and contents, with CRLF line ends read as LF (a Windows checkout
/// with `core.autocrlf` is the same starter).
pub fn starter_fingerprint(lesson_dir: &Path) -> Result<String> {
    stable_hash(lesson_dir, &[Path::new("src"), Path::new("tests")])
}

/// A hash of the files in `paths` (files or folders, relative to `root`)
/// that is the same on every machine and every Rust release, for values
/// that are committed: FNV-1a (64 bits) over `/`-separated paths and
/// contents, CRLF read as LF. A missing path adds nothing.
pub fn stable_hash(root: &Path, paths: &[&Path]) -> Result<String> {
    let mut hash = FNV_OFFSET;
    let mut feed = |bytes: &[u8]| hash = fnv1a(hash, bytes);
    for part in paths {
        let full = root.join(part);
        let files = if full.is_dir() {
            files_below(&full)?
        } else if full.is_file() {
            vec![full]
        } else {
            continue;
        };
        for file in files {
            let relative = file.strip_prefix(root).unwrap_or(&file);
            let name: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let text = normalise_line_ends(&bytes);
            feed(name.join("/").as_bytes());
            feed(&[0]);
            feed(&(text.len() as u64).to_le_bytes());
            feed(&text);
        }
    }
    Ok(format!("{hash:016x}"))
}

/// Copies the workspace at `root` into `dest` as a download has it: every
/// file but `.git`, build output (`target/`) and `backups/`.
pub fn copy_workspace(root: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        if [".git", "target", "backups"]
            .iter()
            .any(|skip| name == *skip)
        {
            continue;
        }
        if entry.file_type()?.is_dir() {
            replace_dir(&entry.path(), &dest.join(&name))?;
        } else {
            std::fs::copy(entry.path(), dest.join(&name))
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits: `hash` carried on over `bytes`.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// `bytes` with every CRLF turned into LF.
fn normalise_line_ends(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(*byte);
    }
    out
}

/// Copies the folder `from` to `to`, replacing what `to` held.
pub fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("cannot remove {}", to.display()))?;
    }
    for file in files_below(from)? {
        let dest = to.join(file.strip_prefix(from).expect("files_below stays below"));
        std::fs::create_dir_all(dest.parent().expect("a file has a folder"))?;
        std::fs::copy(&file, &dest).with_context(|| format!("cannot copy {}", file.display()))?;
    }
    Ok(())
}

/// Writes, in `scratch`, a workspace whose members are `support` and the
/// lessons in `scratch/lessons/`: the root manifest's dependencies,
/// lints and profiles, with its member lists replaced. The lock file is
/// copied so that the same versions are built.
pub fn write_scratch_workspace(root: &Path, scratch: &Path) -> Result<()> {
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")?;
    let mut doc: toml_edit::DocumentMut = manifest
        .parse()
        .context("the root Cargo.toml is not valid TOML")?;
    let workspace = doc
        .get_mut("workspace")
        .and_then(|item| item.as_table_mut())
        .context("the root Cargo.toml has no [workspace]")?;
    let mut members = toml_edit::Array::new();
    members.push("support");
    members.push("lessons/*");
    workspace.insert("members", toml_edit::value(members));
    workspace.remove("default-members");
    // A later lesson builds on an earlier one's reference solution (lesson
    // 08 reads frames with 04's `FrameReader`): such path dependencies point
    // back into the real workspace, which the scratch one does not copy.
    // `support` is copied, so it stays relative.
    if let Some(dependencies) = workspace
        .get_mut("dependencies")
        .and_then(|item| item.as_table_like_mut())
    {
        for (name, dependency) in dependencies.iter_mut() {
            if name == "lesson-support" {
                continue;
            }
            let Some(path) = dependency.get_mut("path") else {
                continue;
            };
            if let Some(relative) = path.as_str() {
                let absolute = root.join(relative).display().to_string();
                *path = toml_edit::value(absolute);
            }
        }
    }
    std::fs::write(scratch.join("Cargo.toml"), doc.to_string())?;
    for file in ["Cargo.lock", "rust-toolchain.toml"] {
        if root.join(file).exists() {
            std::fs::copy(root.join(file), scratch.join(file))?;
        }
    }
    replace_dir(&root.join("support"), &scratch.join("support"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference (64-bit FNV-1a).
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn a_starter_fingerprint_is_fixed_by_its_files_and_blind_to_crlf() {
        let dir = std::env::temp_dir().join(format!("coach-print-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("tests/checks")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "fn a() {}\n").unwrap();
        std::fs::write(dir.join("tests/checks/mod.rs"), "mod b;\n").unwrap();
        std::fs::write(dir.join("HINTS.md"), "1. hint\n").unwrap();
        let first = starter_fingerprint(&dir).unwrap();
        // A constant: the value is committed in lessons' manifests, so it
        // must not depend on the machine or the Rust release.
        assert_eq!(first, "bd652218d5708f0d");
        // Files outside src/ and tests/ are not the starter.
        std::fs::write(dir.join("HINTS.md"), "1. other\n").unwrap();
        assert_eq!(starter_fingerprint(&dir).unwrap(), first);
        // The same text with CRLF line ends is the same starter.
        std::fs::write(dir.join("src/lib.rs"), "fn a() {}\r\n").unwrap();
        assert_eq!(starter_fingerprint(&dir).unwrap(), first);
        // Any edit, of a check too, is not.
        std::fs::write(dir.join("src/lib.rs"), "fn a() { }\n").unwrap();
        assert_ne!(starter_fingerprint(&dir).unwrap(), first);
        std::fs::write(dir.join("src/lib.rs"), "fn a() {}\n").unwrap();
        std::fs::write(dir.join("tests/checks/mod.rs"), "mod c;\n").unwrap();
        assert_ne!(starter_fingerprint(&dir).unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hash_changes_with_any_file_and_only_then() {
        let dir = std::env::temp_dir().join(format!("coach-hash-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lesson/src")).unwrap();
        std::fs::write(dir.join("lesson/src/lib.rs"), "fn a() {}").unwrap();
        let paths = [Path::new("lesson")];
        let first = content_hash(&dir, &paths).unwrap();
        assert_eq!(first, content_hash(&dir, &paths).unwrap());
        std::fs::write(dir.join("lesson/src/lib.rs"), "fn b() {}").unwrap();
        let second = content_hash(&dir, &paths).unwrap();
        assert_ne!(first, second);
        std::fs::write(dir.join("lesson/src/extra.rs"), "").unwrap();
        assert_ne!(second, content_hash(&dir, &paths).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
