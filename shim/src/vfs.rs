//! The program's file system: a private in-memory tree (/, /tmp, /dev,
//! /etc, /proc/self, and the directories above each share) with the host
//! directories the monitor shares mounted on it.
//!
//! Paths are made absolute and normalized lexically (`.`, `..` and repeated
//! slashes), then matched against the shares, longest first: inside a share
//! the monitor resolves the rest beneath the share's root (symlinks
//! included). In the in-memory tree the walk follows symlinks itself.

use abi::linux::{Errno, Stat};
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;

/// Symlinks followed in one lookup before ELOOP, as Linux.
const MAX_LINKS: usize = 40;
/// The longest name of one path component.
const NAME_MAX: usize = 255;
/// st_dev of the in-memory tree.
const MEM_DEV: u64 = 0x16;

/// The character devices of /dev.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dev {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    /// The controlling terminal: the host's, when one of its stdio streams is one.
    Tty,
}

impl Dev {
    fn rdev(self) -> u64 {
        let minor = match self {
            Dev::Null => 3,
            Dev::Zero => 5,
            Dev::Full => 7,
            Dev::Random => 8,
            Dev::Urandom => 9,
            Dev::Tty => return 5 << 8,
        };
        (1 << 8) | minor
    }
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Dir(BTreeMap<Vec<u8>, usize>),
    File(Vec<u8>),
    Symlink(Vec<u8>),
    Dev(Dev),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub parent: usize,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
}

impl Node {
    pub fn file_type(&self) -> u32 {
        match self.kind {
            NodeKind::Dir(_) => S_IFDIR,
            NodeKind::File(_) => S_IFREG,
            NodeKind::Symlink(_) => S_IFLNK,
            NodeKind::Dev(_) => S_IFCHR,
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir(_))
    }
}

/// A host directory shared by the monitor.
#[derive(Debug, Clone)]
pub struct Share {
    /// Its guest path, as components.
    pub at: Vec<Vec<u8>>,
    pub read_only: bool,
    /// The host's root under the private mounts (see [`PRIVATE_MOUNTS`]).
    pub under: bool,
}

/// The top directories that stay the guest's own when the host's root is
/// shown under them (--host-root).
pub const PRIVATE_MOUNTS: [&[u8]; 4] = [b"dev", b"etc", b"proc", b"tmp"];

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loc {
    /// An in-memory node.
    Mem(usize),
    /// A missing name in an in-memory directory (where O_CREAT would create it).
    MemMissing { parent: usize, name: Vec<u8> },
    /// A path inside a share, relative to its root ("" is the root).
    Share { share: u32, rel: Vec<u8> },
    /// A symlink that exists only as a value (/proc/self/exe, ...), not followed.
    Link(Vec<u8>),
    /// /proc/self/exe followed, while the program's file is outside the
    /// guest's tree: the monitor holds it open (Process::exe_handle).
    Exe,
    /// A directory or file of /proc, made when it is read.
    Proc(ProcNode),
}

/// What /proc holds: the one process, and the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcNode {
    Root,
    Pid,
    FdDir,
    File(ProcFile),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFile {
    Meminfo,
    Cpuinfo,
    Stat,
    Uptime,
    Cmdline,
    Environ,
    Status,
    PidStat,
    Maps,
    Comm,
    Mounts,
}

impl ProcFile {
    pub const TOP: [(&'static [u8], ProcFile); 5] = [
        (b"cpuinfo", ProcFile::Cpuinfo),
        (b"meminfo", ProcFile::Meminfo),
        (b"mounts", ProcFile::Mounts),
        (b"stat", ProcFile::Stat),
        (b"uptime", ProcFile::Uptime),
    ];
    pub const PID: [(&'static [u8], ProcFile); 7] = [
        (b"cmdline", ProcFile::Cmdline),
        (b"comm", ProcFile::Comm),
        (b"environ", ProcFile::Environ),
        (b"maps", ProcFile::Maps),
        (b"mounts", ProcFile::Mounts),
        (b"stat", ProcFile::PidStat),
        (b"status", ProcFile::Status),
    ];
}

/// Symlinks under /proc/self whose targets the process knows.
pub trait ProcLinks {
    /// The target of /proc/self/`name` ("exe", "cwd", "fd/3"), if there is one.
    fn proc_link(&self, name: &[u8]) -> Option<Vec<u8>>;
    fn pid(&self) -> u32;
    /// Whether /proc/self/exe leads to the file the monitor holds open.
    fn exe_is_held(&self) -> bool {
        false
    }
}

#[derive(Default)]
pub struct Vfs {
    pub nodes: Vec<Node>,
    pub shares: Vec<Share>,
    /// The stats that came with the last directory listing of a share (see
    /// abi::hc::FileOp::GetdentsStat), dropped by any change the program
    /// makes: `find` and `ls -l` stat what they just listed.
    pub stat_batch: Option<StatBatch>,
}

/// Stats of the entries of one directory in a share.
pub struct StatBatch {
    pub share: u32,
    /// The directory, relative to the share's root.
    pub dir: Vec<u8>,
    pub stats: BTreeMap<Vec<u8>, Stat>,
}

/// Splits an absolute or relative path into normalized components, on top
/// of `base` (components) for a relative one.
pub fn normalize(base: &[Vec<u8>], path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = if path.first() == Some(&b'/') { Vec::new() } else { base.to_vec() };
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c.to_vec()),
        }
    }
    out
}

/// Components back to an absolute path.
pub fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    if comps.is_empty() {
        return b"/".to_vec();
    }
    let mut p = Vec::new();
    for c in comps {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    p
}

impl Vfs {
    /// The tree a program starts with: `shares` mounted, the directories
    /// above them created, and /etc naming the user.
    pub fn new(shares: Vec<Share>, uid: u32, gid: u32, now: u64, host_etc: Vec<(Vec<u8>, Vec<u8>)>) -> Vfs {
        let root = Node {
            kind: NodeKind::Dir(BTreeMap::new()),
            perm: 0o755,
            uid: 0,
            gid: 0,
            nlink: 2,
            parent: 0,
            atime: now,
            mtime: now,
            ctime: now,
        };
        let mut v = Vfs { nodes: vec![root], shares, stat_batch: None };
        let dir = |v: &mut Vfs, parent: usize, name: &[u8], perm: u32| v.add(parent, name, NodeKind::Dir(BTreeMap::new()), perm, now);
        let tmp = dir(&mut v, 0, b"tmp", 0o1777);
        let _ = tmp;
        let dev = dir(&mut v, 0, b"dev", 0o755);
        for (name, d) in [(&b"null"[..], Dev::Null), (b"zero", Dev::Zero), (b"full", Dev::Full), (b"random", Dev::Random), (b"urandom", Dev::Urandom), (b"tty", Dev::Tty)] {
            v.add(dev, name, NodeKind::Dev(d), 0o666, now);
        }
        // POSIX shared memory and named semaphores (shm_open, sem_open).
        dir(&mut v, dev, b"shm", 0o1777);
        for (name, target) in [
            (&b"stdin"[..], &b"/proc/self/fd/0"[..]),
            (b"stdout", b"/proc/self/fd/1"),
            (b"stderr", b"/proc/self/fd/2"),
            (b"fd", b"/proc/self/fd"),
        ] {
            v.add(dev, name, NodeKind::Symlink(target.to_vec()), 0o777, now);
        }
        let etc = dir(&mut v, 0, b"etc", 0o755);
        let (user, home) = if uid == 0 { (&b"root"[..], &b"/root"[..]) } else { (&b"user"[..], &b"/tmp"[..]) };
        let mut passwd = b"root:x:0:0:root:/root:/bin/sh\n".to_vec();
        let mut group = b"root:x:0:\n".to_vec();
        if uid != 0 {
            passwd.extend_from_slice(&[user, b":x:", alloc::format!("{uid}:{gid}").as_bytes(), b":", user, b":", home, b":/bin/sh\n"].concat());
        }
        if gid != 0 {
            group.extend_from_slice(&[user, b":x:", alloc::format!("{gid}").as_bytes(), b":\n"].concat());
        }
        for (name, text) in [
            (&b"passwd"[..], passwd),
            (b"group", group),
            (b"hosts", b"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_vec()),
            // Static glibc must never try to load NSS modules: files only.
            (b"nsswitch.conf", b"passwd: files\ngroup: files\nshadow: files\nhosts: files\n".to_vec()),
        ] {
            v.add(etc, name, NodeKind::File(text), 0o644, now);
        }
        // Copies of the host's localtime, hostname, resolv.conf, os-release.
        for (name, bytes) in host_etc {
            if !name.is_empty() && !name.contains(&b'/') && v.child(etc, &name).is_none() {
                v.add(etc, &name, NodeKind::File(bytes), 0o644, now);
            }
        }
        dir(&mut v, 0, b"proc", 0o555);
        // The directories a share hangs from.
        for s in v.shares.clone() {
            let mut cur = 0;
            for c in &s.at {
                cur = match v.child(cur, c) {
                    Some(n) => n,
                    None => dir(&mut v, cur, c, 0o755),
                };
            }
        }
        v
    }

    /// A node in no directory (O_TMPFILE), kept for `parent`; returns it.
    pub fn add_unlinked(&mut self, parent: usize, kind: NodeKind, perm: u32, now: u64) -> usize {
        self.nodes.push(Node { kind, perm, uid: 0, gid: 0, nlink: 0, parent, atime: now, mtime: now, ctime: now });
        self.nodes.len() - 1
    }

    /// Adds a node under `parent` (a directory); returns it.
    pub fn add(&mut self, parent: usize, name: &[u8], kind: NodeKind, perm: u32, now: u64) -> usize {
        let is_dir = matches!(kind, NodeKind::Dir(_));
        let ino = self.add_unlinked(parent, kind, perm, now);
        self.nodes[ino].nlink = if is_dir { 2 } else { 1 };
        if let NodeKind::Dir(m) = &mut self.nodes[parent].kind {
            m.insert(name.to_vec(), ino);
        }
        if is_dir {
            self.nodes[parent].nlink += 1;
        }
        ino
    }

    pub fn child(&self, dir: usize, name: &[u8]) -> Option<usize> {
        match &self.nodes[dir].kind {
            NodeKind::Dir(m) => m.get(name).copied(),
            _ => None,
        }
    }

    /// The share a normalized path is in, and the path inside it.
    pub fn in_share(&self, comps: &[Vec<u8>]) -> Option<(u32, Vec<u8>)> {
        let (i, s) = self
            .shares
            .iter()
            .enumerate()
            .filter(|(_, s)| comps.len() >= s.at.len() && comps[..s.at.len()] == s.at[..])
            .filter(|(_, s)| !(s.under && comps.first().is_some_and(|c| PRIVATE_MOUNTS.contains(&c.as_slice()))))
            .max_by_key(|(_, s)| s.at.len())?;
        let rest = &comps[s.at.len()..];
        Some((i as u32, rest.join(&b'/')))
    }

    /// Resolves `path` (relative to the directory `cwd`, components);
    /// `follow` follows a symlink in the last component. Also returns the
    /// normalized absolute path reached.
    pub fn resolve(&self, links: &dyn ProcLinks, cwd: &[Vec<u8>], path: &[u8], follow: bool) -> Result<(Loc, Vec<Vec<u8>>), Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let trailing_slash = path.last() == Some(&b'/');
        let mut comps = normalize(cwd, path);
        if path.split(|&b| b == b'/').any(|c| c.len() > NAME_MAX) {
            return Err(Errno::ENAMETOOLONG);
        }
        // The first walk, then one per symlink followed.
        for _ in 0..=MAX_LINKS {
            if let Some((share, mut rel)) = self.in_share(&comps) {
                if trailing_slash && !rel.is_empty() {
                    rel.push(b'/');
                }
                return Ok((Loc::Share { share, rel }, comps));
            }
            // /proc, /proc/self and /proc/<pid>: the one process and the VM.
            let pid = alloc::format!("{}", links.pid()).into_bytes();
            if comps.first().is_some_and(|c| c == b"proc") {
                let top = |n: &[u8]| ProcFile::TOP.iter().find(|(name, _)| *name == n).map(|&(_, f)| f);
                match comps.len() {
                    1 => return Ok((Loc::Proc(ProcNode::Root), comps)),
                    2 if comps[1] == b"self" && !follow => return Ok((Loc::Link(pid), comps)),
                    2 if comps[1] == b"self" || comps[1] == pid => return Ok((Loc::Proc(ProcNode::Pid), comps)),
                    2 => return top(&comps[1]).map(|f| (Loc::Proc(ProcNode::File(f)), comps.clone())).ok_or(Errno::ENOENT),
                    _ if comps[1] != b"self" && comps[1] != pid => {
                        return Err(if top(&comps[1]).is_some() { Errno::ENOTDIR } else { Errno::ENOENT })
                    }
                    3 if comps[2] == b"fd" => return Ok((Loc::Proc(ProcNode::FdDir), comps)),
                    3 => {
                        if let Some(&(_, f)) = ProcFile::PID.iter().find(|(name, _)| *name == comps[2]) {
                            return Ok((Loc::Proc(ProcNode::File(f)), comps));
                        }
                    }
                    _ => {}
                }
                let name = comps[2..].join(&b'/');
                if name == b"exe" && follow && links.exe_is_held() {
                    return Ok((Loc::Exe, comps));
                }
                let Some(target) = links.proc_link(&name) else { return Err(Errno::ENOENT) };
                if !follow && comps.len() == 3 + usize::from(comps[2] == b"fd") {
                    return Ok((Loc::Link(target), comps));
                }
                comps = normalize(&[], &target);
                continue;
            }
            match self.walk(&comps, follow || trailing_slash)? {
                // "name/" must be a directory.
                Walk::Done(Loc::Mem(ino)) if trailing_slash && !self.nodes[ino].is_dir() => return Err(Errno::ENOTDIR),
                Walk::Done(loc) => return Ok((loc, comps)),
                Walk::Link(new) => comps = new,
            }
        }
        Err(Errno::ELOOP)
    }

    fn walk(&self, comps: &[Vec<u8>], follow: bool) -> Result<Walk, Errno> {
        let mut cur = 0usize;
        for (i, c) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            if !self.nodes[cur].is_dir() {
                return Err(Errno::ENOTDIR);
            }
            let Some(n) = self.child(cur, c) else {
                return if last { Ok(Walk::Done(Loc::MemMissing { parent: cur, name: c.clone() })) } else { Err(Errno::ENOENT) };
            };
            if let NodeKind::Symlink(t) = &self.nodes[n].kind {
                if !last || follow {
                    let mut new = normalize(&comps[..i], t);
                    new.extend_from_slice(&comps[i + 1..]);
                    return Ok(Walk::Link(new));
                }
            }
            cur = n;
        }
        Ok(Walk::Done(Loc::Mem(cur)))
    }

    /// stat of an in-memory node.
    /// A stat the last listing brought, for `rel` in `share`.
    pub fn batched_stat(&self, share: u32, rel: &[u8], follow: bool) -> Option<Stat> {
        let b = self.stat_batch.as_ref().filter(|b| b.share == share)?;
        let (dir, name) = match rel.iter().rposition(|&c| c == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&b""[..], rel),
        };
        let st = b.stats.get(name).filter(|_| dir == &b.dir[..])?;
        let is_link = st.st_mode & S_IFMT == S_IFLNK;
        (st.st_mode != 0 && !(follow && is_link)).then_some(*st)
    }

    pub fn stat(&self, ino: usize) -> Stat {
        let n = &self.nodes[ino];
        let size = match &n.kind {
            NodeKind::File(d) => d.len() as i64,
            NodeKind::Symlink(t) => t.len() as i64,
            NodeKind::Dir(_) => 4096,
            NodeKind::Dev(_) => 0,
        };
        let ns = |t: u64| ((t / 1_000_000_000) as i64, (t % 1_000_000_000) as i64);
        let (a, an) = ns(n.atime);
        let (m, mn) = ns(n.mtime);
        let (c, cn) = ns(n.ctime);
        Stat {
            st_dev: MEM_DEV,
            st_ino: ino as u64 + 1,
            st_nlink: n.nlink as u64,
            st_mode: n.file_type() | n.perm,
            st_uid: n.uid,
            st_gid: n.gid,
            st_rdev: if let NodeKind::Dev(d) = n.kind { d.rdev() } else { 0 },
            st_size: size,
            st_blksize: 4096,
            st_blocks: (size + 511) / 512,
            st_atime: a,
            st_atime_nsec: an,
            st_mtime: m,
            st_mtime_nsec: mn,
            st_ctime: c,
            st_ctime_nsec: cn,
            ..Default::default()
        }
    }

    /// The path of an in-memory node, if it is still in the tree.
    pub fn path_of(&self, mut ino: usize) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        while ino != 0 {
            let parent = self.nodes[ino].parent;
            let NodeKind::Dir(m) = &self.nodes[parent].kind else { return None };
            out.push(m.iter().find(|(_, &c)| c == ino)?.0.clone());
            ino = parent;
        }
        out.reverse();
        Some(out)
    }

    /// The path of an in-memory node, as components.
    pub fn comps_of(&self, mut ino: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while ino != 0 {
            let parent = self.nodes[ino].parent;
            if let NodeKind::Dir(m) = &self.nodes[parent].kind {
                if let Some((name, _)) = m.iter().find(|(_, &c)| c == ino) {
                    out.push(name.clone());
                }
            }
            ino = parent;
        }
        out.reverse();
        out
    }

    /// If in-memory directory `ino` stands above a share: that share, and
    /// how many levels above its root it is.
    pub fn share_above(&self, ino: usize) -> Option<(u32, u32)> {
        let comps = self.comps_of(ino);
        self.shares
            .iter()
            .enumerate()
            .filter(|(_, s)| s.at.len() > comps.len() && s.at[..comps.len()] == comps[..])
            .min_by_key(|(_, s)| s.at.len())
            .map(|(i, s)| (i as u32, (s.at.len() - comps.len()) as u32))
    }

    /// The in-memory directory holding the last component of a normalized path.
    pub fn parent_of(&self, comps: &[Vec<u8>]) -> Option<usize> {
        let mut cur = 0;
        for c in &comps[..comps.len().saturating_sub(1)] {
            cur = self.child(cur, c)?;
        }
        Some(cur)
    }

    /// Whether `ino` is `anc` or below it.
    pub fn is_within(&self, mut ino: usize, anc: usize) -> bool {
        loop {
            if ino == anc {
                return true;
            }
            if ino == 0 {
                return false;
            }
            ino = self.nodes[ino].parent;
        }
    }

    /// Removes `name` from directory `parent` (the caller checked the kind).
    pub fn remove(&mut self, parent: usize, name: &[u8]) {
        if let NodeKind::Dir(m) = &mut self.nodes[parent].kind {
            if let Some(ino) = m.remove(name) {
                if self.nodes[ino].is_dir() {
                    self.nodes[parent].nlink -= 1;
                } else {
                    self.nodes[ino].nlink = self.nodes[ino].nlink.saturating_sub(1);
                }
            }
        }
    }
}

enum Walk {
    Done(Loc),
    Link(Vec<Vec<u8>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    struct P;
    impl ProcLinks for P {
        fn proc_link(&self, name: &[u8]) -> Option<Vec<u8>> {
            (name == b"exe").then(|| b"/bin/prog".to_vec())
        }
        fn pid(&self) -> u32 {
            7
        }
    }

    fn comps(p: &str) -> Vec<Vec<u8>> {
        normalize(&[], p.as_bytes())
    }

    #[test]
    fn normalizes_lexically() {
        assert_eq!(join(&comps("/a//b/./c/../d/")), b"/a/b/d");
        assert_eq!(join(&comps("/../..")), b"/");
        assert_eq!(join(&normalize(&comps("/x/y"), b"../z")), b"/x/z");
    }

    #[test]
    fn shares_take_the_longest_prefix_and_the_tree_holds_their_parents() {
        let shares = vec![
            Share { at: comps("/work"), read_only: false, under: false },
            Share { at: comps("/work/data"), read_only: true, under: false },
        ];
        let v = Vfs::new(shares, 0, 0, 0, Vec::new());
        let r = |p: &str| v.resolve(&P, &comps("/work"), p.as_bytes(), true).map(|(l, _)| l);
        assert_eq!(r("a/b"), Ok(Loc::Share { share: 0, rel: b"a/b".to_vec() }));
        assert_eq!(r("data"), Ok(Loc::Share { share: 1, rel: b"".to_vec() }));
        assert_eq!(r("/work/data/x/"), Ok(Loc::Share { share: 1, rel: b"x/".to_vec() }));
        assert!(matches!(r("/tmp"), Ok(Loc::Mem(_))));
        assert!(matches!(r("/tmp/new"), Ok(Loc::MemMissing { .. })));
        assert_eq!(r("/tmp/new/x"), Err(Errno::ENOENT));
        assert_eq!(r("/etc/passwd/x"), Err(Errno::ENOTDIR));
        assert_eq!(r(""), Err(Errno::ENOENT));
    }

    #[test]
    fn the_hosts_root_yields_to_the_private_mounts() {
        let shares = vec![Share { at: comps("/"), read_only: true, under: true }, Share { at: comps("/home/u/proj"), read_only: false, under: false }];
        let v = Vfs::new(shares, 0, 0, 0, Vec::new());
        let r = |p: &str| v.resolve(&P, &[], p.as_bytes(), true).map(|(l, _)| l);
        assert_eq!(r("/bin/sh"), Ok(Loc::Share { share: 0, rel: b"bin/sh".to_vec() }));
        assert_eq!(r("/home/u"), Ok(Loc::Share { share: 0, rel: b"home/u".to_vec() }));
        assert_eq!(r("/home/u/proj/x"), Ok(Loc::Share { share: 1, rel: b"x".to_vec() }));
        assert!(matches!(r("/tmp"), Ok(Loc::Mem(_))));
        assert!(matches!(r("/etc/passwd"), Ok(Loc::Mem(_))));
        assert!(matches!(r("/dev/shm"), Ok(Loc::Mem(_))));
        assert_eq!(r("/proc"), Ok(Loc::Proc(ProcNode::Root)));
    }

    #[test]
    fn symlinks_are_followed_and_proc_self_knows_the_program() {
        let v = Vfs::new(Vec::new(), 0, 0, 0, Vec::new());
        let (l, c) = v.resolve(&P, &[], b"/dev/stdin", false).unwrap();
        assert!(matches!(l, Loc::Mem(_)));
        assert_eq!(join(&c), b"/dev/stdin");
        assert_eq!(v.resolve(&P, &[], b"/proc/self/exe", false).unwrap().0, Loc::Link(b"/bin/prog".to_vec()));
        assert_eq!(v.resolve(&P, &[], b"/proc/7/exe", false).unwrap().0, Loc::Link(b"/bin/prog".to_vec()));
        // Followed: /bin/prog is not in the tree.
        assert!(matches!(v.resolve(&P, &[], b"/proc/self/exe", true), Err(Errno::ENOENT)));
    }
}
