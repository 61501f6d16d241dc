//! Finding the program's `syscall` instructions, with a cache.
//!
//! Decoding busybox's 1.5 MB of code takes ~8 ms, several times the whole
//! start-up budget, so the sites found are kept in
//! `$XDG_CACHE_HOME/uk-run/` (or `~/.cache/uk-run/`), keyed by the file's
//! identity (device, inode, size, mtime and ctime, as make and Python's
//! bytecode cache do: hashing the code instead cost ~0.1 ms a start) and the
//! executable segments' addresses. A cache entry is only a hint: every cached
//! site is checked to hold `0f 05` (or `0f a2`) before it is rewritten, and a
//! mismatch means a fresh decode. A missed site would still work, through
//! the slow path.

use crate::cache::{cache_dir, store};
use xxhash_rust::xxh3::Xxh3;

/// Bumped when the decoder's answer could change.
const FORMAT: u64 = 3;

/// Which file the code came from: any change to it changes the ctime.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// One executable segment: its address and its bytes.
pub struct Code<'a> {
    pub vaddr: u64,
    pub bytes: &'a [u8],
}

fn key(file: &FileId, code: &[Code<'_>]) -> String {
    let mut h = Xxh3::new();
    h.update(&FORMAT.to_le_bytes());
    for w in [file.dev, file.ino, file.size] {
        h.update(&w.to_le_bytes());
    }
    h.update(&file.mtime_ns.to_le_bytes());
    h.update(&file.ctime_ns.to_le_bytes());
    for c in code {
        h.update(&c.vaddr.to_le_bytes());
        h.update(&(c.bytes.len() as u64).to_le_bytes());
    }
    format!("sites-{:032x}", h.digest128())
}

fn holds(code: &[Code<'_>], site: u64, insn: [u8; 2]) -> bool {
    code.iter().any(|c| {
        site >= c.vaddr && site + 2 <= c.vaddr + c.bytes.len() as u64 && c.bytes[(site - c.vaddr) as usize..][..2] == insn
    })
}

/// Cache file: the number of syscall sites, the syscall sites, the cpuid sites (u64 LE each).
fn decode_entry(bytes: &[u8], code: &[Code<'_>]) -> Option<loader::Sites> {
    if !bytes.len().is_multiple_of(8) || bytes.len() < 8 {
        return None;
    }
    let words: Vec<u64> = bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    let n = usize::try_from(words[0]).ok().filter(|&n| n < words.len())?;
    let sites = loader::Sites { syscall: words[1..1 + n].to_vec(), cpuid: words[1 + n..].to_vec() };
    let ok = sites.syscall.iter().all(|&s| holds(code, s, loader::SYSCALL))
        && sites.cpuid.iter().all(|&s| holds(code, s, loader::CPUID));
    ok.then_some(sites)
}

/// Where the sites came from, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Decoded,
}

/// The addresses of every `syscall` and `cpuid` instruction in `code`,
/// read from `file`; `file: None` skips the cache.
pub fn find(code: &[Code<'_>], file: Option<&FileId>) -> (loader::Sites, Source) {
    let dir = file.and_then(|_| cache_dir());
    let name = key(file.unwrap_or(&FileId::default()), code);
    if let Some(d) = &dir {
        if let Some(sites) = std::fs::read(d.join(&name)).ok().and_then(|b| decode_entry(&b, code)) {
            return (sites, Source::Cache);
        }
    }
    let mut sites = loader::Sites::default();
    for c in code {
        let s = loader::find_sites(c.bytes, c.vaddr);
        sites.syscall.extend(s.syscall);
        sites.cpuid.extend(s.cpuid);
    }
    if let Some(d) = dir {
        // Best effort: a cache that cannot be written only costs time.
        let _ = store(&d, &name, &encode(&sites));
    }
    (sites, Source::Decoded)
}

fn encode(sites: &loader::Sites) -> Vec<u8> {
    let words = std::iter::once(sites.syscall.len() as u64).chain(sites.syscall.iter().copied()).chain(sites.cpuid.iter().copied());
    words.flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_cache_entries_are_not_trusted() {
        let dir = std::env::temp_dir().join(format!("uk-run-sites-test-{}", std::process::id()));
        std::env::set_var("XDG_CACHE_HOME", &dir);
        let bytes = [0x90, 0x0f, 0x05, 0x0f, 0xa2, 0xc3];
        let code = [Code { vaddr: 0x1000, bytes: &bytes }];
        let file = FileId { dev: 1, ino: 2, size: 6, mtime_ns: 3, ctime_ns: 4 };
        let want = loader::Sites { syscall: vec![0x1001], cpuid: vec![0x1003] };
        assert_eq!(find(&code, Some(&file)), (want.clone(), Source::Decoded));
        assert_eq!(find(&code, Some(&file)), (want.clone(), Source::Cache));
        // A corrupt entry (a site that holds no syscall) is decoded again.
        let bad: Vec<u8> = [1u64, 0x1000].iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(dir.join("uk-run").join(key(&file, &code)), bad).unwrap();
        assert_eq!(find(&code, Some(&file)), (want, Source::Decoded));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
