//! Atomic, safe file output.
//!
//! Every file spurion writes goes to a temporary name in the destination folder first and is
//! renamed into place only once it is complete, so an interrupted run never leaves a
//! half-written file under the final name.
//!
//! A run's output folder ([`StagedDir`]) replaces what is at `--out` only when that is a
//! folder spurion wrote itself (it holds the [`MARKER`] file), an empty folder, or nothing;
//! anything else needs `--force`, and a path that is, holds or lies inside one of the run's
//! inputs is never replaced ([`OutputTarget`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A hidden sibling name for `name` with `kind` (`tmp`, `partial`, `old`): `.NAME.kind-`,
/// with NAME cut to 200 bytes so that the whole stays a legal file name (255 bytes) whatever
/// the PID appended.
fn hidden(name: &str, kind: &str) -> String {
    let mut end = name.len().min(200);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.{kind}-", &name[..end])
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{}{}", hidden(&name, "tmp"), std::process::id()))
}

/// Writes `bytes` to `path` atomically, creating the parent folder if needed.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Invalid(format!("serialising {}: {e}", path.display())))?;
    write(path, &bytes)
}

/// Writes to `path` atomically through a writer callback.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let _open = gate()?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// The file spurion writes into every output folder it creates. Its presence is what allows a
/// later run to replace the folder.
pub const MARKER: &str = ".spurion-output";

/// Where a run's output folder goes, and what it must never replace.
#[derive(Debug, Clone)]
pub struct OutputTarget {
    /// The output folder as given.
    pub path: PathBuf,
    /// The flag that named it (`out`), for errors.
    pub flag: &'static str,
    /// Replace an existing file or folder that spurion did not write (never an input).
    pub force: bool,
    /// The run's inputs, each with the flag that named it.
    inputs: Vec<(&'static str, PathBuf)>,
}

impl OutputTarget {
    pub fn new(path: &Path, force: bool) -> Self {
        OutputTarget {
            path: path.to_path_buf(),
            flag: "out",
            force,
            inputs: Vec::new(),
        }
    }

    /// Adds an input the output must not replace, hold or lie inside.
    pub fn input(mut self, flag: &'static str, path: &Path) -> Self {
        self.inputs.push((flag, path.to_path_buf()));
        self
    }

    /// Checks, before any work, that the output may go to [`OutputTarget::path`].
    pub fn check(&self) -> Result<()> {
        let refuse = |msg: String| Err(Error::param(self.flag, msg));
        let shown = self.path.display();
        if self.path.as_os_str().is_empty() {
            return refuse("expected a folder name, got an empty path".into());
        }
        let out = resolve(&self.path);
        if out.parent().is_none() {
            return refuse(format!(
                "'{shown}' is the root folder: choose a folder to create"
            ));
        }
        // The first part of the path that exists must be a folder to create the rest in.
        if let Some(file) = out.ancestors().skip(1).find(|a| a.exists())
            && !file.is_dir()
        {
            return refuse(format!(
                "{} is not a folder, so '{shown}' cannot be made",
                file.display()
            ));
        }
        if let Some((flag, relation, input)) = input_relation(&self.protected(), &out) {
            return refuse(format!(
                "'{shown}' {relation} the --{flag} input {}: spurion never writes over or into \
                 its inputs; choose another output folder",
                input.display()
            ));
        }
        match Existing::of(&self.path) {
            Existing::Nothing | Existing::SpurionFolder | Existing::EmptyFolder => Ok(()),
            Existing::Special => refuse(format!(
                "'{shown}' is a device, pipe or socket: spurion writes only folders"
            )),
            _ if self.force => Ok(()),
            other => refuse(format!(
                "'{shown}' exists and {}: spurion replaces only folders it wrote (they hold \
                 {MARKER}); choose another folder, or pass --force to replace it",
                other.what()
            )),
        }
    }
}

/// A place the output must keep clear of: the flag that named it, where it really is, and
/// how the user wrote it.
type Protected = (&'static str, PathBuf, PathBuf);

impl OutputTarget {
    /// Every input, resolved, and the real places an input folder reaches through symbolic
    /// links inside it. The root folder and empty paths are not taken for inputs.
    fn protected(&self) -> Vec<Protected> {
        let mut out = Vec::new();
        for (flag, input) in &self.inputs {
            if input.as_os_str().is_empty() {
                continue;
            }
            let real = resolve(input);
            // The root folder holds everything: not taken for an input.
            if real.parent().is_none() {
                continue;
            }
            if real.is_dir() {
                out.extend(
                    linked_places(&real)
                        .into_iter()
                        .map(|p| (*flag, p.clone(), p)),
                );
            }
            out.push((*flag, real, input.clone()));
        }
        out
    }
}

/// How `path` (resolved) meets a protected place, if it does: it is one, holds one, or lies
/// inside one.
fn input_relation<'a>(
    protected: &'a [Protected],
    path: &Path,
) -> Option<(&'static str, &'static str, &'a Path)> {
    protected.iter().find_map(|(flag, real, shown)| {
        let relation = if real == path {
            "is"
        } else if real.starts_with(path) {
            "holds"
        } else if path.starts_with(real) {
            "lies inside"
        } else {
            return None;
        };
        Some((*flag, relation, shown.as_path()))
    })
}

/// Most folder entries [`linked_places`] looks at.
const LINK_WALK_LIMIT: usize = 200_000;

/// The real targets of the symbolic links inside `dir` (recursively, each real folder once).
fn linked_places(dir: &Path) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    let mut looked = 0;
    while let Some(d) = stack.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            looked += 1;
            if looked > LINK_WALK_LIMIT {
                return found;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                if let Ok(real) = fs::canonicalize(&path) {
                    if real.is_dir() {
                        stack.push(real.clone());
                    }
                    found.push(real);
                }
            } else if kind.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

/// What is at an output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existing {
    Nothing,
    /// A folder holding the [`MARKER`].
    SpurionFolder,
    EmptyFolder,
    /// A folder spurion did not write.
    OtherFolder,
    File,
    Symlink,
    /// A device, FIFO or socket.
    Special,
}

impl Existing {
    fn of(path: &Path) -> Self {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return Existing::Nothing;
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            Existing::Symlink
        } else if kind.is_dir() {
            if path.join(MARKER).is_file() {
                Existing::SpurionFolder
            } else if fs::read_dir(path).is_ok_and(|mut e| e.next().is_none()) {
                Existing::EmptyFolder
            } else {
                Existing::OtherFolder
            }
        } else if kind.is_file() {
            Existing::File
        } else {
            Existing::Special
        }
    }

    fn what(self) -> &'static str {
        match self {
            Existing::OtherFolder => "is a folder spurion did not write",
            Existing::File => "is a file",
            Existing::Symlink => "is a symbolic link",
            _ => "is in the way",
        }
    }
}

/// `path` made absolute with symbolic links resolved as far as it exists (the rest appended,
/// `.` and `..` applied), so that two spellings of one place compare equal.
pub fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    let mut existing = clean.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = fs::canonicalize(&existing) {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return clean,
        }
    }
}

/// An output folder filled under a temporary sibling name (`.NAME.partial-PID`) and moved
/// into place by [`StagedDir::commit`] once complete. Until then the folder at the final path,
/// if any, is untouched; a run that fails (or is dropped) removes its staging folder, and a
/// later run removes those left by runs that were killed (only folders holding the marker).
pub struct StagedDir {
    target: OutputTarget,
    staging: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Checks `target` again and prepares a staging folder for it, marker included.
    pub fn create(target: &OutputTarget) -> Result<Self> {
        target.check()?;
        let resolved = resolve(&target.path);
        let name = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::data(&target.path, "output folder needs a name"))?;
        let parent = resolved.parent().unwrap_or(Path::new("/")).to_path_buf();
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        remove_stale(&parent, &name, target);
        let staging = parent.join(format!(
            "{}{}",
            hidden(&name, "partial"),
            std::process::id()
        ));
        if Existing::of(&staging) == Existing::SpurionFolder {
            fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        let _open = gate()?;
        fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
        let staged = StagedDir {
            target: OutputTarget {
                path: resolved,
                ..target.clone()
            },
            staging,
            committed: false,
        };
        // The marker first, written in place: a run killed from here on leaves a folder that
        // a later run recognises as its own (an empty one is removed too).
        let marker = staged.staging.join(MARKER);
        fs::write(
            &marker,
            format!(
                "This folder was written by spurion {}; a later run may replace it.\n",
                env!("CARGO_PKG_VERSION")
            ),
        )
        .map_err(|e| Error::io(&marker, e))?;
        active().push(staged.staging.clone());
        Ok(staged)
    }

    /// Where to write while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Replaces what is at the target path with the staged folder, after checking once more
    /// that it may (the path may have changed while the run worked).
    pub fn commit(mut self) -> Result<()> {
        self.target.check()?;
        let _open = gate()?;
        let target = &self.target.path;
        let old = self.staging.with_file_name(format!(
            "{}{}",
            hidden(
                &target.file_name().unwrap_or_default().to_string_lossy(),
                "old"
            ),
            std::process::id()
        ));
        let existing = Existing::of(target);
        let replacing = existing != Existing::Nothing;
        if replacing {
            fs::rename(target, &old).map_err(|e| Error::io(target, e))?;
        }
        if let Err(e) = fs::rename(&self.staging, target) {
            // Put the previous output back rather than leave it behind.
            if replacing {
                let _ = fs::rename(&old, target);
            }
            return Err(Error::io(target, e));
        }
        self.committed = true;
        active().retain(|p| p != &self.staging);
        match existing {
            Existing::Nothing => {}
            Existing::SpurionFolder | Existing::EmptyFolder | Existing::OtherFolder => {
                let _ = fs::remove_dir_all(&old);
            }
            _ => {
                let _ = fs::remove_file(&old);
            }
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
            active().retain(|p| p != &self.staging);
        }
    }
}

/// The staging folders of this process that are not committed yet.
fn active() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static ACTIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set once the process is ending on a signal: every write holds the read side while it
/// touches the disk, and the signal handler takes the write side, so it removes staging
/// folders only between writes, and none starts after.
static ENDING: std::sync::RwLock<bool> = std::sync::RwLock::new(false);

/// Permission to write, held for the duration of one write; refused once the process ends.
fn gate() -> Result<std::sync::RwLockReadGuard<'static, bool>> {
    let open = ENDING.read().unwrap_or_else(|e| e.into_inner());
    if *open {
        return Err(Error::Invalid("interrupted".into()));
    }
    Ok(open)
}

/// Makes SIGINT, SIGTERM and SIGHUP end the process (exit 128 + the signal) after removing
/// the staging folders of runs still writing, so Ctrl-C leaves nothing half-written. For
/// programs (the `spurion` command calls it once); a library caller keeps its own handling.
pub fn remove_staging_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let mut ending = ENDING.write().unwrap_or_else(|e| e.into_inner());
            *ending = true;
            for dir in active().drain(..) {
                let _ = fs::remove_dir_all(dir);
            }
            std::process::exit(128 + sig);
        }
    });
}

/// Removes staging folders of `name` whose process is gone (Linux: no /proc/PID) and that
/// hold spurion's marker (a folder without it is not ours to remove), unless they are one of
/// the run's inputs.
fn remove_stale(parent: &Path, name: &str, target: &OutputTarget) {
    // Without /proc there is no telling whether a process is gone: remove nothing.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let protected = target.protected();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix(&hidden(name, "partial"))
            .or_else(|| file.strip_prefix(&hidden(name, "old")));
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) {
            let alive = Path::new("/proc").join(pid.to_string()).exists();
            if pid != std::process::id()
                && !alive
                && input_relation(&protected, &resolve(&entry.path())).is_none()
            {
                match Existing::of(&entry.path()) {
                    Existing::SpurionFolder => {
                        let _ = fs::remove_dir_all(entry.path());
                    }
                    // Killed before it wrote its marker: nothing in it to lose.
                    Existing::EmptyFolder => {
                        let _ = fs::remove_dir(entry.path());
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.json");
        write(&path, b"{}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn failed_write_leaves_nothing_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let err = write_with(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("interrupted"))
        });
        assert!(err.is_err());
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    fn target(path: &Path) -> OutputTarget {
        OutputTarget::new(path, false)
    }

    #[test]
    fn staged_folder_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target_path = dir.path().join("out");
        // An earlier run's output: it holds the marker.
        let first = StagedDir::create(&target(&target_path)).unwrap();
        write(&first.path().join("old.txt"), b"old").unwrap();
        first.commit().unwrap();
        let target = target_path;
        let staged = StagedDir::create(&self::target(&target)).unwrap();
        write(&staged.path().join("new.txt"), b"new").unwrap();
        // Before commit the old folder is intact.
        assert!(target.join("old.txt").exists() && !target.join("new.txt").exists());
        staged.commit().unwrap();
        assert!(target.join("new.txt").exists() && !target.join("old.txt").exists());
        assert!(target.join(MARKER).is_file());
        // Only the target is left in the parent.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_stage_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        {
            let staged = StagedDir::create(&self::target(&target)).unwrap();
            write(&staged.path().join("half.json"), b"{").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_stages_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // PID 4194304 is above Linux's pid_max limit: never alive.
        let stale = dir.path().join(".out.partial-4194304");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(MARKER), b"").unwrap();
        // The same name without the marker is not spurion's: it stays, unless it is empty.
        let foreign = dir.path().join(".out.partial-4194303");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("theirs.txt"), b"x").unwrap();
        let empty = dir.path().join(".out.partial-4194302");
        fs::create_dir(&empty).unwrap();
        // An input is never removed, marker or not.
        let input = dir.path().join(".out.old-4194301");
        fs::create_dir(&input).unwrap();
        fs::write(input.join(MARKER), b"").unwrap();
        let t = target(&dir.path().join("out")).input("model", &input);
        let _staged = StagedDir::create(&t).unwrap();
        assert!(!stale.exists() && !empty.exists());
        assert!(foreign.exists() && input.exists());
    }

    /// The error `check` gives, or "ok".
    fn verdict(t: &OutputTarget) -> String {
        t.check().map_or_else(|e| e.to_string(), |_| "ok".into())
    }

    #[test]
    fn output_targets_are_refused_or_allowed_by_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("theirs")).unwrap();
        fs::write(d.join("theirs/data.txt"), b"precious").unwrap();
        fs::write(d.join("file.txt"), b"precious").unwrap();
        fs::create_dir(d.join("empty")).unwrap();
        fs::create_dir(d.join("ours")).unwrap();
        fs::write(d.join("ours").join(MARKER), b"").unwrap();
        std::os::unix::fs::symlink(d.join("ours"), d.join("link")).unwrap();
        // (path, force, expected: "ok" or a piece of the error)
        let table: &[(&str, bool, &str)] = &[
            ("new", false, "ok"),
            ("new/deeper", false, "ok"),
            ("ours", false, "ok"),
            ("empty", false, "ok"),
            ("theirs", false, "a folder spurion did not write"),
            ("theirs", true, "ok"),
            ("file.txt", false, "is a file"),
            ("file.txt", true, "ok"),
            ("link", false, "symbolic link"),
            ("link", true, "ok"),
        ];
        for &(rel, force, want) in table {
            let got = verdict(&OutputTarget::new(&d.join(rel), force));
            assert!(got.contains(want), "{rel} force={force}: {got}");
            if want != "ok" {
                assert!(got.contains("--out") && got.contains("--force"), "{got}");
            }
        }
        // A device is never replaced, not even with --force.
        let got = verdict(&OutputTarget::new(Path::new("/dev/null"), true));
        assert!(got.contains("device"), "{got}");
        let got = verdict(&OutputTarget::new(Path::new("/"), true));
        assert!(got.contains("root"), "{got}");
    }

    #[test]
    fn inputs_are_never_output_targets_even_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("model/sub")).unwrap();
        fs::write(d.join("model").join(MARKER), b"").unwrap();
        fs::write(d.join("probes.onnx"), b"x").unwrap();
        let table: &[(&str, &str, &str)] = &[
            ("model", "model", "is the --model input"),
            ("", "model", "holds the --model input"),
            ("model/sub/report", "model", "lies inside the --model input"),
            ("probes.onnx", "probes.onnx", "is the --model input"),
            ("model/../model", "model", "is the --model input"),
        ];
        for &(out, input, want) in table {
            let t = OutputTarget::new(&d.join(out), true).input("model", &d.join(input));
            let got = verdict(&t);
            assert!(got.contains(want), "{out} vs {input}: {got}");
        }
        // A symbolic link to the input is the input.
        std::os::unix::fs::symlink(d.join("model"), d.join("alias")).unwrap();
        let t = OutputTarget::new(&d.join("alias/x"), true).input("model", &d.join("model"));
        assert!(verdict(&t).contains("lies inside"), "{}", verdict(&t));
        // A sibling is fine.
        let t = OutputTarget::new(&d.join("report"), false).input("model", &d.join("model"));
        assert_eq!(verdict(&t), "ok");
    }

    #[test]
    fn a_name_as_long_as_the_system_allows_still_stages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("é".repeat(127));
        let staged = StagedDir::create(&target(&path)).unwrap();
        write(&staged.path().join("r.json"), b"{}").unwrap();
        staged.commit().unwrap();
        assert!(path.join("r.json").is_file());
    }

    #[test]
    fn a_folder_reached_through_a_link_in_an_input_is_protected() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("probes")).unwrap();
        fs::create_dir_all(d.join("elsewhere")).unwrap();
        fs::write(d.join("elsewhere/x.png"), b"x").unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere"), d.join("probes/more")).unwrap();
        std::os::unix::fs::symlink(d.join("probes"), d.join("probes/loop")).unwrap();
        let t = OutputTarget::new(&d.join("elsewhere"), true).input("probes", &d.join("probes"));
        let e = t.check().unwrap_err().to_string();
        assert!(e.contains("--probes"), "{e}");
        // A file in the way of the path to create.
        let t = OutputTarget::new(&d.join("elsewhere/x.png/sub"), false);
        let e = t.check().unwrap_err().to_string();
        assert!(e.contains("is not a folder"), "{e}");
    }

    #[test]
    fn forced_replacement_of_a_file_leaves_only_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        fs::write(&path, b"someone else's").unwrap();
        let t = OutputTarget::new(&path, true);
        let staged = StagedDir::create(&t).unwrap();
        write(&staged.path().join("r.json"), b"{}").unwrap();
        staged.commit().unwrap();
        assert!(path.join("r.json").is_file());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
