//! Config files (topics.json, consumerOffset.json, ...): written so that a crash at any moment
//! leaves either the old or the new content readable.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::mapped_file::fsync_dir;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `<path>.tmp` gets the new content (synced); the previous content goes to `<path>.bak`
/// (synced); the tmp file is renamed over `<path>`; the directory is synced so the rename holds.
pub fn persist(path: &Path, contents: &str) -> io::Result<()> {
    let dir = parent_dir(path);
    fs::create_dir_all(dir)?;
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    match fs::read(path) {
        Ok(previous) if !previous.is_empty() => {
            let mut f = File::create(with_suffix(path, ".bak"))?;
            f.write_all(&previous)?;
            f.sync_all()?;
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::rename(&tmp, path)?;
    fsync_dir(dir)
}

fn read_non_empty(path: &Path) -> Option<String> {
    match fs::read(path) {
        Ok(b) if !b.iter().all(|c| c.is_ascii_whitespace()) => match String::from_utf8(b) {
            Ok(s) => Some(s),
            Err(_) => {
                tracing::warn!(path = %path.display(), "config file is not UTF-8");
                None
            }
        },
        Ok(_) => None,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "config file unreadable");
            }
            None
        }
    }
}

/// The content of `<path>`, or of `<path>.bak` when the former is missing, empty or unreadable;
/// `None` when neither has any.
pub fn load(path: &Path) -> io::Result<Option<String>> {
    if let Some(s) = read_non_empty(path) {
        return Ok(Some(s));
    }
    let bak = with_suffix(path, ".bak");
    let s = read_non_empty(&bak);
    if s.is_some() {
        tracing::warn!(path = %path.display(), "config file missing or empty, using its .bak");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_keeps_previous_content_in_bak_and_load_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config").join("topics.json");
        assert_eq!(load(&path).unwrap(), None);
        persist(&path, "{\"v\":1}").unwrap();
        persist(&path, "{\"v\":2}").unwrap();
        assert_eq!(load(&path).unwrap().as_deref(), Some("{\"v\":2}"));
        assert_eq!(
            fs::read_to_string(with_suffix(&path, ".bak")).unwrap(),
            "{\"v\":1}"
        );
        assert!(!with_suffix(&path, ".tmp").exists());
        fs::write(&path, "").unwrap();
        assert_eq!(load(&path).unwrap().as_deref(), Some("{\"v\":1}"));
        fs::remove_file(&path).unwrap();
        assert_eq!(load(&path).unwrap().as_deref(), Some("{\"v\":1}"));
    }
}
