//! The file syscalls: paths resolved by the [`crate::vfs`], in-memory files
//! served here, host files in shares served by the monitor (one File
//! hypercall each, data in chunks of up to 128 KiB).

use crate::fd::*;
use crate::platform::FileData;
use crate::user::{read_cstr, UserPtr};
use crate::procfs;
use crate::vfs::{self, join, normalize, Dev, Loc, NodeKind, ProcLinks, ProcNode};
use crate::{Platform, Process, SysResult};
use abi::hc::{File, FileOp};
use abi::linux::{Errno, Stat, UTIME_NOW, UTIME_OMIT};
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;

pub const AT_FDCWD: u64 = -100i64 as u64;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EMPTY_PATH: u64 = 0x1000;
/// The longest path, without its NUL (Linux's PATH_MAX counts it).
const PATH_MAX: usize = 4095;

struct Links<'a>(&'a Process);

impl ProcLinks for Links<'_> {
    fn proc_link(&self, name: &[u8]) -> Option<Vec<u8>> {
        let p = self.0;
        match name {
            b"exe" => Some(p.exe.clone()),
            b"cwd" => Some(p.cwd.clone()),
            _ => {
                let n = name.strip_prefix(b"fd/")?;
                let fd: u64 = core::str::from_utf8(n).ok()?.parse().ok()?;
                match &p.fds.get(fd).ok()?.object {
                    Object::File(f) => Some(f.path.clone()),
                    Object::HostStdio { host_fd, .. } => Some(alloc::format!("/dev/uk-run-stdio{host_fd}").into_bytes()),
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.0.pid
    }

    fn exe_is_held(&self) -> bool {
        self.0.exe_handle.is_some()
    }
}

/// Bumped by every rename or removal the program makes: directories it
/// holds open (descriptors, the working directory) may have moved, so their
/// paths are asked of the monitor again (which follows the directory itself).
static MOVES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn moved() {
    MOVES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

/// Where an open directory of a share is now, as a guest path.
fn dir_path<P: Platform>(proc: &Process, p: &mut P, f: &OpenFile) -> Result<Vec<u8>, Errno> {
    if let FileKind::Mem(ino) = f.kind {
        // In memory the tree itself says where it is now.
        if MOVES.load(core::sync::atomic::Ordering::Relaxed) == 0 {
            return Ok(f.path.clone());
        }
        return proc.vfs.path_of(ino).map(|c| join(&c)).ok_or(Errno::ENOENT);
    }
    let now = MOVES.load(core::sync::atomic::Ordering::Relaxed);
    if now == 0 || !matches!(f.kind, FileKind::Host { dir: true, .. }) {
        return Ok(f.path.clone());
    }
    if let Some((at, path)) = f.moved.borrow().as_ref() {
        if *at == now {
            return Ok(path.clone());
        }
    }
    let path = realpath_of(proc, p, f)?;
    *f.moved.borrow_mut() = Some((now, path.clone()));
    Ok(path)
}

/// The working directory's path, where renames have moved it.
pub fn refresh_cwd<P: Platform>(proc: &mut Process, p: &mut P) -> Result<(), Errno> {
    if let Some(f) = proc.cwd_file.clone() {
        // Removed: it keeps the path it had (its parent is still there).
        if let Ok(path) = dir_path(proc, p, &f) {
            proc.cwd = path;
        }
    }
    Ok(())
}

/// The directory a *at() path is relative to, as components.
fn base<P: Platform>(proc: &Process, p: &mut P, dirfd: u64) -> Result<Vec<Vec<u8>>, Errno> {
    if dirfd as i32 == AT_FDCWD as i32 {
        return Ok(normalize(&[], &proc.cwd));
    }
    match &proc.fds.get(dirfd)?.object {
        Object::File(f) if is_dir(proc, f) => Ok(normalize(&[], &dir_path(proc, p, f)?)),
        _ => Err(Errno::ENOTDIR),
    }
}

pub fn is_dir_file(proc: &Process, f: &OpenFile) -> bool {
    is_dir(proc, f)
}

fn is_dir(proc: &Process, f: &OpenFile) -> bool {
    match f.kind {
        FileKind::Host { dir, .. } => dir,
        FileKind::Mem(ino) => proc.vfs.nodes[ino].is_dir(),
        FileKind::Proc(node, _) => !matches!(node, ProcNode::File(_)),
        FileKind::Pipe { .. } | FileKind::Event(_) => false,
    }
}

/// The directory held open (the working directory, or `dirfd`) that a
/// relative `name` of only "." components names.
fn held_dot(proc: &Process, dirfd: u64, name: &[u8]) -> Result<Option<Rc<OpenFile>>, Errno> {
    if name.first() == Some(&b'/') || !name.split(|&c| c == b'/').all(|c| c.is_empty() || c == b".") {
        return Ok(None);
    }
    Ok(if dirfd as i32 == AT_FDCWD as i32 {
        proc.cwd_file.clone()
    } else {
        match &proc.fds.get(dirfd)?.object {
            Object::File(f) => Some(f.clone()),
            Object::HostStdio { .. } => None,
        }
    })
}

/// Resolves a path already read from the program.
pub fn resolve<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, name: &[u8], follow: bool) -> Result<(Loc, Vec<Vec<u8>>), Errno> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    // "." of an in-memory directory held open is that directory, even
    // removed (Linux resolves it by the directory, not its path).
    if let Some(held) = held_dot(proc, dirfd, name)? {
        if let FileKind::Mem(ino) = held.kind {
            return Ok((Loc::Mem(ino), normalize(&[], &held.path)));
        }
    }
    let base = if name[0] == b'/' {
        Vec::new()
    } else {
        if dirfd as i32 == AT_FDCWD as i32 {
            refresh_cwd(proc, p)?;
        }
        base(proc, p, dirfd)?
    };
    proc.vfs.resolve(&Links(proc), &base, name, follow)
}

/// stat of a resolved path (following a final symlink).
pub fn stat_of<P: Platform>(proc: &Process, p: &mut P, loc: &Loc) -> Result<Stat, Errno> {
    stat_loc(proc, p, loc, true)
}

/// Reads a path argument and resolves it.
fn lookup<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, follow: bool) -> Result<(Loc, Vec<Vec<u8>>), Errno> {
    let name = read_cstr(p, path, PATH_MAX)?;
    resolve(proc, p, dirfd, &name, follow)
}

fn call(op: FileOp) -> File {
    File { op: op as u32, ..Default::default() }
}

fn read_only(proc: &Process, share: u32) -> bool {
    proc.vfs.shares.get(share as usize).is_some_and(|s| s.read_only)
}

/// A File call on a path in a share.
fn on_path<P: Platform>(p: &mut P, mut c: File, share: u32, rel: &[u8], data: FileData<'_>) -> (Result<u64, Errno>, File) {
    c.share = share;
    let r = p.host_file(&mut c, rel, &[], data);
    (r, c)
}

/// A File call on an open host file.
fn on_handle<P: Platform>(p: &mut P, mut c: File, handle: u32, data: FileData<'_>) -> (Result<u64, Errno>, File) {
    c.handle = handle;
    c.path_len = u64::MAX;
    let r = p.host_file(&mut c, &[], &[], data);
    (r, c)
}

fn now<P: Platform>(p: &mut P) -> u64 {
    p.clock_ns(true)
}

/// Releases what a descriptor held once no descriptor holds it.
pub fn release<P: Platform>(p: &mut P, e: Option<Entry>) {
    if let Some(Entry { object: Object::File(f), .. }) = e {
        release_file(p, f);
    }
}

/// Closes a host file once nothing (descriptor, working directory, shared
/// mapping) holds it.
pub fn release_file<P: Platform>(p: &mut P, f: Rc<OpenFile>) {
    if let Ok(f) = Rc::try_unwrap(f) {
        if let FileKind::Host { handle, .. } = f.kind {
            let _ = on_handle(p, call(FileOp::Close), handle, FileData::None);
        }
    }
}

pub fn close<P: Platform>(proc: &mut Process, p: &mut P, fd: u64) -> SysResult {
    let e = proc.fds.close(fd)?;
    release(p, Some(e));
    // A thread may wait for this end of a pipe to close.
    crate::sched::wake_io(proc);
    Ok(0)
}

/// N, for the paths /dev/fd/N, /proc/self/fd/N and /proc/PID/fd/N of this process.
fn fd_path(path: &[u8], pid: u32) -> Option<u64> {
    let rest = match path.strip_prefix(b"/dev/fd/") {
        Some(r) => r,
        None => {
            let r = path.strip_prefix(b"/proc/")?;
            let (who, r) = r.split_at(r.iter().position(|&c| c == b'/')?);
            if who != b"self" && core::str::from_utf8(who).ok()?.parse::<u32>().ok()? != pid {
                return None;
            }
            r.strip_prefix(b"/fd/")?
        }
    };
    core::str::from_utf8(rest).ok()?.parse().ok()
}

pub fn openat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, flags: u64, mode: u64) -> SysResult {
    /// O_TMPFILE includes O_DIRECTORY, as Linux's.
    const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;
    let flags = flags as u32;
    let creat = flags & O_CREAT != 0;
    let excl = creat && flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !excl;
    let acc = flags & O_ACCMODE;
    let writes = acc == O_WRONLY || acc == O_RDWR;
    let mode = mode as u32 & 0o7777 & !proc.umask;
    if creat || writes {
        proc.vfs.stat_batch = None;
    }
    if flags & O_TRUNC != 0 {
        host_changed();
    }
    let given = read_cstr(p, path, PATH_MAX)?;
    // /dev/fd/N and /proc/self/fd/N of a pipe open the pipe again (bash's
    // process substitution hands them to other programs).
    if let Some(n) = fd_path(&given, proc.pid) {
        if let Ok(e) = proc.fds.get(n) {
            if matches!(&e.object, Object::File(f) if matches!(f.kind, FileKind::Pipe { .. })) {
                let e = Entry { object: e.object.clone(), cloexec: flags & O_CLOEXEC != 0, status: (e.status & O_ACCMODE) | (flags & O_NONBLOCK) };
                return proc.fds.install_from(0, e);
            }
        }
    }
    // open(".") of a shared directory held open opens that directory, not
    // its path: it works even once the directory is removed, as on Linux.
    let held = if given.is_empty() || creat || writes || flags & O_TRUNC != 0 { None } else { held_dot(proc, dirfd, &given)? };
    if let Some(f @ OpenFile { kind: FileKind::Host { share, handle, dir: true, .. }, .. }) = held.as_deref() {
        let mut c = call(FileOp::Open);
        c.flags = flags & !O_CLOEXEC;
        let (r, c) = on_handle(p, c, *handle, FileData::None);
        let handle = r? as u32;
        let path = dir_path(proc, p, f).unwrap_or_else(|_| f.path.clone());
        let dir = c.stat.st_mode & vfs::S_IFMT == vfs::S_IFDIR;
        return install(proc, p, FileKind::Host { share: *share, handle, dir, seekable: false }, path, flags);
    }
    let (loc, comps) = resolve(proc, p, dirfd, &given, follow)?;
    if flags & O_TMPFILE == O_TMPFILE {
        if !writes || creat {
            return Err(Errno::EINVAL);
        }
        if let Loc::Mem(dir) = loc {
            // A file in no directory.
            if !proc.vfs.nodes[dir].is_dir() {
                return Err(Errno::ENOTDIR);
            }
            let t = now(p);
            let ino = proc.vfs.add_unlinked(dir, NodeKind::File(Vec::new()), mode, t);
            let ino = own(proc, ino);
            return install(proc, p, FileKind::Mem(ino), join(&comps), flags & !O_DIRECTORY);
        }
    }
    let kind = match loc {
        Loc::Link(_) => return Err(if flags & O_PATH != 0 { Errno::ENOENT } else { Errno::ELOOP }),
        // The program's own file outside the tree: only execve reaches it.
        Loc::Exe => return Err(Errno::EACCES),
        Loc::Proc(node) => {
            let file = matches!(node, ProcNode::File(_));
            if creat && excl {
                return Err(Errno::EEXIST);
            }
            if writes || flags & O_TRUNC != 0 {
                return Err(if file { Errno::EACCES } else { Errno::EISDIR });
            }
            if file && flags & O_DIRECTORY != 0 {
                return Err(Errno::ENOTDIR);
            }
            let text = match node {
                ProcNode::File(f) => procfs::text(proc, p, f),
                _ => Vec::new(),
            };
            FileKind::Proc(node, text)
        }
        Loc::Share { share, rel } => {
            let mut c = call(FileOp::Open);
            // Appends are the guest's (at the end fstat gives): F_SETFL can
            // take O_APPEND away, which the host descriptor could not follow.
            c.flags = flags & !(O_CLOEXEC | O_APPEND);
            c.mode = mode;
            let (r, c) = on_path(p, c, share, &rel, FileData::None);
            let handle = r? as u32;
            let kind = c.stat.st_mode & vfs::S_IFMT;
            FileKind::Host { share, handle, dir: kind == vfs::S_IFDIR, seekable: kind == vfs::S_IFREG }
        }
        Loc::Mem(ino) if matches!(proc.vfs.nodes[ino].kind, NodeKind::Dev(Dev::Tty)) => {
            // The host's terminal, as one of its stdio streams reaches it.
            let tty = proc.fds.iter().find(|(_, e)| matches!(&e.object, Object::HostStdio { info, .. } if info.is_tty != 0));
            let Some((_, e)) = tty else { return Err(Errno::ENXIO) };
            let e = Entry { cloexec: flags & O_CLOEXEC != 0, status: flags & (O_ACCMODE | O_NONBLOCK), ..e.clone() };
            return proc.fds.install_from(0, e);
        }
        Loc::Mem(ino) => {
            if excl {
                return Err(Errno::EEXIST);
            }
            let node = &proc.vfs.nodes[ino];
            match node.kind {
                NodeKind::Dir(_) if writes || creat || flags & O_TRUNC != 0 => return Err(Errno::EISDIR),
                NodeKind::Symlink(_) if flags & O_PATH == 0 => return Err(Errno::ELOOP),
                NodeKind::File(_) | NodeKind::Dev(_) if flags & O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
                _ => {}
            }
            if proc.euid != 0 && !permits(node.perm, node.uid == proc.euid, if writes { 2 } else { 4 }) {
                return Err(Errno::EACCES);
            }
            // Linux truncates on O_TRUNC even when opening read-only.
            if flags & O_TRUNC != 0 && flags & O_PATH == 0 {
                let t = now(p);
                let node = &mut proc.vfs.nodes[ino];
                if let NodeKind::File(d) = &mut node.kind {
                    d.clear();
                    node.mtime = t;
                    node.ctime = t;
                }
            }
            FileKind::Mem(ino)
        }
        Loc::MemMissing { parent, name } => {
            if !creat {
                return Err(Errno::ENOENT);
            }
            if flags & O_DIRECTORY != 0 {
                return Err(Errno::EINVAL);
            }
            if given.last() == Some(&b'/') {
                return Err(Errno::EISDIR);
            }
            let t = now(p);
            FileKind::Mem(add_owned(proc, parent, &name, NodeKind::File(Vec::new()), mode, t))
        }
    };
    install(proc, p, kind, join(&comps), flags)
}

/// Gives an opened file a descriptor, with openat's `flags`.
fn install<P: Platform>(proc: &mut Process, p: &mut P, kind: FileKind, path: Vec<u8>, flags: u32) -> SysResult {
    let file = OpenFile::new(kind, path);
    // 64-bit Linux opens everything O_LARGEFILE, and F_GETFL says so.
    const O_LARGEFILE: u32 = 0o100000;
    let status = flags & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_PATH | O_DIRECTORY) | if flags & O_PATH == 0 { O_LARGEFILE } else { 0 };
    let e = Entry { object: Object::File(Rc::new(file)), cloexec: flags & O_CLOEXEC != 0, status };
    match proc.fds.install_from(0, e.clone()) {
        Ok(fd) => Ok(fd),
        Err(err) => {
            release(p, Some(e));
            Err(err)
        }
    }
}

/// A new in-memory node, owned by the program's effective ids.
fn add_owned(proc: &mut Process, parent: usize, name: &[u8], kind: NodeKind, perm: u32, now: u64) -> usize {
    let ino = proc.vfs.add(parent, name, kind, perm, now);
    own(proc, ino)
}

/// Gives in-memory node `ino` to the program's effective ids; returns it.
fn own(proc: &mut Process, ino: usize) -> usize {
    (proc.vfs.nodes[ino].uid, proc.vfs.nodes[ino].gid) = (proc.euid, proc.egid);
    ino
}

/// Whether `perm` grants `want` (4 read, 2 write, 1 exec) to its owner or to others.
fn permits(perm: u32, owner: bool, want: u32) -> bool {
    let bits = if owner { perm >> 6 } else { perm };
    bits & want == want
}

pub fn read<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, buf: u64, len: u64, at: Option<u64>) -> SysResult {
    if let FileKind::Pipe { buf: pipe, .. } = &f.kind {
        return if at.is_some() { Err(Errno::ESPIPE) } else { pipe_read(proc, p, pipe, false, buf, len) };
    }
    if let FileKind::Event(e) = &f.kind {
        return if at.is_some() { Err(Errno::ESPIPE) } else { crate::sys_event::read(proc, p, e, false, buf, len) };
    }
    sync_shared_maps(proc, p, f);
    match f.kind {
        FileKind::Pipe { .. } | FileKind::Event(_) => Err(Errno::EINVAL),
        FileKind::Host { dir: true, .. } => Err(Errno::EISDIR),
        FileKind::Host { handle, seekable: false, .. } => {
            let mut c = call(FileOp::Read);
            c.offset = at.map_or(-1, |o| o as i64);
            on_handle(p, c, handle, FileData::ToUser(buf, len)).0
        }
        FileKind::Host { handle, .. } => {
            let pos = at.unwrap_or(f.pos.get());
            let n = read_ahead(p, f, handle, pos, buf, len)?;
            if at.is_none() {
                f.pos.set(pos + n);
            }
            Ok(n)
        }
        FileKind::Proc(ProcNode::File(_), ref text) => {
            let pos = at.unwrap_or(f.pos.get()) as usize;
            let (start, end) = (pos.min(text.len()), pos.saturating_add(len as usize).min(text.len()));
            p.write_user(buf, &text[start..end])?;
            if at.is_none() {
                f.pos.set(end as u64);
            }
            Ok((end - start) as u64)
        }
        FileKind::Proc(..) => Err(Errno::EISDIR),
        FileKind::Mem(ino) => {
            let pos = at.unwrap_or(f.pos.get());
            let n = match &proc.vfs.nodes[ino].kind {
                NodeKind::Dir(_) => return Err(Errno::EISDIR),
                NodeKind::Symlink(_) => return Err(Errno::EBADF),
                NodeKind::File(d) => {
                    let start = (pos as usize).min(d.len());
                    let end = start.saturating_add(len as usize).min(d.len());
                    p.write_user(buf, &d[start..end])?;
                    (end - start) as u64
                }
                NodeKind::Dev(Dev::Null) => 0,
                NodeKind::Dev(dev) => {
                    let mut chunk = alloc::vec![0u8; len.min(64 << 10) as usize];
                    if matches!(dev, Dev::Random | Dev::Urandom) {
                        p.random(&mut chunk);
                    }
                    p.write_user(buf, &chunk)?;
                    chunk.len() as u64
                }
            };
            if at.is_none() {
                f.pos.set(pos + n);
            }
            Ok(n)
        }
    }
}

pub fn write<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, append: bool, buf: u64, len: u64, at: Option<u64>) -> SysResult {
    if let FileKind::Pipe { buf: pipe, .. } = &f.kind {
        return if at.is_some() { Err(Errno::ESPIPE) } else { pipe_write(proc, p, pipe, false, buf, len) };
    }
    if let FileKind::Event(e) = &f.kind {
        return if at.is_some() { Err(Errno::ESPIPE) } else { crate::sys_event::write(proc, p, e, false, buf, len) };
    }
    match f.kind {
        FileKind::Pipe { .. } | FileKind::Event(_) => Err(Errno::EINVAL),
        FileKind::Host { handle, seekable, .. } => {
            host_changed();
            proc.vfs.stat_batch = None;
            let mut c = call(FileOp::Write);
            // Appends go to the host file's end (whether or not the host
            // descriptor was opened O_APPEND: F_SETFL can add it later).
            let end = if seekable && append {
                let (r, s) = on_handle(p, call(FileOp::Fstat), handle, FileData::None);
                r?;
                Some(s.stat.st_size.max(0) as u64)
            } else {
                None
            };
            let pos = if seekable { end.or(Some(at.unwrap_or(f.pos.get()))) } else { at };
            c.offset = pos.map_or(-1, |o| o as i64);
            let (r, c) = on_handle(p, c, handle, FileData::FromUser(buf, len));
            let n = r?;
            let _ = c;
            if seekable && at.is_none() {
                f.pos.set(pos.unwrap_or(0) + n);
            }
            Ok(n)
        }
        FileKind::Proc(..) => Err(Errno::EBADF),
        FileKind::Mem(ino) => {
            let t = now(p);
            let node = &mut proc.vfs.nodes[ino];
            let n = match &mut node.kind {
                NodeKind::Dir(_) => return Err(Errno::EISDIR),
                NodeKind::Symlink(_) => return Err(Errno::EBADF),
                NodeKind::Dev(Dev::Full) => return Err(Errno::ENOSPC),
                NodeKind::Dev(_) => len,
                NodeKind::File(d) => {
                    let pos = if append { d.len() as u64 } else { at.unwrap_or(f.pos.get()) } as usize;
                    let mut data = Vec::new();
                    data.try_reserve_exact(len as usize).map_err(|_| Errno::ENOSPC)?;
                    data.resize(len as usize, 0);
                    p.read_user(buf, &mut data)?;
                    if d.len() < pos + data.len() {
                        // The in-memory file system is full when the kernel's heap is.
                        d.try_reserve(pos + data.len() - d.len()).map_err(|_| Errno::ENOSPC)?;
                        d.resize(pos + data.len(), 0);
                    }
                    d[pos..pos + data.len()].copy_from_slice(&data);
                    node.mtime = t;
                    node.ctime = t;
                    if at.is_none() {
                        f.pos.set((pos + data.len()) as u64);
                    }
                    return Ok(len);
                }
            };
            Ok(n)
        }
    }
}

pub fn lseek<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, off: u64, whence: u64) -> SysResult {
    const SEEK_SET: u64 = 0;
    const SEEK_CUR: u64 = 1;
    const SEEK_END: u64 = 2;
    match f.kind {
        FileKind::Pipe { .. } | FileKind::Event(_) => Err(Errno::ESPIPE),
        FileKind::Host { handle, seekable, .. } if !seekable || !matches!(whence, SEEK_SET | SEEK_CUR | SEEK_END) => {
            let mut c = call(FileOp::Seek);
            c.offset = if whence == SEEK_CUR && seekable { f.pos.get() as i64 + off as i64 } else { off as i64 };
            c.flags = if whence == SEEK_CUR && seekable { SEEK_SET as u32 } else { whence as u32 };
            let new = on_handle(p, c, handle, FileData::None).0?;
            f.pos.set(new);
            Ok(new)
        }
        FileKind::Host { handle, .. } => {
            let base = match whence {
                SEEK_SET => 0,
                SEEK_CUR => f.pos.get() as i64,
                _ => {
                    let (r, c) = on_handle(p, call(FileOp::Fstat), handle, FileData::None);
                    r?;
                    c.stat.st_size
                }
            };
            let new = base.checked_add(off as i64).filter(|&n| n >= 0).ok_or(Errno::EINVAL)?;
            f.pos.set(new as u64);
            Ok(new as u64)
        }
        FileKind::Mem(_) | FileKind::Proc(..) => {
            let size = match &f.kind {
                FileKind::Mem(ino) => match &proc.vfs.nodes[*ino].kind {
                    NodeKind::File(d) => d.len() as i64,
                    NodeKind::Dev(_) => return Ok(0),
                    _ => 0,
                },
                FileKind::Proc(_, text) => text.len() as i64,
                _ => 0,
            };
            const SEEK_DATA: u64 = 3;
            const SEEK_HOLE: u64 = 4;
            let new = match whence {
                SEEK_SET => off as i64,
                SEEK_CUR => f.pos.get() as i64 + off as i64,
                SEEK_END => size + off as i64,
                // In-memory files have no holes: all data up to the end.
                SEEK_DATA | SEEK_HOLE if (off as i64) < 0 => return Err(Errno::EINVAL),
                SEEK_DATA | SEEK_HOLE if off as i64 >= size => return Err(Errno::ENXIO),
                SEEK_DATA => off as i64,
                SEEK_HOLE => size,
                _ => return Err(Errno::EINVAL),
            };
            if new < 0 {
                return Err(Errno::EINVAL);
            }
            f.pos.set(new as u64);
            Ok(new as u64)
        }
    }
}

/// Bytes fetched per File call for small sequential reads: one exit per
/// 64 KiB instead of one per read (md5sum reads 4 KiB at a time).
const READ_AHEAD: usize = 64 << 10;

/// Bumped by every change the program makes to a host file: read-ahead
/// taken before it is stale (whichever descriptor made the change).
static HOST_WRITES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

fn host_changed() {
    HOST_WRITES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
}

/// Reads a seekable host file at `pos`, through its read-ahead buffer.
fn read_ahead<P: Platform>(p: &mut P, f: &OpenFile, handle: u32, pos: u64, buf: u64, len: u64) -> SysResult {
    let generation = HOST_WRITES.load(core::sync::atomic::Ordering::Relaxed);
    let mut done = 0u64;
    while done < len {
        let at = pos + done;
        {
            let ahead = f.ahead.borrow();
            let (start, data) = (ahead.0, &ahead.1);
            if f.ahead_gen.get() == generation && at >= start && at < start + data.len() as u64 {
                let from = (at - start) as usize;
                let n = ((len - done) as usize).min(data.len() - from);
                p.write_user(buf + done, &data[from..from + n])?;
                done += n as u64;
                continue;
            }
        }
        let mut c = call(FileOp::Read);
        c.offset = at as i64;
        if (len - done) as usize >= READ_AHEAD {
            return match on_handle(p, c, handle, FileData::ToUser(buf + done, len - done)).0 {
                Ok(n) => Ok(done + n),
                Err(_) if done > 0 => Ok(done),
                Err(e) => Err(e),
            };
        }
        let mut ahead = f.ahead.borrow_mut();
        let data = &mut ahead.1;
        // A failed allocation reads without the buffer.
        if data.capacity() < READ_AHEAD && data.try_reserve_exact(READ_AHEAD - data.len()).is_err() {
            drop(ahead);
            return match on_handle(p, c, handle, FileData::ToUser(buf + done, len - done)).0 {
                Ok(n) => Ok(done + n),
                Err(_) if done > 0 => Ok(done),
                Err(e) => Err(e),
            };
        }
        data.resize(READ_AHEAD, 0);
        let got = match on_handle(p, c, handle, FileData::Out(data)).0 {
            Ok(g) => g as usize,
            Err(e) => {
                data.clear();
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        };
        data.truncate(got);
        ahead.0 = at;
        f.ahead_gen.set(generation);
        if got == 0 {
            break;
        }
    }
    Ok(done)
}

/// sendfile from a seekable host file to the host's stdout or stderr.
pub fn sendfile_to_stdio<P: Platform>(p: &mut P, f: &OpenFile, host_fd: u32, offp: u64, count: u64) -> SysResult {
    let FileKind::Host { handle, seekable: true, .. } = f.kind else { return Err(Errno::EINVAL) };
    let explicit = offp != 0;
    let pos = if explicit { UserPtr(offp).read::<u64, _>(p)? } else { f.pos.get() };
    if (pos as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    // What the program wrote before must reach the host first.
    p.console_flush();
    let mut c = call(FileOp::Sendfile);
    (c.flags, c.mode, c.offset, c.len) = (abi::hc::SEND_TO_STDIO, host_fd, pos as i64, count);
    let n = on_handle(p, c, handle, FileData::None).0?;
    if explicit {
        UserPtr(offp).write(p, &(pos + n))?;
    } else {
        f.pos.set(pos + n);
    }
    Ok(n)
}

pub fn fstat_file<P: Platform>(proc: &Process, p: &mut P, f: &OpenFile) -> Result<Stat, Errno> {
    match f.kind {
        FileKind::Host { handle, .. } => {
            let (r, c) = on_handle(p, call(FileOp::Fstat), handle, FileData::None);
            r.map(|_| c.stat)
        }
        FileKind::Mem(ino) => mem_stat(proc, p, ino),
        FileKind::Proc(node, _) => Ok(procfs::stat(proc, node, now(p))),
        FileKind::Pipe { ref buf, .. } => Ok(Stat {
            st_dev: 0xd,
            st_ino: buf.borrow().ino,
            st_nlink: 1,
            st_mode: 0o010000 | 0o600,
            st_uid: proc.euid,
            st_gid: proc.egid,
            st_blksize: 4096,
            ..Default::default()
        }),
        // An anonymous inode, as Linux shows epoll, eventfd and timerfd descriptors.
        FileKind::Event(ref e) => Ok(Stat {
            st_dev: 0xe,
            st_ino: Rc::as_ptr(e) as usize as u64 & 0xffff_ffff,
            st_nlink: 1,
            st_mode: 0o600,
            st_uid: proc.euid,
            st_gid: proc.egid,
            st_blksize: 4096,
            ..Default::default()
        }),
    }
}

/// stat of an in-memory node; the directories above a share show the
/// host's directories there, as a native run sees them.
fn mem_stat<P: Platform>(proc: &Process, p: &mut P, ino: usize) -> Result<Stat, Errno> {
    // Only a directory still in the tree stands above a share (an unlinked
    // file's path would name its old directory).
    let above = proc.vfs.nodes[ino].is_dir() && proc.vfs.path_of(ino).is_some();
    if let Some((share, levels)) = proc.vfs.share_above(ino).filter(|_| above) {
        let mut c = call(FileOp::Stat);
        (c.flags, c.mode) = (abi::hc::STAT_ANCESTOR, levels);
        if let (Ok(_), c) = on_path(p, c, share, &[], FileData::None) {
            return Ok(c.stat);
        }
    }
    Ok(proc.vfs.stat(ino))
}

fn link_stat(target: &[u8]) -> Stat {
    Stat { st_dev: 0x17, st_ino: 1, st_nlink: 1, st_mode: vfs::S_IFLNK | 0o777, st_size: target.len() as i64, st_blksize: 4096, ..Default::default() }
}

/// stat of a path.
fn stat_loc<P: Platform>(proc: &Process, p: &mut P, loc: &Loc, follow: bool) -> Result<Stat, Errno> {
    match loc {
        Loc::Mem(ino) => mem_stat(proc, p, *ino),
        Loc::MemMissing { .. } => Err(Errno::ENOENT),
        Loc::Link(t) => Ok(link_stat(t)),
        Loc::Exe => {
            let (r, c) = on_handle(p, call(FileOp::Fstat), proc.exe_handle.unwrap_or(u32::MAX), FileData::None);
            r.map(|_| c.stat)
        }
        Loc::Proc(node) => Ok(procfs::stat(proc, *node, now(p))),
        Loc::Share { share, rel } => {
            if let Some(st) = proc.vfs.batched_stat(*share, rel, follow) {
                return Ok(st);
            }
            let mut c = call(FileOp::Stat);
            c.flags = if follow { 0 } else { AT_SYMLINK_NOFOLLOW as u32 };
            let (r, c) = on_path(p, c, *share, rel, FileData::None);
            r.map(|_| c.stat)
        }
    }
}

pub fn newfstatat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, buf: u64, flags: u64) -> SysResult {
    const AT_NO_AUTOMOUNT: u64 = 0x800;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = stat_at(proc, p, dirfd, path, flags)?;
    UserPtr(buf).write(p, &st).map(|_| 0)
}

/// The stat fstatat and statx report: of `path` from `dirfd`, or with an
/// empty path and AT_EMPTY_PATH of `dirfd` itself.
fn stat_at<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, flags: u64) -> Result<Stat, Errno> {
    let name = read_cstr(p, path, PATH_MAX)?;
    if !name.is_empty() {
        let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
        let (loc, _) = lookup(proc, p, dirfd, path, follow)?;
        return stat_loc(proc, p, &loc, follow);
    }
    if flags & AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    if dirfd as i32 == AT_FDCWD as i32 {
        let (loc, _) = proc.vfs.resolve(&Links(proc), &[], &proc.cwd.clone(), true)?;
        return stat_loc(proc, p, &loc, true);
    }
    match proc.fds.get(dirfd)?.object.clone() {
        Object::HostStdio { info, .. } => Ok(info.stat),
        Object::File(f) => fstat_file(proc, p, &f),
    }
}

pub fn getdents64<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, buf: u64, len: u64) -> SysResult {
    match f.kind {
        FileKind::Host { handle, dir, .. } => {
            if !dir {
                return Err(Errno::ENOTDIR);
            }
            let mut kbuf = Vec::new();
            let want = len.min(64 << 10) as usize;
            // Entries come with their stats only where a buffer holds many.
            if want == 0 {
                return Err(Errno::EINVAL);
            }
            if want < 4096 {
                return on_handle(p, call(FileOp::Getdents), handle, FileData::ToUser(buf, want as u64)).0;
            }
            // Where the directory is now: the stats are looked up by path.
            let Some((share, rel)) = proc.vfs.in_share(&normalize(&[], &dir_path(proc, p, f)?)) else { return Err(Errno::EIO) };
            if kbuf.try_reserve_exact(want).is_err() {
                return on_handle(p, call(FileOp::Getdents), handle, FileData::ToUser(buf, want as u64)).0;
            }
            kbuf.resize(want, 0);
            let got = on_handle(p, call(FileOp::GetdentsStat), handle, FileData::Out(&mut kbuf)).0? as usize;
            // Records, each followed by its entry's stat: pass the records
            // on, keep the stats for the stat calls that usually follow.
            const STAT: usize = core::mem::size_of::<Stat>();
            let (mut out, mut stats, mut at) = (Vec::new(), BTreeMap::new(), 0usize);
            while at + 19 <= got {
                let reclen = u16::from_le_bytes([kbuf[at + 16], kbuf[at + 17]]) as usize;
                if reclen < 19 || at + reclen + STAT > got {
                    break;
                }
                let rec = &kbuf[at..at + reclen];
                let name = &rec[19..];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                let mut st = Stat::default();
                abi::pod::as_bytes_mut(&mut st).copy_from_slice(&kbuf[at + reclen..at + reclen + STAT]);
                stats.insert(name.to_vec(), st);
                out.extend_from_slice(rec);
                at += reclen + STAT;
            }
            p.write_user(buf, &out)?;
            proc.vfs.stat_batch = Some(vfs::StatBatch { share, dir: rel, stats });
            Ok(out.len() as u64)
        }
        FileKind::Proc(ProcNode::File(_), _) | FileKind::Pipe { .. } | FileKind::Event(_) => Err(Errno::ENOTDIR),
        FileKind::Mem(_) | FileKind::Proc(..) => {
            if f.pos.get() == 0 || f.listing.borrow().is_none() {
                let mut entries: Vec<(u64, u8, Vec<u8>)> = Vec::new();
                match f.kind {
                    FileKind::Mem(ino) => {
                        let node = &proc.vfs.nodes[ino];
                        let NodeKind::Dir(m) = &node.kind else { return Err(Errno::ENOTDIR) };
                        if ino != 0 && node.nlink == 0 {
                            return Err(Errno::ENOENT);
                        }
                        entries.extend([(ino as u64 + 1, 4, b".".to_vec()), (node.parent as u64 + 1, 4, b"..".to_vec())]);
                        for (name, &child) in m {
                            let t = match proc.vfs.nodes[child].kind {
                                NodeKind::Dir(_) => 4,
                                NodeKind::File(_) => 8,
                                NodeKind::Symlink(_) => 10,
                                NodeKind::Dev(_) => 2,
                            };
                            entries.push((child as u64 + 1, t, name.clone()));
                        }
                    }
                    FileKind::Proc(node, _) => {
                        entries.extend([(1, 4, b".".to_vec()), (1, 4, b"..".to_vec())]);
                        entries.extend(procfs::entries(proc, node).into_iter().enumerate().map(|(i, (n, t))| (100 + i as u64, t, n)));
                    }
                    FileKind::Host { .. } | FileKind::Pipe { .. } | FileKind::Event(_) => unreachable!(),
                }
                *f.listing.borrow_mut() = Some(entries);
            }
            let listing = f.listing.borrow();
            let entries: Vec<(u64, u8, &[u8])> = listing.as_ref().map_or(Vec::new(), |l| l.iter().map(|(i, t, n)| (*i, *t, n.as_slice())).collect());
            let mut out = Vec::new();
            let mut pos = f.pos.get() as usize;
            while let Some(&(ino, t, name)) = entries.get(pos) {
                let reclen = (19 + name.len() + 1).next_multiple_of(8);
                if out.len() + reclen > len as usize {
                    if out.is_empty() {
                        return Err(Errno::EINVAL);
                    }
                    break;
                }
                out.extend_from_slice(&ino.to_le_bytes());
                out.extend_from_slice(&((pos + 1) as i64).to_le_bytes());
                out.extend_from_slice(&(reclen as u16).to_le_bytes());
                out.push(t);
                out.extend_from_slice(name);
                out.resize(out.len() + reclen - 19 - name.len(), 0);
                pos += 1;
            }
            p.write_user(buf, &out)?;
            f.pos.set(pos as u64);
            Ok(out.len() as u64)
        }
    }
}

/// The stat of a path, for chdir and the like.
fn is_dir_loc<P: Platform>(proc: &Process, p: &mut P, loc: &Loc) -> Result<bool, Errno> {
    Ok(stat_loc(proc, p, loc, true)?.st_mode & vfs::S_IFMT == vfs::S_IFDIR)
}

pub fn chdir<P: Platform>(proc: &mut Process, p: &mut P, path: u64) -> SysResult {
    let (loc, comps) = lookup(proc, p, AT_FDCWD, path, true)?;
    let held = match &loc {
        Loc::Share { share, rel } => {
            // Held open, so that it follows renames as Linux's does.
            let mut c = call(FileOp::Open);
            c.flags = O_PATH | O_DIRECTORY;
            let (r, _) = on_path(p, c, *share, rel, FileData::None);
            let handle = r? as u32;
            Some(Rc::new(OpenFile::new(FileKind::Host { share: *share, handle, dir: true, seekable: false }, join(&comps))))
        }
        Loc::Mem(ino) if proc.vfs.nodes[*ino].is_dir() => Some(Rc::new(OpenFile::new(FileKind::Mem(*ino), join(&comps)))),
        _ => {
            if !is_dir_loc(proc, p, &loc)? {
                return Err(Errno::ENOTDIR);
            }
            None
        }
    };
    set_cwd(proc, p, held, join(&comps))
}

/// Makes `path` (held open as `held`, in a share) the working directory.
fn set_cwd<P: Platform>(proc: &mut Process, p: &mut P, held: Option<Rc<OpenFile>>, path: Vec<u8>) -> SysResult {
    let old = core::mem::replace(&mut proc.cwd_file, held.clone());
    if let Some(f) = old {
        release_file(p, f);
    }
    proc.cwd = match &held {
        // Linux's working directory is where the symlinks led (a directory
        // removed while open keeps the path it had).
        Some(f) => {
            *f.moved.borrow_mut() = None;
            match f.kind {
                FileKind::Mem(ino) => proc.vfs.path_of(ino).map(|c| join(&c)).unwrap_or(path),
                _ => realpath_of(proc, p, f).unwrap_or(path),
            }
        }
        None => path,
    };
    Ok(0)
}

/// Where an open directory of a share really is (symlinks resolved), as a guest path.
fn realpath_of<P: Platform>(proc: &Process, p: &mut P, f: &OpenFile) -> Result<Vec<u8>, Errno> {
    let FileKind::Host { share, handle, .. } = f.kind else { return Ok(f.path.clone()) };
    let mut real = alloc::vec![0u8; PATH_MAX];
    let n = on_handle(p, call(FileOp::Realpath), handle, FileData::Out(&mut real)).0? as usize;
    let mut path = join(&proc.vfs.shares[share as usize].at);
    if n > 0 {
        if path != b"/" {
            path.push(b'/');
        }
        path.extend_from_slice(&real[..n]);
    }
    Ok(path)
}

pub fn fchdir<P: Platform>(proc: &mut Process, p: &mut P, fd: u64) -> SysResult {
    let Object::File(f) = proc.fds.get(fd)?.object.clone() else { return Err(Errno::ENOTDIR) };
    if !is_dir(proc, &f) {
        return Err(Errno::ENOTDIR);
    }
    let path = f.path.clone();
    set_cwd(proc, p, Some(f), path)
}

fn is_mount_point(proc: &Process, comps: &[Vec<u8>]) -> bool {
    proc.vfs.shares.iter().any(|s| s.at == comps)
}

pub fn mkdirat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, mode: u64) -> SysResult {
    proc.vfs.stat_batch = None;
    let mode = mode as u32 & 0o7777 & !proc.umask;
    match lookup(proc, p, dirfd, path, false)?.0 {
        Loc::Share { share, rel } => {
            let mut c = call(FileOp::Mkdir);
            c.mode = mode;
            on_path(p, c, share, &rel, FileData::None).0.map(|_| 0)
        }
        Loc::MemMissing { parent, name } => {
            let t = now(p);
            add_owned(proc, parent, &name, NodeKind::Dir(Default::default()), mode, t);
            Ok(0)
        }
        Loc::Mem(_) | Loc::Link(_) | Loc::Exe | Loc::Proc(_) => Err(Errno::EEXIST),
    }
}

/// The last component of a path as the program wrote it: "." and ".."
/// are errors of their own for rmdir, unlink and rename.
fn last_component<P: Platform>(p: &P, path: u64) -> Result<Vec<u8>, Errno> {
    let name = read_cstr(p, path, PATH_MAX)?;
    let trimmed = match name.iter().rposition(|&c| c != b'/') {
        Some(i) => &name[..=i],
        None => &name[..],
    };
    Ok(trimmed.rsplit(|&c| c == b'/').next().unwrap_or_default().to_vec())
}

pub fn unlinkat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, flags: u64) -> SysResult {
    // A directory held open may be gone: look for it again after this.
    // (Only rmdir removes a directory; each bump costs the next relative
    // lookup a Realpath call, so `rm -rf` must not pay one per file.)
    let r = unlinkat_inner(proc, p, dirfd, path, flags);
    if r.is_ok() && flags & AT_REMOVEDIR != 0 {
        moved();
    }
    r
}

fn unlinkat_inner<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, flags: u64) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    proc.vfs.stat_batch = None;
    host_changed();
    let rmdir = flags & AT_REMOVEDIR != 0;
    match last_component(p, path)?.as_slice() {
        b"." if rmdir => return Err(Errno::EINVAL),
        b".." if rmdir => return Err(Errno::ENOTEMPTY),
        b"." | b".." => return Err(Errno::EISDIR),
        _ => {}
    }
    let (loc, comps) = lookup(proc, p, dirfd, path, false)?;
    match loc {
        Loc::Share { share, rel } => {
            if rel.is_empty() {
                return Err(Errno::EBUSY);
            }
            let mut c = call(FileOp::Unlink);
            c.flags = flags as u32;
            on_path(p, c, share, &rel, FileData::None).0.map(|_| 0)
        }
        Loc::MemMissing { .. } => Err(Errno::ENOENT),
        Loc::Link(_) | Loc::Exe | Loc::Proc(_) => Err(Errno::EACCES),
        Loc::Mem(ino) => {
            if ino == 0 || is_mount_point(proc, &comps) || comps.starts_with(&[b"proc".to_vec()]) {
                return Err(Errno::EBUSY);
            }
            let node = &proc.vfs.nodes[ino];
            match (&node.kind, rmdir) {
                (NodeKind::Dir(m), true) if !m.is_empty() => return Err(Errno::ENOTEMPTY),
                (NodeKind::Dir(_), false) => return Err(Errno::EISDIR),
                (k, true) if !matches!(k, NodeKind::Dir(_)) => return Err(Errno::ENOTDIR),
                _ => {}
            }
            // The directory the path names, not the node's first one (hard links).
            let parent = proc.vfs.parent_of(&comps).ok_or(Errno::ENOENT)?;
            let name = comps.last().cloned().unwrap_or_default();
            proc.vfs.remove(parent, &name);
            if rmdir {
                // Still open somewhere, perhaps: an empty, unlinked directory.
                proc.vfs.nodes[ino].nlink = 0;
            }
            Ok(0)
        }
    }
}

pub fn renameat2<P: Platform>(proc: &mut Process, p: &mut P, olddir: u64, old: u64, newdir: u64, new: u64, flags: u64) -> SysResult {
    // Directories held open may have moved: look for them again after this.
    let r = renameat2_inner(proc, p, olddir, old, newdir, new, flags);
    if r.is_ok() {
        moved();
    }
    r
}

fn renameat2_inner<P: Platform>(proc: &mut Process, p: &mut P, olddir: u64, old: u64, newdir: u64, new: u64, flags: u64) -> SysResult {
    const RENAME_NOREPLACE: u64 = 1;
    const RENAME_EXCHANGE: u64 = 2;
    const RENAME_WHITEOUT: u64 = 4;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 || flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0 {
        return Err(Errno::EINVAL);
    }
    proc.vfs.stat_batch = None;
    host_changed();
    for name in [old, new] {
        if matches!(last_component(p, name)?.as_slice(), b"." | b"..") {
            return Err(Errno::EBUSY);
        }
    }
    let (from, from_comps) = lookup(proc, p, olddir, old, false)?;
    let (to, to_comps) = lookup(proc, p, newdir, new, false)?;
    if matches!((&from, &to), (Loc::Mem(_), _)) && flags & RENAME_WHITEOUT != 0 {
        return Err(Errno::EINVAL);
    }
    if let (Loc::Mem(a), Loc::Mem(_) | Loc::MemMissing { .. }) = (&from, &to) {
        // "name/" names a directory: a file cannot go there.
        let slash = read_cstr(p, new, PATH_MAX)?.last() == Some(&b'/') || read_cstr(p, old, PATH_MAX)?.last() == Some(&b'/');
        if slash && !proc.vfs.nodes[*a].is_dir() {
            return Err(Errno::ENOTDIR);
        }
    }
    if flags & RENAME_EXCHANGE != 0 {
        if let (Loc::Mem(a), Loc::Mem(b)) = (&from, &to) {
            if a == b {
                return Ok(0);
            }
            // One inside the other: the tree would lose its root path.
            if proc.vfs.is_within(*a, *b) || proc.vfs.is_within(*b, *a) {
                return Err(Errno::EINVAL);
            }
            let (pa, pb) = (proc.vfs.parent_of(&from_comps).ok_or(Errno::ENOENT)?, proc.vfs.parent_of(&to_comps).ok_or(Errno::ENOENT)?);
            let (na, nb) = (from_comps.last().cloned().unwrap_or_default(), to_comps.last().cloned().unwrap_or_default());
            if let NodeKind::Dir(m) = &mut proc.vfs.nodes[pa].kind {
                m.insert(na, *b);
            }
            if let NodeKind::Dir(m) = &mut proc.vfs.nodes[pb].kind {
                m.insert(nb, *a);
            }
            (proc.vfs.nodes[*a].parent, proc.vfs.nodes[*b].parent) = (pb, pa);
            return Ok(0);
        }
        if matches!(to, Loc::MemMissing { .. }) {
            return Err(Errno::ENOENT);
        }
    }
    if let (Loc::Mem(_), Loc::Mem(_)) = (&from, &to) {
        if flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
    }
    match (from, to) {
        (Loc::Share { share, rel }, Loc::Share { share: share2, rel: rel2 }) => {
            if share != share2 {
                return Err(Errno::EXDEV);
            }
            let mut c = call(FileOp::Rename);
            (c.share, c.share2, c.flags) = (share, share2, flags as u32);
            p.host_file(&mut c, &rel, &rel2, FileData::None).map(|_| 0)
        }
        (Loc::Mem(ino), to @ (Loc::Mem(_) | Loc::MemMissing { .. })) => {
            if ino == 0 || is_mount_point(proc, &from_comps) {
                return Err(Errno::EBUSY);
            }
            // A directory cannot move into itself.
            let dest_dir = match &to {
                Loc::Mem(t) => proc.vfs.nodes[*t].parent,
                Loc::MemMissing { parent, .. } => *parent,
                _ => 0,
            };
            if proc.vfs.nodes[ino].is_dir() && proc.vfs.is_within(dest_dir, ino) {
                return Err(Errno::EINVAL);
            }
            let (parent, name) = match to {
                Loc::Mem(target) => {
                    if target == ino {
                        return Ok(0);
                    }
                    let t = &proc.vfs.nodes[target];
                    if let NodeKind::Dir(m) = &t.kind {
                        if !proc.vfs.nodes[ino].is_dir() {
                            return Err(Errno::EISDIR);
                        }
                        if !m.is_empty() {
                            return Err(Errno::ENOTEMPTY);
                        }
                    } else if proc.vfs.nodes[ino].is_dir() {
                        return Err(Errno::ENOTDIR);
                    }
                    let parent = proc.vfs.parent_of(&to_comps).ok_or(Errno::ENOENT)?;
                    let name = to_comps.last().cloned().unwrap_or_default();
                    proc.vfs.remove(parent, &name);
                    (parent, name)
                }
                Loc::MemMissing { parent, name } => (parent, name),
                _ => unreachable!(),
            };
            let old_parent = proc.vfs.parent_of(&from_comps).ok_or(Errno::ENOENT)?;
            let old_name = from_comps.last().cloned().unwrap_or_default();
            if let NodeKind::Dir(m) = &mut proc.vfs.nodes[old_parent].kind {
                m.remove(&old_name);
            }
            if let NodeKind::Dir(m) = &mut proc.vfs.nodes[parent].kind {
                m.insert(name, ino);
            }
            if proc.vfs.nodes[ino].is_dir() {
                proc.vfs.nodes[old_parent].nlink -= 1;
                proc.vfs.nodes[parent].nlink += 1;
            }
            proc.vfs.nodes[ino].parent = parent;
            Ok(0)
        }
        (Loc::MemMissing { .. }, _) => Err(Errno::ENOENT),
        _ => Err(Errno::EXDEV),
    }
}

pub fn linkat<P: Platform>(proc: &mut Process, p: &mut P, olddir: u64, old: u64, newdir: u64, new: u64, flags: u64) -> SysResult {
    proc.vfs.stat_batch = None;
    const AT_SYMLINK_FOLLOW: u64 = 0x400;
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (from, _) = lookup(proc, p, olddir, old, flags & AT_SYMLINK_FOLLOW != 0)?;
    let (to, _) = lookup(proc, p, newdir, new, false)?;
    match (from, to) {
        (Loc::Share { share, rel }, Loc::Share { share: share2, rel: rel2 }) => {
            if share != share2 {
                return Err(Errno::EXDEV);
            }
            let mut c = call(FileOp::Link);
            (c.share, c.share2, c.flags) = (share, share2, (flags & AT_SYMLINK_FOLLOW) as u32);
            p.host_file(&mut c, &rel, &rel2, FileData::None).map(|_| 0)
        }
        (Loc::Mem(ino), Loc::MemMissing { parent, name }) => {
            if proc.vfs.nodes[ino].is_dir() {
                return Err(Errno::EPERM);
            }
            if let NodeKind::Dir(m) = &mut proc.vfs.nodes[parent].kind {
                m.insert(name, ino);
            }
            proc.vfs.nodes[ino].nlink += 1;
            Ok(0)
        }
        (Loc::MemMissing { .. }, _) => Err(Errno::ENOENT),
        (_, Loc::Mem(_)) => Err(Errno::EEXIST),
        _ => Err(Errno::EXDEV),
    }
}

pub fn symlinkat<P: Platform>(proc: &mut Process, p: &mut P, target: u64, dirfd: u64, path: u64) -> SysResult {
    proc.vfs.stat_batch = None;
    let target = read_cstr(p, target, PATH_MAX)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    match lookup(proc, p, dirfd, path, false)?.0 {
        Loc::Share { share, rel } => on_path(p, call(FileOp::Symlink), share, &rel, FileData::In(&target)).0.map(|_| 0),
        Loc::MemMissing { parent, name } => {
            let t = now(p);
            add_owned(proc, parent, &name, NodeKind::Symlink(target), 0o777, t);
            Ok(0)
        }
        _ => Err(Errno::EEXIST),
    }
}

pub fn readlinkat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, buf: u64, size: u64) -> SysResult {
    if size as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    let target = match lookup(proc, p, dirfd, path, false)?.0 {
        Loc::Link(t) => t,
        Loc::Exe | Loc::Proc(_) => return Err(Errno::EINVAL),
        Loc::Mem(ino) => match &proc.vfs.nodes[ino].kind {
            NodeKind::Symlink(t) => t.clone(),
            _ => return Err(Errno::EINVAL),
        },
        Loc::MemMissing { .. } => return Err(Errno::ENOENT),
        Loc::Share { share, rel } => {
            return on_path(p, call(FileOp::Readlink), share, &rel, FileData::ToUser(buf, size.min(PATH_MAX as u64))).0;
        }
    };
    let n = target.len().min(size as usize);
    p.write_user(buf, &target[..n])?;
    Ok(n as u64)
}

/// chmod, chown, utimens and truncate: on a path (`fd` None) or a descriptor.
pub enum Attr {
    Mode(u32),
    Owner(u32, u32),
    /// atime and mtime, each a time, UTIME_NOW or UTIME_OMIT.
    Times([abi::linux::Timespec; 2]),
    Size(u64),
}

pub fn set_attr<P: Platform>(proc: &mut Process, p: &mut P, target: Result<Loc, Rc<OpenFile>>, attr: Attr, nofollow: bool) -> SysResult {
    proc.vfs.stat_batch = None;
    host_changed();
    let op = match attr {
        Attr::Mode(_) => FileOp::Chmod,
        Attr::Owner(..) => FileOp::Chown,
        Attr::Times(_) => FileOp::Utimens,
        Attr::Size(_) => FileOp::Truncate,
    };
    let mut c = call(op);
    let mut times = [0u8; 32];
    let mut data = FileData::None;
    match &attr {
        Attr::Mode(m) => c.mode = *m,
        Attr::Owner(u, g) => {
            (c.mode, c.flags) = (*u, *g);
            c.offset = if nofollow { AT_SYMLINK_NOFOLLOW as i64 } else { 0 };
        }
        Attr::Times(t) => {
            c.flags = if nofollow { AT_SYMLINK_NOFOLLOW as u32 } else { 0 };
            times.copy_from_slice(abi::pod::as_bytes(t));
            data = FileData::In(&times);
        }
        Attr::Size(n) => c.offset = *n as i64,
    }
    let ino = match target {
        Ok(Loc::Share { share, rel }) => return on_path(p, c, share, &rel, data).0.map(|_| 0),
        Ok(Loc::Mem(ino)) => ino,
        Ok(Loc::Link(_) | Loc::Exe | Loc::Proc(_)) => return Err(Errno::EPERM),
        Ok(Loc::MemMissing { .. }) => return Err(Errno::ENOENT),
        Err(f) => match f.kind {
            FileKind::Host { handle, .. } => {
                host_changed();
                return on_handle(p, c, handle, data).0.map(|_| 0);
            }
            FileKind::Mem(ino) => ino,
            FileKind::Proc(..) => return Err(Errno::EPERM),
            FileKind::Pipe { .. } | FileKind::Event(_) => return Err(Errno::EINVAL),
        },
    };
    let t = now(p);
    let node = &mut proc.vfs.nodes[ino];
    match attr {
        Attr::Mode(m) => node.perm = m & 0o7777,
        Attr::Owner(u, g) => {
            if u != u32::MAX {
                node.uid = u;
            }
            if g != u32::MAX {
                node.gid = g;
            }
        }
        Attr::Times(ts) => {
            let pick = |ts: &abi::linux::Timespec, old: u64| match ts.tv_nsec {
                UTIME_OMIT => old,
                UTIME_NOW => t,
                n => ts.tv_sec as u64 * 1_000_000_000 + n as u64,
            };
            (node.atime, node.mtime) = (pick(&ts[0], node.atime), pick(&ts[1], node.mtime));
        }
        Attr::Size(n) => match &mut node.kind {
            NodeKind::File(d) => {
                d.try_reserve((n as usize).saturating_sub(d.len())).map_err(|_| Errno::EFBIG)?;
                d.resize(n as usize, 0);
                node.mtime = t;
            }
            NodeKind::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        },
    }
    node.ctime = t;
    Ok(0)
}

/// utimensat: NULL times are "now" for both, as Linux reads them; bad
/// flags or nanoseconds answer EINVAL; two UTIME_OMITs change nothing, not
/// even ctime, once the target is found.
pub fn utimensat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, times: u64, flags: u64) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let now = abi::linux::Timespec { tv_sec: 0, tv_nsec: UTIME_NOW };
    let ts: [abi::linux::Timespec; 2] = if times == 0 { [now, now] } else { UserPtr(times).read(p)? };
    let ok = |t: &abi::linux::Timespec| (0..1_000_000_000).contains(&t.tv_nsec) || t.tv_nsec == UTIME_NOW || t.tv_nsec == UTIME_OMIT;
    if !ts.iter().all(ok) {
        return Err(Errno::EINVAL);
    }
    let nofollow = flags & AT_SYMLINK_NOFOLLOW != 0;
    let t = target(proc, p, dirfd, path, !nofollow, flags & AT_EMPTY_PATH != 0)?;
    if ts.iter().all(|t| t.tv_nsec == UTIME_OMIT) {
        return Ok(0);
    }
    set_attr(proc, p, t, Attr::Times(ts), nofollow)
}

/// The target of a path-or-descriptor call.
pub fn target<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, follow: bool, empty_ok: bool) -> Result<Result<Loc, Rc<OpenFile>>, Errno> {
    if path == 0 || (empty_ok && read_cstr(p, path, PATH_MAX)?.is_empty()) {
        return match &proc.fds.get(dirfd)?.object {
            Object::File(f) => Ok(Err(f.clone())),
            Object::HostStdio { .. } => Err(Errno::EPERM),
        };
    }
    Ok(Ok(lookup(proc, p, dirfd, path, follow)?.0))
}

pub fn faccessat<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, mode: u64, flags: u64) -> SysResult {
    const AT_EACCESS: u64 = 0x200;
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (loc, _) = lookup(proc, p, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    match loc {
        Loc::Share { share, rel } => {
            if mode & 2 != 0 && read_only(proc, share) {
                return Err(Errno::EROFS);
            }
            let mut c = call(FileOp::Access);
            (c.mode, c.flags) = (mode as u32, flags as u32);
            on_path(p, c, share, &rel, FileData::None).0.map(|_| 0)
        }
        Loc::Mem(ino) => {
            let n = &proc.vfs.nodes[ino];
            let want = mode as u32 & 7;
            let ok = if proc.euid == 0 { want & 1 == 0 || n.perm & 0o111 != 0 || n.is_dir() } else { permits(n.perm, n.uid == proc.euid, want) };
            if ok {
                Ok(0)
            } else {
                Err(Errno::EACCES)
            }
        }
        Loc::Link(_) | Loc::Exe => Ok(0),
        Loc::Proc(_) if mode & 2 != 0 => Err(Errno::EACCES),
        Loc::Proc(_) => Ok(0),
        Loc::MemMissing { .. } => Err(Errno::ENOENT),
    }
}

pub fn fsync<P: Platform>(p: &mut P, f: &OpenFile, data_only: bool) -> SysResult {
    match f.kind {
        FileKind::Host { handle, .. } => {
            let mut c = call(FileOp::Fsync);
            c.flags = data_only as u32;
            on_handle(p, c, handle, FileData::None).0.map(|_| 0)
        }
        FileKind::Mem(_) | FileKind::Proc(..) => Ok(0),
        FileKind::Pipe { .. } | FileKind::Event(_) => Err(Errno::EINVAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::Fake;
    use abi::linux::{PROT_READ, PROT_WRITE};

    fn setup() -> (Process, Fake) {
        // SAFETY: BootInfo is plain integers and arrays: all-zero is valid.
        let boot: alloc::boxed::Box<abi::boot::BootInfo> = alloc::boxed::Box::new(unsafe { core::mem::zeroed() });
        let mut proc = Process::from_boot(&boot, 0, Vec::new());
        proc.cwd = b"/tmp".to_vec();
        proc.fds.limit = 64;
        let mut f = Fake::default();
        f.pages.insert(0x1000, (alloc::vec![0; 4096], PROT_READ | PROT_WRITE));
        f.pages.insert(0x2000, (alloc::vec![0; 4096], PROT_READ | PROT_WRITE));
        (proc, f)
    }

    fn path(f: &mut Fake, s: &str) -> u64 {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        f.write_user(0x1000, &b).unwrap();
        0x1000
    }

    #[test]
    fn files_in_tmp_are_created_written_read_listed_and_removed() {
        let (mut proc, mut f) = setup();
        let pa = path(&mut f, "a.txt");
        let fd = openat(&mut proc, &mut f, AT_FDCWD, pa, (O_CREAT | O_RDWR) as u64, 0o644).unwrap();
        f.write_user(0x2000, b"hello").unwrap();
        assert_eq!(crate::sys_io::write(&mut proc, &mut f, fd, 0x2000, 5), Ok(5));
        assert_eq!(crate::sys_io::lseek(&mut proc, &mut f, fd, 1, 0), Ok(1));
        assert_eq!(crate::sys_io::read(&mut proc, &mut f, fd, 0x2100, 10), Ok(4));
        let mut got = [0u8; 4];
        f.read_user(0x2100, &mut got).unwrap();
        assert_eq!(&got, b"ello");
        let pa = path(&mut f, "/tmp/a.txt");
        assert_eq!(openat(&mut proc, &mut f, AT_FDCWD, pa, (O_CREAT | O_EXCL | O_WRONLY) as u64, 0o644), Err(Errno::EEXIST));
        assert_eq!(newfstatat(&mut proc, &mut f, AT_FDCWD, pa, 0x2200, 0), Ok(0));
        let st: Stat = UserPtr(0x2200).read(&f).unwrap();
        assert_eq!((st.st_size, st.st_mode), (5, vfs::S_IFREG | 0o644));
        let dot = path(&mut f, ".");
        let dfd = openat(&mut proc, &mut f, AT_FDCWD, dot, O_DIRECTORY as u64, 0).unwrap();
        let n = crate::sys_io::getdents64(&mut proc, &mut f, dfd, 0x2000, 4096).unwrap();
        let mut listing = alloc::vec![0u8; n as usize];
        f.read_user(0x2000, &mut listing).unwrap();
        assert!(listing.windows(5).any(|w| w == b"a.txt"));
        let pa = path(&mut f, "a.txt");
        assert_eq!(unlinkat(&mut proc, &mut f, AT_FDCWD, pa, 0), Ok(0));
        assert_eq!(newfstatat(&mut proc, &mut f, AT_FDCWD, pa, 0x2200, 0), Err(Errno::ENOENT));
        let tmp = path(&mut f, "/tmp");
        assert_eq!(unlinkat(&mut proc, &mut f, AT_FDCWD, tmp, AT_REMOVEDIR), Ok(0));
    }

    #[test]
    fn devices_behave_as_on_linux() {
        let (mut proc, mut f) = setup();
        let pa = path(&mut f, "/dev/full");
        let fd = openat(&mut proc, &mut f, AT_FDCWD, pa, O_RDWR as u64, 0).unwrap();
        assert_eq!(crate::sys_io::write(&mut proc, &mut f, fd, 0x2000, 5), Err(Errno::ENOSPC));
        assert_eq!(crate::sys_io::read(&mut proc, &mut f, fd, 0x2000, 5), Ok(5));
        let pa = path(&mut f, "/dev/null");
        let fd = openat(&mut proc, &mut f, AT_FDCWD, pa, O_RDWR as u64, 0).unwrap();
        assert_eq!(crate::sys_io::write(&mut proc, &mut f, fd, 0x2000, 5), Ok(5));
        assert_eq!(crate::sys_io::read(&mut proc, &mut f, fd, 0x2000, 5), Ok(0));
        let pa = path(&mut f, "/etc/passwd");
        assert_eq!(openat(&mut proc, &mut f, AT_FDCWD, pa, (O_RDONLY | O_DIRECTORY) as u64, 0), Err(Errno::ENOTDIR));
    }
}

static PIPE_INO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0x1000);

pub fn pipe2<P: Platform>(proc: &mut Process, p: &mut P, fds: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT_PIPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let ino = PIPE_INO.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let buf = Rc::new(core::cell::RefCell::new(Pipe { readers: 1, writers: 1, ino, ..Default::default() }));
    let end = |write: bool| {
        let f = OpenFile::new(FileKind::Pipe { buf: buf.clone(), write }, alloc::format!("pipe:[{ino}]").into_bytes());
        let status = if write { O_WRONLY } else { O_RDONLY } | (flags & O_NONBLOCK);
        Entry { object: Object::File(Rc::new(f)), cloexec: flags & O_CLOEXEC != 0, status }
    };
    let r = proc.fds.install_from(0, end(false))?;
    let w = match proc.fds.install_from(0, end(true)) {
        Ok(w) => w,
        Err(e) => {
            let _ = proc.fds.close(r);
            return Err(e);
        }
    };
    let pair = [r as i32, w as i32];
    if let Err(e) = UserPtr(fds).write(p, &((pair[1] as u64) << 32 | pair[0] as u32 as u64)) {
        let _ = proc.fds.close(r);
        let _ = proc.fds.close(w);
        return Err(e);
    }
    Ok(0)
}

/// O_DIRECT: a packet pipe; accepted, and served as a byte stream.
const O_DIRECT_PIPE: u32 = 0o40000;

pub fn pipe_read<P: Platform>(proc: &mut Process, p: &mut P, buf: &Rc<core::cell::RefCell<Pipe>>, nonblock: bool, to: u64, len: u64) -> SysResult {
    let mut b = buf.borrow_mut();
    if b.data.is_empty() {
        if b.writers == 0 {
            return Ok(0);
        }
        if !nonblock && proc.others_exist() {
            // Another thread or process may fill it.
            drop(b);
            return crate::sched::block(proc, pipe_wait());
        }
        // Only this process could fill it: waiting would never end.
        if !nonblock && proc.first_warning(0x7000_0000) {
            p.warn(format_args!("read of an empty pipe that only this process can fill: answering EAGAIN"));
        }
        return Err(Errno::EAGAIN);
    }
    let n = (len as usize).min(b.data.len());
    let (front, back) = b.data.as_slices();
    let k = n.min(front.len());
    p.write_user(to, &front[..k])?;
    if n > k {
        p.write_user(to + k as u64, &back[..n - k])?;
    }
    b.data.drain(..n);
    drop(b);
    crate::sched::wake_io(proc);
    Ok(n as u64)
}

fn pipe_wait() -> crate::sched::Wait {
    crate::sched::Wait::io([0; 3], None, Errno::ERESTARTSYS)
}

pub fn pipe_write<P: Platform>(proc: &mut Process, p: &mut P, buf: &Rc<core::cell::RefCell<Pipe>>, nonblock: bool, from: u64, len: u64) -> SysResult {
    // A blocking write goes on until all is written; what earlier runs of
    // this syscall wrote is in io_done.
    let done = core::mem::take(&mut proc.thread.io_done);
    let (from, left) = (from + done, len - done);
    let mut b = buf.borrow_mut();
    if b.readers == 0 {
        drop(b);
        let _ = crate::sys_signal::kill(proc, p, proc.pid as i32, abi::linux::sig::SIGPIPE as u64);
        return if done > 0 { Ok(done) } else { Err(Errno::EPIPE) };
    }
    let room = PIPE_BUF_SIZE - b.data.len();
    // Writes of at most PIPE_BUF bytes are atomic: all at once or not yet.
    if room == 0 || (left as usize <= PIPE_BUF && (room as u64) < left) {
        if !nonblock && proc.others_exist() {
            drop(b);
            proc.thread.io_done = done;
            return crate::sched::block(proc, pipe_wait());
        }
        if done > 0 {
            return Ok(done);
        }
        if !nonblock && proc.first_warning(0x7000_0001) {
            p.warn(format_args!("write to a full pipe that only this process can drain: answering EAGAIN"));
        }
        return Err(Errno::EAGAIN);
    }
    let n = (left as usize).min(room);
    match p.user_slice(from, n as u64) {
        Ok(bytes) => b.data.extend(bytes),
        Err(_) => {
            let mut bytes = alloc::vec![0u8; n];
            if let Err(e) = p.read_user(from, &mut bytes) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            b.data.extend(bytes);
        }
    }
    drop(b);
    crate::sched::wake_io(proc);
    let total = done + n as u64;
    if !nonblock && total < len && proc.others_exist() {
        proc.thread.io_done = total;
        return crate::sched::block(proc, pipe_wait());
    }
    Ok(total)
}

/// Writes of at most this many bytes to a pipe are atomic.
pub const PIPE_BUF: usize = 4096;

/// poll readiness of a pipe end: POLLIN, POLLOUT, POLLHUP, POLLERR.
pub fn pipe_poll(buf: &Rc<core::cell::RefCell<Pipe>>, write: bool) -> u16 {
    let b = buf.borrow();
    if write {
        if b.readers == 0 {
            0x8 | 0x4
        } else if b.data.len() < PIPE_BUF_SIZE {
            0x4
        } else {
            0
        }
    } else {
        (if b.data.is_empty() { 0 } else { 0x1 }) | if b.writers == 0 { 0x10 } else { 0 }
    }
}

/// struct statfs on x86-64.
const STATFS_SIZE: usize = 120;

/// statfs of what a path or descriptor is on: a share (the host file
/// system's, from the monitor), the in-memory tree (tmpfs), /proc or a pipe.
pub fn statfs<P: Platform>(proc: &mut Process, p: &mut P, target: Result<Loc, Rc<OpenFile>>, buf: u64) -> SysResult {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    const PROC_SUPER_MAGIC: u64 = 0x9fa0;
    const PIPEFS_MAGIC: u64 = 0x5049_5045;
    let share = match &target {
        Ok(Loc::Share { share, .. }) => Some(*share),
        Err(f) => match f.kind {
            FileKind::Host { share, .. } => Some(share),
            _ => None,
        },
        _ => None,
    };
    if let Some(share) = share {
        let mut out = [0u8; STATFS_SIZE];
        let mut c = call(FileOp::Statfs);
        c.share = share;
        p.host_file(&mut c, &[], &[], FileData::Out(&mut out))?;
        return p.write_user(buf, &out).map(|_| 0);
    }
    let magic = match &target {
        Ok(Loc::MemMissing { .. }) => return Err(Errno::ENOENT),
        Ok(Loc::Proc(_)) | Ok(Loc::Link(_)) => PROC_SUPER_MAGIC,
        Err(f) if matches!(f.kind, FileKind::Proc(..)) => PROC_SUPER_MAGIC,
        Err(f) if matches!(f.kind, FileKind::Pipe { .. }) => PIPEFS_MAGIC,
        _ => TMPFS_MAGIC,
    };
    let blocks = proc.mem_size / 4096;
    let used: u64 = proc.vfs.nodes.iter().map(|n| if let NodeKind::File(d) = &n.kind { (d.len() as u64).div_ceil(4096) } else { 0 }).sum();
    let mut w = [0u64; STATFS_SIZE / 8];
    // f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid (2 x i32), f_namelen, f_frsize, f_flags
    w[0] = magic;
    w[1] = 4096;
    if magic == TMPFS_MAGIC {
        (w[2], w[3], w[4]) = (blocks, blocks.saturating_sub(used), blocks.saturating_sub(used));
        (w[5], w[6]) = (blocks, blocks.saturating_sub(proc.vfs.nodes.len() as u64));
    }
    w[8] = 255;
    w[9] = 4096;
    let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    p.write_user(buf, &bytes).map(|_| 0)
}

/// close_range: closes [first, last], or marks them FD_CLOEXEC.
pub fn close_range<P: Platform>(proc: &mut Process, p: &mut P, first: u64, last: u64, flags: u64) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u64 = 2;
    const CLOSE_RANGE_CLOEXEC: u64 = 4;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first as u32 > last as u32 {
        return Err(Errno::EINVAL);
    }
    let (first, last) = (first as u32 as u64, last as u32 as u64);
    let fds: Vec<u64> = proc.fds.iter().map(|(fd, _)| fd).filter(|&fd| fd >= first && fd <= last).collect();
    for fd in fds {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            proc.fds.get_mut(fd)?.cloexec = true;
        } else {
            let e = proc.fds.close(fd).ok();
            release(p, e);
        }
    }
    Ok(0)
}

/// Fills a new file mapping [at, at+len) with the file's bytes from `off`
/// (zeros past its end).
pub fn read_into_map<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, off: u64, at: u64, len: u64) -> Result<(), Errno> {
    sync_shared_maps(proc, p, f);
    match f.kind {
        FileKind::Host { handle, .. } => {
            let mut c = call(FileOp::Read);
            c.offset = off as i64;
            on_handle(p, c, handle, FileData::ToUser(at, len)).0.map(|_| ())
        }
        FileKind::Mem(ino) => match &proc.vfs.nodes[ino].kind {
            NodeKind::File(d) => {
                let start = (off as usize).min(d.len());
                let end = start.saturating_add(len as usize).min(d.len());
                p.write_user(at, &d[start..end])
            }
            _ => Err(Errno::ENODEV),
        },
        _ => Err(Errno::ENODEV),
    }
}

/// Writes a MAP_SHARED mapping's [at, at+len) back to its file at `off`,
/// not past the file's end (a mapping does not grow its file).
pub fn write_from_map<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, off: u64, at: u64, len: u64) -> Result<(), Errno> {
    proc.vfs.stat_batch = None;
    // Checked by walking the page tables, not by touching: this also runs
    // while a fault is being handled, where a second fault must not happen.
    p.user_slice(at, len)?;
    match f.kind {
        FileKind::Host { handle, .. } => {
            let (r, c) = on_handle(p, call(FileOp::Fstat), handle, FileData::None);
            r?;
            let size = c.stat.st_size.max(0) as u64;
            let len = len.min(size.saturating_sub(off));
            if len == 0 {
                return Ok(());
            }
            host_changed();
            let mut c = call(FileOp::Write);
            c.offset = off as i64;
            on_handle(p, c, handle, FileData::FromUser(at, len)).0.map(|_| ())
        }
        FileKind::Mem(ino) => {
            let NodeKind::File(d) = &mut proc.vfs.nodes[ino].kind else { return Err(Errno::ENODEV) };
            let start = (off as usize).min(d.len());
            let end = start.saturating_add(len as usize).min(d.len());
            p.read_user(at, &mut d[start..end])
        }
        _ => Err(Errno::ENODEV),
    }
}

/// Reads of a file see what the program wrote to its MAP_SHARED mappings
/// (Linux shares the pages; here they are written back first).
fn sync_shared_maps<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile) {
    let same = |g: &OpenFile| match (&f.kind, &g.kind) {
        (FileKind::Host { .. }, FileKind::Host { .. }) => f.path == g.path,
        (FileKind::Mem(a), FileKind::Mem(b)) => a == b,
        _ => false,
    };
    // Only this file's mappings: each one written back costs exits.
    let ranges: Vec<(u64, u64)> = proc.mm.shared.iter().filter(|(_, (_, g, _))| same(g)).map(|(s, (e, _, _))| (*s, *e)).collect();
    for (s, e) in ranges {
        crate::sys_mem::write_back(proc, p, s, e);
    }
}

/// statx: the same facts as stat, in struct statx (no birth time).
pub fn statx<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, flags: u64, _mask: u64, buf: u64) -> SysResult {
    const AT_STATX_SYNC_TYPE: u64 = 0x6000;
    const AT_NO_AUTOMOUNT: u64 = 0x800;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    let st = stat_at(proc, p, dirfd, path, flags)?;
    let mut b = [0u8; 256];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    const STATX_BASIC_STATS: u32 = 0x7ff;
    put(0, &STATX_BASIC_STATS.to_le_bytes());
    put(4, &(st.st_blksize as u32).to_le_bytes());
    put(16, &(st.st_nlink as u32).to_le_bytes());
    put(20, &st.st_uid.to_le_bytes());
    put(24, &st.st_gid.to_le_bytes());
    put(28, &(st.st_mode as u16).to_le_bytes());
    put(32, &st.st_ino.to_le_bytes());
    put(40, &(st.st_size as u64).to_le_bytes());
    put(48, &(st.st_blocks as u64).to_le_bytes());
    for (off, (sec, nsec)) in [(64, (st.st_atime, st.st_atime_nsec)), (96, (st.st_ctime, st.st_ctime_nsec)), (112, (st.st_mtime, st.st_mtime_nsec))] {
        put(off, &sec.to_le_bytes());
        put(off + 8, &(nsec as u32).to_le_bytes());
    }
    let major = |d: u64| ((d >> 8) & 0xfff) as u32 | ((d >> 32) & !0xfff) as u32;
    let minor = |d: u64| (d & 0xff) as u32 | ((d >> 12) & !0xff) as u32;
    put(128, &major(st.st_rdev).to_le_bytes());
    put(132, &minor(st.st_rdev).to_le_bytes());
    put(136, &major(st.st_dev).to_le_bytes());
    put(140, &minor(st.st_dev).to_le_bytes());
    p.write_user(buf, &b).map(|_| 0)
}

/// fallocate: host files by the host; in-memory files grow (mode 0 only).
pub fn fallocate<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, mode: u64, off: u64, len: u64) -> SysResult {
    let e = proc.fds.get(fd)?.clone();
    if (off as i64) < 0 || len as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    if e.status & O_ACCMODE == O_RDONLY {
        return Err(Errno::EBADF);
    }
    let Object::File(f) = e.object else { return Err(Errno::ESPIPE) };
    match f.kind {
        FileKind::Host { handle, seekable: true, .. } => {
            host_changed();
            let mut c = call(FileOp::Fallocate);
            (c.flags, c.offset, c.len) = (mode as u32, off as i64, len);
            on_handle(p, c, handle, FileData::None).0.map(|_| 0)
        }
        FileKind::Mem(ino) => match &mut proc.vfs.nodes[ino].kind {
            NodeKind::File(d) if mode == 0 || mode == 1 => {
                let end = off.checked_add(len).ok_or(Errno::EFBIG)? as usize;
                if mode == 0 && end > d.len() {
                    d.try_reserve(end - d.len()).map_err(|_| Errno::ENOSPC)?;
                    d.resize(end, 0);
                }
                Ok(0)
            }
            NodeKind::File(_) => Err(Errno::EOPNOTSUPP),
            NodeKind::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::ENODEV),
        },
        FileKind::Host { dir: true, .. } => Err(Errno::EISDIR),
        FileKind::Pipe { .. } => Err(Errno::ESPIPE),
        _ => Err(Errno::ENODEV),
    }
}

/// Reads a regular file at `off` into a kernel buffer.
fn pread_k<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, off: u64, buf: &mut [u8]) -> SysResult {
    sync_shared_maps(proc, p, f);
    match f.kind {
        FileKind::Host { handle, seekable: true, .. } => {
            let mut c = call(FileOp::Read);
            c.offset = off as i64;
            on_handle(p, c, handle, FileData::Out(buf)).0
        }
        FileKind::Mem(ino) => match &proc.vfs.nodes[ino].kind {
            NodeKind::File(d) => {
                let start = (off as usize).min(d.len());
                let n = buf.len().min(d.len() - start);
                buf[..n].copy_from_slice(&d[start..start + n]);
                Ok(n as u64)
            }
            _ => Err(Errno::EINVAL),
        },
        _ => Err(Errno::EINVAL),
    }
}

/// Writes a kernel buffer to a regular file at `off`.
fn pwrite_k<P: Platform>(proc: &mut Process, p: &mut P, f: &OpenFile, off: u64, data: &[u8]) -> SysResult {
    proc.vfs.stat_batch = None;
    match f.kind {
        FileKind::Host { handle, seekable: true, .. } => {
            host_changed();
            let mut c = call(FileOp::Write);
            c.offset = off as i64;
            on_handle(p, c, handle, FileData::In(data)).0
        }
        FileKind::Mem(ino) => match &mut proc.vfs.nodes[ino].kind {
            NodeKind::File(d) => {
                let end = off as usize + data.len();
                if d.len() < end {
                    d.try_reserve(end - d.len()).map_err(|_| Errno::ENOSPC)?;
                    d.resize(end, 0);
                }
                d[off as usize..end].copy_from_slice(data);
                Ok(data.len() as u64)
            }
            _ => Err(Errno::EINVAL),
        },
        _ => Err(Errno::EINVAL),
    }
}

/// copy_file_range between regular files, through the kernel (64 KiB at a time).
pub fn copy_file_range<P: Platform>(proc: &mut Process, p: &mut P, fd_in: u64, off_in: u64, fd_out: u64, off_out: u64, len: u64, flags: u64) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (ein, eout) = (proc.fds.get(fd_in)?.clone(), proc.fds.get(fd_out)?.clone());
    if ein.status & O_ACCMODE == O_WRONLY || eout.status & O_ACCMODE == O_RDONLY || eout.status & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let (Object::File(fin), Object::File(fout)) = (ein.object, eout.object) else { return Err(Errno::EINVAL) };
    let regular = |proc: &Process, f: &OpenFile| match f.kind {
        FileKind::Host { dir, seekable, .. } => if dir { Err(Errno::EISDIR) } else if seekable { Ok(()) } else { Err(Errno::EINVAL) },
        FileKind::Mem(ino) => match proc.vfs.nodes[ino].kind {
            NodeKind::File(_) => Ok(()),
            NodeKind::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        },
        _ => Err(Errno::EINVAL),
    };
    regular(proc, &fin)?;
    regular(proc, &fout)?;
    let mut pin = if off_in != 0 { UserPtr(off_in).read::<u64, _>(p)? } else { fin.pos.get() };
    let mut pout = if off_out != 0 { UserPtr(off_out).read::<u64, _>(p)? } else { fout.pos.get() };
    let mut chunk = Vec::new();
    chunk.try_reserve_exact(64 << 10).map_err(|_| Errno::ENOMEM)?;
    chunk.resize(64 << 10, 0);
    let mut done = 0u64;
    while done < len {
        let want = ((len - done) as usize).min(chunk.len());
        let got = match pread_k(proc, p, &fin, pin, &mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n as usize,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let put = match pwrite_k(proc, p, &fout, pout, &chunk[..got]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        pin += put;
        pout += put;
        done += put;
        if (put as usize) < got {
            break;
        }
    }
    if off_in != 0 { UserPtr(off_in).write(p, &pin)? } else { fin.pos.set(pin) }
    if off_out != 0 { UserPtr(off_out).write(p, &pout)? } else { fout.pos.set(pout) }
    Ok(done)
}
