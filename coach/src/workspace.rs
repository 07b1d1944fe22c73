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
    let tar = Command::new("tar")
        .current_dir(dest)
        .args(["-xf", "-"])
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
    let output = Command::new("git")
        .current_dir(root)
        .args(["status", "--porcelain", "--"])
        .arg(path)
        .output()
        .ok()?;
    output.status.success().then_some(!output.stdout.is_empty())
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
