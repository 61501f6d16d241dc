//! uk-run's cache directory: `$XDG_CACHE_HOME/uk-run` or `~/.cache/uk-run`.
//! Entries are hints that save start-up time; each user checks what it
//! reads, and a missing or unwritable cache only costs time.

use std::io::Write;
use std::path::{Path, PathBuf};

pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("uk-run"));
    }
    std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("uk-run"))
}

/// Writes an entry atomically (a temporary file, then a rename).
pub fn store(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))
}
