//! Shared host directories (DESIGN.md §7) and the [`Port::File`] hypercall.
//!
//! The program sees host directories the monitor shares: by default the
//! current directory at its own path, more with `-v HOST:GUEST[:ro]`. A
//! File call names a path relative to a share's root, or a handle: a host
//! descriptor the guest opened. Results are Linux's (the host is Linux, so
//! a host errno is the guest's errno), as `ret` = value or -errno.
//!
//! Path safety, the point of this module:
//! - Every path is resolved by openat2(share root, path, RESOLVE_BENEATH |
//!   RESOLVE_NO_MAGICLINKS): a `..` or a symlink (absolute, or relative and
//!   climbing) that would leave the share fails. openat2 says EXDEV; the
//!   guest is told EACCES (EXDEV would read as a cross-device rename).
//! - Operations on the object a path names (stat, readlink, access, chmod,
//!   chown, utimens, truncate, open) open it with openat2, O_PATH (with
//!   O_NOFOLLOW for the lstat-like variants, which then names a final
//!   symlink itself) and act on that descriptor (`*at(fd, "",
//!   AT_EMPTY_PATH)`), so nothing is resolved again outside openat2.
//! - Operations on a name (mkdir, unlink, rename, link, symlink) open the
//!   parent directory with openat2 and apply the `*at` call to the final
//!   component alone: one name, never `.` or `..`, no slash, which these
//!   calls never follow.
//! - On a read-only share the host never opens a file for writing and no
//!   modifying call is made; such requests answer EROFS, in Linux's order
//!   of errors where that is cheap (mkdir of an existing name is EEXIST,
//!   open O_RDONLY of a missing file ENOENT, with O_CREAT EROFS).
//!
//! Guest addresses are checked by [`GuestMemory`]; a bad one ends the VM.
//!
//! [`Port::File`]: abi::hc::Port::File

use crate::guest_mem::{BadAccess, GuestMemory};
use crate::host;
use abi::boot::{BootInfo, MAX_SHARES};
use abi::hc::{File, FileOp};
use abi::linux::Timespec;
use abi::GuestPhys;
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Most host files the guest may hold open at once (EMFILE beyond).
pub const MAX_HANDLES: usize = 4096;
/// Most bytes one Read, Write, Getdents or Readlink moves.
const MAX_IO: u64 = 16 << 20;
/// Linux's PATH_MAX, counting the NUL: a path of this many bytes is too long.
const PATH_MAX: u64 = 4096;
/// The longest guest path of a share ([`abi::boot::Share::guest_path`], less a NUL).
pub const GUEST_PATH_MAX: usize = 511;
/// Size of Linux's x86-64 `struct statfs`.
const STATFS_SIZE: u64 = 120;
/// `f_flags` of struct statfs: mounted read-only.
const ST_RDONLY: u64 = 1;

/// Linux's O_ACCMODE (musl's includes O_PATH).
const ACCMODE: i32 = 3;

/// Open flags the guest may pass; others answer EINVAL. O_NOCTTY and
/// O_LARGEFILE are accepted and have no effect (the host always gets
/// O_NOCTTY and O_CLOEXEC).
const OPEN_FLAGS: i32 = ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_PATH
    | libc::O_TMPFILE
    | libc::O_NONBLOCK
    | libc::O_CLOEXEC
    | libc::O_NOCTTY
    | libc::O_LARGEFILE
    | libc::O_SYNC
    | libc::O_DSYNC;

// ---------------------------------------------------------------------------
// The command line: which directories are shared, and where.

/// A directory to share, as the command line asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSpec {
    pub host: PathBuf,
    /// Absolute and normalized (see [`normalize_guest`]).
    pub guest: Vec<u8>,
    pub read_only: bool,
    /// The current directory, shared by default: if it cannot be opened it
    /// is left out with a warning instead of failing the run.
    pub cwd: bool,
    /// The host's root under the guest's private mounts (--host-root): it
    /// shows where the in-memory tree has nothing of its own.
    pub under: bool,
}

/// A bad share on the command line: a usage error (exit status 2).
#[derive(Debug, Error)]
pub enum ShareError {
    #[error("-v {arg}: expected HOST:GUEST or HOST:GUEST:ro")]
    Syntax { arg: String },
    #[error("-v {arg}: unknown option {opt:?} after GUEST (only :ro and :rw)")]
    Option { arg: String, opt: String },
    #[error("-v {arg}: {problem}")]
    Guest { arg: String, problem: GuestPathProblem },
    #[error("-v {arg}: {host}: {}", io_message(err))]
    Host { arg: String, host: String, err: std::io::Error },
    #[error("-v {arg}: {host}: not a directory")]
    NotDir { arg: String, host: String },
    #[error("-v {arg}: {guest} is shared twice")]
    Twice { arg: String, guest: String },
    #[error("too many shared directories: at most {MAX_SHARES}, the current directory counting as one unless --no-cwd is given")]
    TooMany,
}

/// An I/O error as a shell says it ("No such file or directory").
fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GuestPathProblem {
    #[error("the guest path must be absolute")]
    NotAbsolute,
    #[error("the guest path may not contain '..'")]
    DotDot,
    #[error("the guest path is longer than {GUEST_PATH_MAX} bytes")]
    TooLong,
}

/// Makes an absolute guest path canonical lexically: `//` and `.` go,
/// `..` is refused (what it means depends on symlinks in the guest).
pub fn normalize_guest(p: &[u8]) -> Result<Vec<u8>, GuestPathProblem> {
    if p.first() != Some(&b'/') {
        return Err(GuestPathProblem::NotAbsolute);
    }
    let mut out = Vec::with_capacity(p.len());
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(GuestPathProblem::DotDot),
            c => {
                out.push(b'/');
                out.extend_from_slice(c);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    if out.len() > GUEST_PATH_MAX {
        return Err(GuestPathProblem::TooLong);
    }
    Ok(out)
}

/// Parses one `-v HOST:GUEST[:ro|:rw]` (neither path may contain ':').
pub fn parse_volume(arg: &OsStr) -> Result<ShareSpec, ShareError> {
    let shown = || arg.to_string_lossy().into_owned();
    let parts: Vec<&[u8]> = arg.as_bytes().split(|&b| b == b':').collect();
    if !(2..=3).contains(&parts.len()) || parts[0].is_empty() || parts[1].is_empty() {
        return Err(ShareError::Syntax { arg: shown() });
    }
    let read_only = match parts.get(2).copied() {
        None | Some(b"rw") => false,
        Some(b"ro") => true,
        Some(opt) => return Err(ShareError::Option { arg: shown(), opt: String::from_utf8_lossy(opt).into_owned() }),
    };
    let guest = normalize_guest(parts[1]).map_err(|problem| ShareError::Guest { arg: shown(), problem })?;
    Ok(ShareSpec { host: PathBuf::from(OsStr::from_bytes(parts[0])), guest, read_only, cwd: false, under: false })
}

/// The shares in the order the guest numbers them: the current directory
/// (read-write, at its own path) unless `no_cwd` or a `-v` names its path,
/// then each `-v` in command-line order. A current directory whose path
/// is too long for a share is not shared (with a warning).
pub fn plan_shares<S: AsRef<OsStr>>(volumes: &[S], no_cwd: bool, cwd: Option<&Path>) -> Result<Vec<ShareSpec>, ShareError> {
    let mut vols: Vec<ShareSpec> = Vec::new();
    for v in volumes {
        let s = parse_volume(v.as_ref())?;
        if vols.iter().any(|o| o.guest == s.guest) {
            let guest = String::from_utf8_lossy(&s.guest).into_owned();
            return Err(ShareError::Twice { arg: v.as_ref().to_string_lossy().into_owned(), guest });
        }
        vols.push(s);
    }
    let mut out = Vec::new();
    if let (false, Some(cwd)) = (no_cwd, cwd) {
        match normalize_guest(cwd.as_os_str().as_bytes()) {
            Ok(guest) if !vols.iter().any(|v| v.guest == guest) => {
                out.push(ShareSpec { host: cwd.to_path_buf(), guest, read_only: false, cwd: true, under: false })
            }
            Ok(_) => {}
            Err(p) => eprintln!("uk-run: warning: the current directory is not shared: {p}"),
        }
    }
    out.extend(vols);
    if out.len() > MAX_SHARES {
        return Err(ShareError::TooMany);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Serving the File hypercall.

struct ShareDir {
    /// The host directory, O_PATH.
    dir: OwnedFd,
    read_only: bool,
    under: bool,
    guest: Vec<u8>,
}

impl ShareDir {
    /// Opens `path` beneath the share. A symlink on the way that openat2
    /// will not follow (absolute, or climbing out) is followed here when it
    /// leads back into the share, as the guest sees the share at `guest`;
    /// anywhere else answers EACCES.
    fn open(&self, path: &GuestPath, flags: i32, mode: u32) -> R<OwnedFd> {
        match open_beneath(self.dir.as_fd(), &path.c(), flags, mode) {
            Err(Fail::Errno(libc::EXDEV)) => {
                // O_CREAT|O_EXCL does not follow a final symlink either.
                let excl = flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL;
                let real = self.canonical(&path.0, flags & libc::O_NOFOLLOW == 0 && !excl)?;
                match open_beneath(self.dir.as_fd(), &GuestPath(real).c(), flags, mode) {
                    Err(Fail::Errno(libc::EXDEV)) => err(libc::EACCES),
                    r => r,
                }
            }
            r => r,
        }
    }

    /// `path` with its symlinks resolved, relative to the share's root;
    /// the last component's only if `follow_last`.
    fn canonical(&self, path: &[u8], follow_last: bool) -> R<Vec<u8>> {
        let mut done: Vec<Vec<u8>> = Vec::new();
        let mut todo: std::collections::VecDeque<Vec<u8>> = path.split(|&b| b == b'/').map(|c| c.to_vec()).collect();
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            match c.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if done.pop().is_none() {
                        return err(libc::EACCES);
                    }
                    continue;
                }
                _ => {}
            }
            let last = todo.iter().all(|t| t.is_empty() || t == b".");
            // The directory so far holds no symlink: openat2 opens it.
            let dir = open_beneath(self.dir.as_fd(), &GuestPath(done.join(&b'/')).c(), libc::O_PATH | libc::O_DIRECTORY, 0)?;
            let name = c_bytes(&c);
            let st = match lstat_at(dir.as_fd(), &name)? {
                Some(st) => st,
                None if last => {
                    done.push(c);
                    continue;
                }
                None => return err(libc::ENOENT),
            };
            if !is(&st, libc::S_IFLNK) || (last && !follow_last) {
                done.push(c);
                continue;
            }
            links += 1;
            if links > 40 {
                return err(libc::ELOOP);
            }
            let mut target = vec![0u8; 4096];
            // SAFETY: target is a buffer of its length; name is one component of dir.
            let n = sys(|| unsafe { libc::readlinkat(dir.as_raw_fd(), name.as_ptr(), target.as_mut_ptr() as *mut libc::c_char, target.len()) } as i64)? as usize;
            target.truncate(n);
            let mut rest: std::collections::VecDeque<Vec<u8>> = target.split(|&b| b == b'/').map(|c| c.to_vec()).collect();
            if target.first() == Some(&b'/') {
                // A guest path: into this share, or nowhere it can reach.
                let inside = if self.guest == b"/" {
                    // Shared at the root: every absolute path is inside.
                    Some(target.as_slice())
                } else {
                    target.strip_prefix(self.guest.as_slice()).filter(|r| r.is_empty() || r[0] == b'/')
                };
                let Some(r) = inside else { return err(libc::EACCES) };
                done.clear();
                rest = r.split(|&b| b == b'/').map(|c| c.to_vec()).collect();
            }
            while let Some(t) = rest.pop_back() {
                todo.push_front(t);
            }
        }
        Ok(done.join(&b'/'))
    }
}

struct Handle {
    fd: OwnedFd,
    share: u32,
    /// Opened O_PATH: only fstat, seek and close work on it.
    path_only: bool,
    /// Opened for writing (never on a read-only share).
    writable: bool,
    /// Its metadata may not change (fchmod, fchown, futimens answer EROFS):
    /// on a read-only share, or the program's own file, which may lie
    /// outside every share.
    read_only: bool,
}

/// The shared directories and the host files the guest holds open.
pub struct Files {
    shares: Vec<ShareDir>,
    handles: Vec<Option<Handle>>,
}

/// Why an operation failed: an errno for the guest, or a bad guest
/// address, which ends the VM.
#[derive(Debug, Error)]
enum Fail {
    #[error("errno {0}")]
    Errno(i32),
    #[error(transparent)]
    Guest(#[from] BadAccess),
}

type R<T> = Result<T, Fail>;

fn err<T>(e: i32) -> R<T> {
    Err(Fail::Errno(e))
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// openat(dir, name, flags) (a plain open: no O_CREAT), as an owned descriptor.
fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> R<OwnedFd> {
    // SAFETY: name is NUL-terminated and dir is open; the result is a new descriptor or -1.
    let r = sys(|| unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) } as i64)?;
    // SAFETY: r is a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Runs a system call until it is not interrupted; its result, or the errno.
fn sys(mut f: impl FnMut() -> i64) -> R<i64> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r);
        }
        match last_errno() {
            libc::EINTR => continue,
            e => return err(e),
        }
    }
}

/// Linux's `struct open_how` (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2 beneath `dir`: the one way a guest path is resolved. An escape
/// answers EXDEV (see ShareDir::open).
fn open_beneath(dir: BorrowedFd, path: &CStr, flags: i32, mode: u32) -> R<OwnedFd> {
    // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC.
    let noctty = if flags & libc::O_PATH == 0 { libc::O_NOCTTY } else { 0 };
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC | noctty) as u64,
        mode: mode as u64,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // RESOLVE_BENEATH answers EAGAIN when a concurrent rename makes `..`
    // unsafe to check; it asks to be retried.
    for _ in 0..16 {
        // SAFETY: path is NUL-terminated, how is a valid open_how of the size given.
        let r = unsafe {
            libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), path.as_ptr(), &how, std::mem::size_of::<OpenHow>())
        };
        if r >= 0 {
            // SAFETY: r is a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as i32) });
        }
        match last_errno() {
            libc::EAGAIN | libc::EINTR => continue,
            e => return err(e),
        }
    }
    err(libc::EAGAIN)
}

fn fstat(fd: BorrowedFd) -> R<libc::stat> {
    // SAFETY: st is a valid out-pointer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; fd is open.
    sys(|| unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } as i64)?;
    Ok(st)
}

/// lstat of one name in `dir`; None if it does not exist.
fn lstat_at(dir: BorrowedFd, name: &CStr) -> R<Option<libc::stat>> {
    // SAFETY: st is a valid out-pointer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated and a single component (never followed).
    match sys(|| unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } as i64) {
        Ok(_) => Ok(Some(st)),
        Err(Fail::Errno(libc::ENOENT)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is(st: &libc::stat, kind: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == kind
}

/// The empty path, for `*at(fd, "", AT_EMPTY_PATH)`.
const EMPTY: &CStr = c"";

/// The last component of a path, for operations on a name.
enum Last {
    /// The path was the share's root.
    Root,
    Dot,
    DotDot,
    Name(CString),
}

/// A path split for an operation on a name: its directory (opened beneath
/// the share) and its last component.
struct Parent {
    dir: OwnedFd,
    last: Last,
    /// The path ended in '/'.
    slash: bool,
}

impl Parent {
    fn name(&self) -> Option<&CStr> {
        match &self.last {
            Last::Name(n) => Some(n),
            _ => None,
        }
    }
}

/// A checked guest path: relative, no NUL, shorter than PATH_MAX.
struct GuestPath(Vec<u8>);

impl GuestPath {
    fn c(&self) -> CString {
        // "" is the share's root.
        CString::new(if self.0.is_empty() { b".".to_vec() } else { self.0.clone() }).expect("checked: no NUL")
    }
}

fn c_bytes(b: &[u8]) -> CString {
    CString::new(b).expect("checked: no NUL")
}

impl Files {
    /// Opens the shared directories (a missing HOST or one that is not a
    /// directory is a usage error) and raises the soft RLIMIT_NOFILE so
    /// that [`MAX_HANDLES`] host files can be open.
    pub fn open(specs: &[ShareSpec]) -> Result<Files, ShareError> {
        let mut shares = Vec::new();
        for s in specs {
            match Self::open_share(s) {
                Ok(dir) => shares.push(dir),
                Err(e) if s.cwd => eprintln!("uk-run: warning: the current directory is not shared: {e}"),
                Err(e) => return Err(e),
            }
        }
        if !shares.is_empty() {
            host::raise_nofile(MAX_HANDLES as u64 + 64);
        }
        Ok(Files { shares, handles: Vec::new() })
    }

    fn open_share(s: &ShareSpec) -> Result<ShareDir, ShareError> {
        let arg = || {
            let ro = if s.read_only { ":ro" } else { "" };
            format!("{}:{}{ro}", s.host.display(), String::from_utf8_lossy(&s.guest))
        };
        let host = || s.host.display().to_string();
        match normalize_guest(&s.guest) {
            Ok(g) if g == s.guest => {}
            Ok(_) => return Err(ShareError::Syntax { arg: arg() }),
            Err(problem) => return Err(ShareError::Guest { arg: arg(), problem }),
        }
        let meta = std::fs::metadata(&s.host).map_err(|err| ShareError::Host { arg: arg(), host: host(), err })?;
        if !meta.is_dir() {
            return Err(ShareError::NotDir { arg: arg(), host: host() });
        }
        let path = CString::new(s.host.as_os_str().as_bytes()).map_err(|_| ShareError::Syntax { arg: arg() })?;
        // SAFETY: path is NUL-terminated; a new descriptor is returned or -1.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(ShareError::Host { arg: arg(), host: host(), err: std::io::Error::last_os_error() });
        }
        // SAFETY: fd is a new descriptor that nothing else owns.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(ShareDir { dir, read_only: s.read_only, under: s.under, guest: s.guest.clone() })
    }

    /// A read-only handle on the program's own file: /proc/self/exe in the
    /// guest, which busybox execs to run its applets.
    pub fn open_exe(&mut self, file: &std::fs::File) -> Option<u32> {
        let fd = file.try_clone().ok()?;
        let h = Handle { fd: OwnedFd::from(fd), share: 0, path_only: false, writable: false, read_only: true };
        self.add_handle(h).ok().map(|h| h as u32)
    }

    /// Tells the kernel where the shares are, in the order of `File::share`.
    pub fn fill_boot(&self, boot: &mut BootInfo) {
        for (b, s) in boot.shares.iter_mut().zip(&self.shares) {
            b.guest_path = [0; 512];
            b.guest_path[..s.guest.len()].copy_from_slice(&s.guest);
            b.guest_path_len = s.guest.len() as u32;
            b.read_only = s.read_only as u32;
            b.under = s.under as u32;
        }
        boot.nshares = self.shares.len().min(MAX_SHARES) as u64;
    }

    /// Serves one File call: sets `a.ret` (and the OUT fields its op
    /// fills). Only a bad guest address is an error.
    pub fn serve(&mut self, mem: &mut GuestMemory, a: &mut File) -> Result<(), BadAccess> {
        a.ret = match self.dispatch(mem, a) {
            Ok(v) => v,
            Err(Fail::Errno(e)) => -(e as i64),
            Err(Fail::Guest(b)) => return Err(b),
        };
        Ok(())
    }

    fn dispatch(&mut self, mem: &mut GuestMemory, a: &mut File) -> R<i64> {
        let Some(op) = FileOp::from_u32(a.op) else { return err(libc::EINVAL) };
        let by_handle = a.path_len == u64::MAX;
        match op {
            FileOp::Open => self.open_file(mem, a),
            FileOp::Close => match self.handles.get_mut(a.handle as usize).and_then(Option::take) {
                Some(_) => Ok(0),
                None => err(libc::EBADF),
            },
            FileOp::Read => self.read(mem, a),
            FileOp::Sendfile => self.sendfile(a),
            FileOp::Write => self.write(mem, a),
            FileOp::Fstat => {
                a.stat = host::stat_from(&fstat(self.handle(a.handle)?.fd.as_fd())?);
                Ok(0)
            }
            FileOp::Stat => self.stat(mem, a),
            FileOp::Getdents => {
                let fd = self.handle(a.handle)?.fd.as_raw_fd();
                let buf = mem.slice_mut(a.buf, a.len.min(MAX_IO))?;
                // SAFETY: buf is checked guest memory of buf.len() bytes.
                sys(|| unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) })
            }
            FileOp::GetdentsStat => self.getdents_stat(mem, a),
            FileOp::Seek => {
                let fd = self.handle(a.handle)?.fd.as_raw_fd();
                // SAFETY: lseek only moves the descriptor's position.
                sys(|| unsafe { libc::lseek(fd, a.offset, a.flags as i32) })
            }
            FileOp::Mkdir => self.mkdir(mem, a),
            FileOp::Unlink => self.unlink(mem, a),
            FileOp::Rename => self.rename(mem, a),
            FileOp::Link => self.link(mem, a),
            FileOp::Symlink => self.symlink(mem, a),
            FileOp::Readlink => self.readlink(mem, a),
            FileOp::Chmod if by_handle => {
                let fd = self.modifiable_handle(a.handle)?;
                // SAFETY: fchmod changes only the file's mode.
                sys(|| unsafe { libc::fchmod(fd, a.mode & 0o7777) } as i64)
            }
            FileOp::Chmod => self.chmod(mem, a),
            FileOp::Chown if by_handle => {
                let fd = self.modifiable_handle(a.handle)?;
                // SAFETY: fchown changes only the file's owners.
                sys(|| unsafe { libc::fchown(fd, a.mode, a.flags) } as i64)
            }
            FileOp::Chown => self.chown(mem, a),
            FileOp::Utimens => self.utimens(mem, a, by_handle),
            FileOp::Truncate if by_handle => {
                let fd = self.handle(a.handle)?.fd.as_raw_fd();
                // SAFETY: ftruncate changes only the file's size (the host
                // refuses a descriptor not open for writing: EINVAL).
                sys(|| unsafe { libc::ftruncate(fd, a.offset) } as i64)
            }
            FileOp::Truncate => self.truncate(mem, a),
            FileOp::Fsync => {
                let fd = self.handle(a.handle)?.fd.as_raw_fd();
                match a.flags {
                    // SAFETY: fsync and fdatasync only flush the descriptor's file.
                    0 => sys(|| unsafe { libc::fsync(fd) } as i64),
                    // SAFETY: as above.
                    1 => sys(|| unsafe { libc::fdatasync(fd) } as i64),
                    _ => err(libc::EINVAL),
                }
            }
            FileOp::Access => self.access(mem, a),
            FileOp::Fallocate => {
                let fd = self.handle(a.handle)?.fd.as_raw_fd();
                let len = i64::try_from(a.len).or(err(libc::EINVAL))?;
                // SAFETY: fallocate works on the descriptor's file only (the
                // host refuses one not open for writing: EBADF).
                sys(|| unsafe { libc::fallocate(fd, a.flags as i32, a.offset, len) } as i64)
            }
            FileOp::Realpath => self.realpath(mem, a),
            FileOp::Statfs => {
                let s = self.share(a.share)?;
                if a.len < STATFS_SIZE {
                    return err(libc::EINVAL);
                }
                let mut words = [0u64; (STATFS_SIZE / 8) as usize];
                let fd = s.dir.as_raw_fd();
                // SAFETY: words is a buffer of the kernel's struct statfs size.
                sys(|| unsafe { libc::syscall(libc::SYS_fstatfs, fd, words.as_mut_ptr()) })?;
                if s.read_only {
                    words[10] |= ST_RDONLY; // f_flags
                }
                let out = mem.slice_mut(a.buf, STATFS_SIZE)?;
                for (o, w) in out.chunks_exact_mut(8).zip(words) {
                    o.copy_from_slice(&w.to_le_bytes());
                }
                Ok(STATFS_SIZE as i64)
            }
        }
    }

    fn share(&self, i: u32) -> R<&ShareDir> {
        self.shares.get(i as usize).ok_or(Fail::Errno(libc::EINVAL))
    }

    fn handle(&self, h: u32) -> R<&Handle> {
        self.handles.get(h as usize).and_then(Option::as_ref).ok_or(Fail::Errno(libc::EBADF))
    }

    /// A handle for fchmod, fchown and futimens: EROFS on a read-only share
    /// (after EBADF for an O_PATH handle, as Linux checks).
    fn modifiable_handle(&self, h: u32) -> R<i32> {
        let hd = self.handle(h)?;
        if hd.path_only {
            return err(libc::EBADF);
        }
        if hd.read_only {
            return err(libc::EROFS);
        }
        Ok(hd.fd.as_raw_fd())
    }

    /// The checked path at `addr`, `len` bytes.
    fn path(mem: &GuestMemory, addr: GuestPhys, len: u64) -> R<GuestPath> {
        if len >= PATH_MAX {
            return err(libc::ENAMETOOLONG);
        }
        let bytes = mem.slice(addr, len)?;
        if bytes.first() == Some(&b'/') || bytes.contains(&0) {
            return err(libc::EINVAL);
        }
        Ok(GuestPath(bytes.to_vec()))
    }

    /// The share and checked path of `a.share`/`a.path`.
    fn share_path(&self, mem: &GuestMemory, a: &File) -> R<(&ShareDir, GuestPath)> {
        let s = self.share(a.share)?;
        Ok((s, Self::path(mem, a.path, a.path_len)?))
    }

    /// Opens what `path` names as O_PATH (following a final symlink unless
    /// `nofollow`).
    fn object(s: &ShareDir, path: &GuestPath, nofollow: bool) -> R<OwnedFd> {
        let flags = libc::O_PATH | if nofollow { libc::O_NOFOLLOW } else { 0 };
        s.open(path, flags, 0)
    }

    /// Splits `path` into its opened directory and last component.
    fn parent(s: &ShareDir, path: &GuestPath) -> R<Parent> {
        let p = &path.0;
        let end = p.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        let slash = end < p.len();
        let trimmed = &p[..end];
        let (dir, name): (&[u8], &[u8]) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
            None => (b"", trimmed),
        };
        let dir = s.open(&GuestPath(dir.to_vec()), libc::O_PATH | libc::O_DIRECTORY, 0)?;
        let last = match name {
            b"" => Last::Root,
            b"." => Last::Dot,
            b".." => Last::DotDot,
            n => Last::Name(c_bytes(n)),
        };
        Ok(Parent { dir, last, slash })
    }

    fn add_handle(&mut self, h: Handle) -> R<i64> {
        if let Some(i) = self.handles.iter().position(Option::is_none) {
            self.handles[i] = Some(h);
            return Ok(i as i64);
        }
        if self.handles.len() >= MAX_HANDLES {
            return err(libc::EMFILE);
        }
        self.handles.push(Some(h));
        Ok(self.handles.len() as i64 - 1)
    }

    fn open_file(&mut self, mem: &GuestMemory, a: &mut File) -> R<i64> {
        let flags = a.flags as i32;
        if flags & !OPEN_FLAGS != 0 {
            return err(libc::EINVAL);
        }
        if self.handles.len() >= MAX_HANDLES && !self.handles.iter().any(Option::is_none) {
            return err(libc::EMFILE);
        }
        if a.path_len == u64::MAX {
            return self.reopen_dir(a, flags);
        }
        let (s, path) = self.share_path(mem, a)?;
        if flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0 {
            // Linux 6.4 and later.
            return err(libc::EINVAL);
        }
        let flags = flags & !(libc::O_NOCTTY | libc::O_LARGEFILE);
        let acc = flags & ACCMODE;
        let (host_flags, mode, writable) = if flags & libc::O_PATH != 0 {
            // Linux ignores every other flag with O_PATH; openat2 refuses them.
            (flags & (libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW), 0, false)
        } else {
            let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
            let mode = if creates { a.mode & 0o7777 } else { 0 };
            let writes = acc != libc::O_RDONLY || flags & (libc::O_CREAT | libc::O_TRUNC) != 0;
            if s.read_only && writes {
                Self::read_only_open(s, &path, flags)?;
                // The open needs no write: O_CREAT of an existing file, O_TRUNC of a non-regular one.
                (flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC), 0, false)
            } else {
                (flags, mode, acc != libc::O_RDONLY)
            }
        };
        if s.read_only && (writable || host_flags & (ACCMODE | libc::O_CREAT | libc::O_TRUNC) != 0) {
            // Unreachable by the checks above; never let a write through.
            return err(libc::EROFS);
        }
        let fd = s.open(&path, host_flags, mode)?;
        // The guest needs the kind of file it opened: saves it a Fstat call.
        a.stat = host::stat_from(&fstat(fd.as_fd())?);
        let share = a.share;
        self.add_handle(Handle { fd, share, path_only: host_flags & libc::O_PATH != 0, writable, read_only: s.read_only })
    }

    /// open(".") of the open directory `handle`, read-only: the directory
    /// itself, wherever it is now and even once removed, as Linux opens it.
    fn reopen_dir(&mut self, a: &mut File, flags: i32) -> R<i64> {
        let known = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_LARGEFILE | libc::O_NOATIME;
        if flags & ACCMODE != libc::O_RDONLY || flags & !known != 0 {
            return err(libc::EINVAL);
        }
        let h = self.handle(a.handle)?;
        let (share, read_only) = (h.share, h.read_only);
        // On anything but a directory, openat answers ENOTDIR.
        let fd = open_at(h.fd.as_fd(), c".", flags & (libc::O_DIRECTORY | libc::O_PATH | libc::O_NONBLOCK | libc::O_NOATIME))?;
        a.stat = host::stat_from(&fstat(fd.as_fd())?);
        a.share = share;
        self.add_handle(Handle { fd, share, path_only: flags & libc::O_PATH != 0, writable: false, read_only })
    }

    /// Checks an open that asks to write (or create, or truncate) on a
    /// read-only share: the errno Linux gives on a read-only mount, or Ok
    /// if the open can go ahead without writing.
    fn read_only_open(s: &ShareDir, path: &GuestPath, flags: i32) -> R<()> {
        let acc = flags & ACCMODE;
        let creat = flags & libc::O_CREAT != 0;
        let excl = creat && flags & libc::O_EXCL != 0;
        // O_CREAT|O_EXCL does not follow a final symlink.
        let nofollow = flags & libc::O_NOFOLLOW != 0 || excl;
        let probe = libc::O_PATH | (flags & libc::O_DIRECTORY) | if nofollow { libc::O_NOFOLLOW } else { 0 };
        let fd = match s.open(path, probe, 0) {
            Ok(fd) => fd,
            Err(Fail::Errno(libc::ENOENT)) if creat => {
                // Missing: the parent's own errors first, then what creating would say.
                let p = Self::parent(s, path)?;
                return err(if p.slash { libc::EISDIR } else { libc::EROFS });
            }
            Err(e) => return Err(e),
        };
        let st = fstat(fd.as_fd())?;
        if excl {
            return err(libc::EEXIST);
        }
        if is(&st, libc::S_IFLNK) {
            return err(libc::ELOOP);
        }
        if is(&st, libc::S_IFDIR) {
            return if creat || acc != libc::O_RDONLY { err(libc::EISDIR) } else { Ok(()) };
        }
        if acc != libc::O_RDONLY || (is(&st, libc::S_IFREG) && flags & libc::O_TRUNC != 0) {
            return err(libc::EROFS);
        }
        Ok(())
    }

    fn read(&mut self, mem: &mut GuestMemory, a: &mut File) -> R<i64> {
        let fd = self.handle(a.handle)?.fd.as_raw_fd();
        if a.offset < -1 {
            return err(libc::EINVAL);
        }
        let buf = mem.slice_mut(a.buf, a.len.min(MAX_IO))?;
        let (p, n) = (buf.as_mut_ptr() as *mut libc::c_void, buf.len());
        let r = if a.offset == -1 {
            // SAFETY: p..p+n is checked guest memory.
            sys(|| unsafe { libc::read(fd, p, n) } as i64)
        } else {
            // SAFETY: as above.
            sys(|| unsafe { libc::pread(fd, p, n, a.offset) } as i64)
        };
        if a.offset == -1 {
            a.offset = position(fd);
        }
        r
    }

    fn getdents_stat(&mut self, mem: &mut GuestMemory, a: &File) -> R<i64> {
        const STAT: usize = std::mem::size_of::<abi::linux::Stat>();
        let dir = self.handle(a.handle)?.fd.as_fd();
        let fd = dir.as_raw_fd();
        let out = mem.slice_mut(a.buf, a.len.min(MAX_IO))?;
        // Where this listing starts, to go back to when nothing fits.
        let start = position(fd);
        // Records come back with their stats: read no more names than fit.
        let mut names = vec![0u8; (out.len() / 4).max(1024)];
        // SAFETY: names is a buffer of names.len() bytes we own.
        let n = sys(|| unsafe { libc::syscall(libc::SYS_getdents64, fd, names.as_mut_ptr(), names.len()) })? as usize;
        let (mut at, mut w, mut resume) = (0usize, 0usize, None::<i64>);
        while at + 19 <= n {
            let reclen = u16::from_le_bytes([names[at + 16], names[at + 17]]) as usize;
            if reclen < 19 || at + reclen > n {
                break;
            }
            let d_off = i64::from_le_bytes(names[at + 8..at + 16].try_into().expect("8 bytes"));
            if w + reclen + STAT > out.len() {
                if w == 0 {
                    // SAFETY: lseek only moves the directory's position.
                    unsafe { libc::lseek(fd, start, libc::SEEK_SET) };
                    return err(libc::EINVAL);
                }
                break;
            }
            let rec = &names[at..at + reclen];
            let name = &rec[19..];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            out[w..w + reclen].copy_from_slice(rec);
            let st = CString::new(name).ok().and_then(|c| lstat_at(dir, &c).ok().flatten());
            let st = st.map(|s| host::stat_from(&s)).unwrap_or_default();
            out[w + reclen..w + reclen + STAT].copy_from_slice(abi::pod::as_bytes(&st));
            w += reclen + STAT;
            at += reclen;
            resume = Some(d_off);
        }
        if at < n {
            // Entries read but not returned: the next call starts at them.
            if let Some(off) = resume {
                // SAFETY: lseek only moves the directory's position.
                unsafe { libc::lseek(fd, off, libc::SEEK_SET) };
            }
        }
        Ok(w as i64)
    }

    fn sendfile(&mut self, a: &mut File) -> R<i64> {
        let h = self.handle(a.handle)?;
        if h.path_only || a.offset < -1 {
            return err(if h.path_only { libc::EBADF } else { libc::EINVAL });
        }
        let in_fd = h.fd.as_raw_fd();
        let out_fd = if a.flags & abi::hc::SEND_TO_STDIO != 0 {
            match a.mode {
                1 | 2 => a.mode as i32,
                _ => return err(libc::EBADF),
            }
        } else {
            let o = self.handle(a.mode)?;
            if !o.writable {
                return err(libc::EBADF);
            }
            o.fd.as_raw_fd()
        };
        let mut off = a.offset;
        let offp = if off == -1 { std::ptr::null_mut() } else { &mut off as *mut i64 };
        // SAFETY: two descriptors we hold and an optional valid offset pointer.
        let r = sys(|| unsafe { libc::sendfile(out_fd, in_fd, offp, a.len.min(1 << 30) as usize) } as i64);
        a.offset = off;
        r
    }

    fn write(&mut self, mem: &mut GuestMemory, a: &mut File) -> R<i64> {
        let h = self.handle(a.handle)?;
        let fd = h.fd.as_raw_fd();
        if !h.writable {
            // Not open for writing on the host either (which would say EBADF too).
            return err(libc::EBADF);
        }
        if a.offset < -1 {
            return err(libc::EINVAL);
        }
        let buf = mem.slice(a.buf, a.len.min(MAX_IO))?;
        let (p, n) = (buf.as_ptr() as *const libc::c_void, buf.len());
        let r = if a.offset == -1 {
            // SAFETY: p..p+n is checked guest memory.
            sys(|| unsafe { libc::write(fd, p, n) } as i64)
        } else {
            // SAFETY: as above.
            sys(|| unsafe { libc::pwrite(fd, p, n, a.offset) } as i64)
        };
        if a.offset == -1 {
            a.offset = position(fd);
        }
        r
    }

    fn stat(&self, mem: &GuestMemory, a: &mut File) -> R<i64> {
        if a.flags & abi::hc::STAT_ANCESTOR != 0 {
            // Metadata only, of the directories above the share: what a
            // native `ls -la ..` shows. Nothing beneath them is reachable.
            let mut fd = self.share(a.share)?.dir.try_clone().map_err(|e| Fail::Errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
            for _ in 0..a.mode.min(4096) {
                fd = open_at(fd.as_fd(), c"..", libc::O_PATH | libc::O_DIRECTORY)?;
            }
            a.stat = host::stat_from(&fstat(fd.as_fd())?);
            return Ok(0);
        }
        let known = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT;
        if a.flags as i32 & !known != 0 {
            return err(libc::EINVAL);
        }
        let (s, path) = self.share_path(mem, a)?;
        let fd = Self::object(s, &path, a.flags as i32 & libc::AT_SYMLINK_NOFOLLOW != 0)?;
        a.stat = host::stat_from(&fstat(fd.as_fd())?);
        Ok(0)
    }

    fn realpath(&self, mem: &mut GuestMemory, a: &File) -> R<i64> {
        let real = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}")).map_err(|e| Fail::Errno(e.raw_os_error().unwrap_or(libc::EIO)));
        let (s, target) = if a.path_len == u64::MAX {
            // Where an open directory is now (renames move it; removed: ENOENT).
            let h = self.handle(a.handle)?;
            let t = real(h.fd.as_raw_fd())?;
            if t.as_os_str().as_bytes().ends_with(b" (deleted)") {
                return err(libc::ENOENT);
            }
            (self.share(h.share)?, t)
        } else {
            let (s, path) = self.share_path(mem, a)?;
            let fd = Self::object(s, &path, false)?;
            (s, real(fd.as_raw_fd())?)
        };
        let root = real(s.dir.as_raw_fd())?;
        // Beneath the share, as openat2 resolved it.
        let rel = target.strip_prefix(&root).map_err(|_| Fail::Errno(libc::EACCES))?;
        let rel = rel.as_os_str().as_bytes();
        let buf = mem.slice_mut(a.buf, a.len.min(MAX_IO))?;
        if rel.len() > buf.len() {
            return err(libc::ENAMETOOLONG);
        }
        buf[..rel.len()].copy_from_slice(rel);
        Ok(rel.len() as i64)
    }

    fn readlink(&self, mem: &mut GuestMemory, a: &File) -> R<i64> {
        if a.len == 0 {
            return err(libc::EINVAL);
        }
        let (s, path) = self.share_path(mem, a)?;
        let fd = Self::object(s, &path, true)?;
        if !is(&fstat(fd.as_fd())?, libc::S_IFLNK) {
            return err(libc::EINVAL);
        }
        let buf = mem.slice_mut(a.buf, a.len.min(MAX_IO))?;
        let (p, n) = (buf.as_mut_ptr() as *mut libc::c_char, buf.len());
        // SAFETY: p..p+n is checked guest memory; fd is the symlink itself.
        sys(|| unsafe { libc::readlinkat(fd.as_raw_fd(), EMPTY.as_ptr(), p, n) } as i64)
    }

    fn access(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        let flags = a.flags as i32;
        if flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 || a.mode & !7 != 0 {
            return err(libc::EINVAL);
        }
        let (s, path) = self.share_path(mem, a)?;
        let fd = Self::object(s, &path, flags & libc::AT_SYMLINK_NOFOLLOW != 0)?;
        if s.read_only && a.mode & libc::W_OK as u32 != 0 {
            let st = fstat(fd.as_fd())?;
            if is(&st, libc::S_IFREG) || is(&st, libc::S_IFDIR) || is(&st, libc::S_IFLNK) {
                return err(libc::EROFS);
            }
        }
        let flags = (flags & !libc::AT_SYMLINK_NOFOLLOW) | libc::AT_EMPTY_PATH;
        // SAFETY: fd is open; the path is empty (the descriptor itself).
        sys(|| unsafe { libc::syscall(libc::SYS_faccessat2, fd.as_raw_fd(), EMPTY.as_ptr(), a.mode, flags) })
    }

    /// The object of a path for chmod, chown, utimens: its descriptor, or
    /// EROFS on a read-only share once it is known to exist.
    fn modifiable_object(&self, mem: &GuestMemory, a: &File, nofollow: bool) -> R<OwnedFd> {
        let (s, path) = self.share_path(mem, a)?;
        let fd = Self::object(s, &path, nofollow)?;
        if s.read_only {
            return err(libc::EROFS);
        }
        Ok(fd)
    }

    fn chmod(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        let flags = a.flags as i32;
        if flags & !libc::AT_SYMLINK_NOFOLLOW != 0 {
            return err(libc::EINVAL);
        }
        let fd = self.modifiable_object(mem, a, flags != 0)?;
        let mode = a.mode & 0o7777;
        // SAFETY: fd is open; the path is empty (the descriptor itself).
        let r = sys(|| unsafe { libc::syscall(libc::SYS_fchmodat2, fd.as_raw_fd(), EMPTY.as_ptr(), mode, flags | libc::AT_EMPTY_PATH) });
        match r {
            Err(Fail::Errno(libc::ENOSYS)) => {
                // Before Linux 6.6: through the descriptor's /proc link.
                if is(&fstat(fd.as_fd())?, libc::S_IFLNK) {
                    return err(libc::EOPNOTSUPP);
                }
                let proc = c_bytes(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes());
                // SAFETY: proc is NUL-terminated; it names exactly the open object.
                sys(|| unsafe { libc::chmod(proc.as_ptr(), mode) } as i64)
            }
            r => r,
        }
    }

    fn chown(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        if a.offset & !(libc::AT_SYMLINK_NOFOLLOW as i64) != 0 {
            return err(libc::EINVAL);
        }
        let fd = self.modifiable_object(mem, a, a.offset != 0)?;
        // SAFETY: fd is open; the path is empty (the descriptor itself, a symlink for lchown).
        sys(|| unsafe { libc::fchownat(fd.as_raw_fd(), EMPTY.as_ptr(), a.mode, a.flags, libc::AT_EMPTY_PATH) } as i64)
    }

    fn utimens(&self, mem: &GuestMemory, a: &File, by_handle: bool) -> R<i64> {
        let times = if a.buf.0 == 0 {
            None
        } else {
            let t: [Timespec; 2] = mem.read(a.buf)?;
            let ok = |ns: i64| (0..1_000_000_000).contains(&ns) || ns == libc::UTIME_NOW || ns == libc::UTIME_OMIT;
            if !ok(t[0].tv_nsec) || !ok(t[1].tv_nsec) {
                return err(libc::EINVAL);
            }
            Some(t.map(|t| libc::timespec { tv_sec: t.tv_sec, tv_nsec: t.tv_nsec }))
        };
        let tp = times.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
        if by_handle {
            let fd = self.modifiable_handle(a.handle)?;
            // SAFETY: a NULL path works on the descriptor (futimens); tp is NULL or two timespecs.
            return sys(|| unsafe { libc::utimensat(fd, std::ptr::null(), tp, 0) } as i64);
        }
        let flags = a.flags as i32;
        if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
            return err(libc::EINVAL);
        }
        let fd = self.modifiable_object(mem, a, flags & libc::AT_SYMLINK_NOFOLLOW != 0)?;
        // SAFETY: the path is empty (the descriptor itself); tp is NULL or two timespecs.
        sys(|| unsafe { libc::utimensat(fd.as_raw_fd(), EMPTY.as_ptr(), tp, libc::AT_EMPTY_PATH) } as i64)
    }

    fn truncate(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        if a.offset < 0 {
            return err(libc::EINVAL);
        }
        let (s, path) = self.share_path(mem, a)?;
        let st = fstat(Self::object(s, &path, false)?.as_fd())?;
        if is(&st, libc::S_IFDIR) {
            return err(libc::EISDIR);
        }
        if !is(&st, libc::S_IFREG) {
            return err(libc::EINVAL);
        }
        if s.read_only {
            return err(libc::EROFS);
        }
        let fd = s.open(&path, libc::O_WRONLY | libc::O_NONBLOCK, 0)?;
        // SAFETY: ftruncate changes only the size of the file just opened.
        sys(|| unsafe { libc::ftruncate(fd.as_raw_fd(), a.offset) } as i64)
    }

    fn mkdir(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        let (s, path) = self.share_path(mem, a)?;
        let p = Self::parent(s, &path)?;
        let Some(name) = p.name() else { return err(libc::EEXIST) };
        if s.read_only {
            return err(if lstat_at(p.dir.as_fd(), name)?.is_some() { libc::EEXIST } else { libc::EROFS });
        }
        // SAFETY: name is one component in the opened parent.
        sys(|| unsafe { libc::mkdirat(p.dir.as_raw_fd(), name.as_ptr(), (a.mode & 0o7777) as libc::mode_t) } as i64)
    }

    fn unlink(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        let flags = a.flags as i32;
        if flags & !libc::AT_REMOVEDIR != 0 {
            return err(libc::EINVAL);
        }
        let rmdir = flags != 0;
        let (s, path) = self.share_path(mem, a)?;
        let p = Self::parent(s, &path)?;
        let name = match (&p.last, rmdir) {
            (Last::Name(n), _) => n,
            (Last::Dot, true) => return err(libc::EINVAL),
            (Last::DotDot, true) => return err(libc::ENOTEMPTY),
            (Last::Root, true) => return err(libc::EBUSY),
            (_, false) => return err(libc::EISDIR),
        };
        if s.read_only {
            return err(libc::EROFS);
        }
        if p.slash && !rmdir {
            return err(match lstat_at(p.dir.as_fd(), name)? {
                None => libc::ENOENT,
                Some(st) if is(&st, libc::S_IFDIR) => libc::EISDIR,
                Some(_) => libc::ENOTDIR,
            });
        }
        // SAFETY: name is one component in the opened parent.
        sys(|| unsafe { libc::unlinkat(p.dir.as_raw_fd(), name.as_ptr(), flags) } as i64)
    }

    fn rename(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        let flags = a.flags;
        if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0
            || flags == libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE
        {
            return err(libc::EINVAL);
        }
        let (s, path) = self.share_path(mem, a)?;
        let s2 = self.share(a.share2)?;
        let path2 = Self::path(mem, a.path2, a.path2_len)?;
        let (p, p2) = (Self::parent(s, &path)?, Self::parent(s2, &path2)?);
        if a.share != a.share2 {
            return err(libc::EXDEV);
        }
        let (Some(name), Some(name2)) = (p.name(), p2.name()) else { return err(libc::EBUSY) };
        if s.read_only {
            return err(libc::EROFS);
        }
        if p.slash || p2.slash {
            // A trailing slash asks for a directory (which a slash-free *at call cannot say).
            match lstat_at(p.dir.as_fd(), name)? {
                None => return err(libc::ENOENT),
                Some(st) if !is(&st, libc::S_IFDIR) => return err(libc::ENOTDIR),
                Some(_) => {}
            }
        }
        // SAFETY: both names are single components in their opened parents.
        sys(|| unsafe {
            libc::syscall(libc::SYS_renameat2, p.dir.as_raw_fd(), name.as_ptr(), p2.dir.as_raw_fd(), name2.as_ptr(), flags)
        })
    }

    /// The last component of a path where a name is to be created: Linux's
    /// errors for `.`, `..`, the root, an existing name, a trailing slash
    /// and a read-only share, in its order.
    fn new_name<'p>(s: &ShareDir, p: &'p Parent) -> R<&'p CStr> {
        let Some(name) = p.name() else { return err(libc::EEXIST) };
        if lstat_at(p.dir.as_fd(), name)?.is_some() {
            return err(libc::EEXIST);
        }
        if p.slash {
            return err(libc::ENOENT);
        }
        if s.read_only {
            return err(libc::EROFS);
        }
        Ok(name)
    }

    fn link(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        let flags = a.flags as i32;
        if flags & !libc::AT_SYMLINK_FOLLOW != 0 {
            return err(libc::EINVAL);
        }
        let (s, path) = self.share_path(mem, a)?;
        let s2 = self.share(a.share2)?;
        let path2 = Self::path(mem, a.path2, a.path2_len)?;
        let p = Self::parent(s, &path)?;
        let follow = flags != 0 || p.slash;
        // The old name: followed (through openat2) or the name itself.
        let old = if follow {
            let fd = Self::object(s, &path, false)?;
            if is(&fstat(fd.as_fd())?, libc::S_IFDIR) {
                return err(libc::EPERM);
            }
            if p.slash {
                return err(libc::ENOTDIR);
            }
            Some(fd)
        } else {
            match p.name() {
                None => return err(libc::EPERM),
                Some(n) if lstat_at(p.dir.as_fd(), n)?.is_none() => return err(libc::ENOENT),
                Some(_) => None,
            }
        };
        let p2 = Self::parent(s2, &path2)?;
        let name2 = Self::new_name(s2, &p2)?;
        if a.share != a.share2 {
            return err(libc::EXDEV);
        }
        let dir2 = p2.dir.as_raw_fd();
        match (old, p.name()) {
            (None, Some(name)) => {
                // SAFETY: both names are single components in their opened parents; not followed.
                sys(|| unsafe { libc::linkat(p.dir.as_raw_fd(), name.as_ptr(), dir2, name2.as_ptr(), 0) } as i64)
            }
            (Some(fd), _) => {
                // SAFETY: the old file is the descriptor itself (needs CAP_DAC_READ_SEARCH).
                match sys(|| unsafe { libc::linkat(fd.as_raw_fd(), EMPTY.as_ptr(), dir2, name2.as_ptr(), libc::AT_EMPTY_PATH) } as i64) {
                    Err(Fail::Errno(libc::ENOENT)) => {
                        // Unprivileged: through the descriptor's /proc link, which names exactly it.
                        let proc = c_bytes(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_bytes());
                        // SAFETY: proc is NUL-terminated; name2 is one component in its opened parent.
                        sys(|| unsafe {
                            libc::linkat(libc::AT_FDCWD, proc.as_ptr(), dir2, name2.as_ptr(), libc::AT_SYMLINK_FOLLOW)
                        } as i64)
                    }
                    r => r,
                }
            }
            (None, None) => err(libc::EPERM),
        }
    }

    fn symlink(&self, mem: &GuestMemory, a: &File) -> R<i64> {
        if a.len >= PATH_MAX {
            return err(libc::ENAMETOOLONG);
        }
        let target = mem.slice(a.buf, a.len)?;
        if target.is_empty() {
            return err(libc::ENOENT);
        }
        if target.contains(&0) {
            return err(libc::EINVAL);
        }
        let target = c_bytes(target);
        let (s, path) = self.share_path(mem, a)?;
        let p = Self::parent(s, &path)?;
        let name = Self::new_name(s, &p)?;
        // SAFETY: target is NUL-terminated; name is one component in the opened parent.
        sys(|| unsafe { libc::symlinkat(target.as_ptr(), p.dir.as_raw_fd(), name.as_ptr()) } as i64)
    }
}

/// A descriptor's position, or -1 where it has none (a pipe).
fn position(fd: i32) -> i64 {
    // SAFETY: lseek(0, SEEK_CUR) only reads the position.
    let r = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    if r < 0 {
        -1
    } else {
        r
    }
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shares: Vec<_> = self.shares.iter().map(|s| (String::from_utf8_lossy(&s.guest), s.read_only)).collect();
        f.debug_struct("Files").field("shares", &shares).field("handles", &self.handles.iter().flatten().count()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::sync::atomic::{AtomicU32, Ordering};

    const PATH: u64 = 0x1_0000;
    const PATH2: u64 = 0x2_0000;
    const BUF: u64 = 0x10_0000;
    const SECRET: &[u8] = b"secret outside the share\n";

    /// A directory tree: base/outside.txt (never to be touched), the
    /// read-write share base/top/share (share 0) and the read-only share
    /// base/top/ro (share 1), and 4 MiB of fake guest memory.
    struct Env {
        base: PathBuf,
        files: Files,
        mem: GuestMemory,
    }

    impl Drop for Env {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.base);
        }
    }

    fn env() -> Env {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir().join(format!("uk-run-files-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("top/share")).unwrap();
        fs::create_dir_all(base.join("top/ro/sub")).unwrap();
        fs::write(base.join("outside.txt"), SECRET).unwrap();
        fs::set_permissions(base.join("outside.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(base.join("top/ro/r.txt"), b"read only\n").unwrap();
        fs::set_permissions(base.join("top/ro/r.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        let specs = [
            ShareSpec { host: base.join("top/share"), guest: b"/work".to_vec(), read_only: false, cwd: false, under: false },
            ShareSpec { host: base.join("top/ro"), guest: b"/data".to_vec(), read_only: true, cwd: false, under: false },
        ];
        let files = Files::open(&specs).unwrap();
        Env { base, files, mem: GuestMemory::new(4 << 20).unwrap() }
    }

    impl Env {
        fn share(&self) -> PathBuf {
            self.base.join("top/share")
        }

        fn ro(&self) -> PathBuf {
            self.base.join("top/ro")
        }

        /// A call of `op` on `path` in `share`.
        fn req(&mut self, op: FileOp, share: u32, path: &str) -> File {
            self.put(PATH, path.as_bytes());
            File { op: op as u32, share, path: GuestPhys(PATH), path_len: path.len() as u64, ..Default::default() }
        }

        /// Adds a second path, for rename and link.
        fn with2(&mut self, mut a: File, share2: u32, path2: &str) -> File {
            self.put(PATH2, path2.as_bytes());
            (a.share2, a.path2, a.path2_len) = (share2, GuestPhys(PATH2), path2.len() as u64);
            a
        }

        fn put(&mut self, at: u64, bytes: &[u8]) {
            self.mem.slice_mut(GuestPhys(at), bytes.len() as u64).unwrap().copy_from_slice(bytes);
        }

        fn get(&self, at: u64, len: usize) -> Vec<u8> {
            self.mem.slice(GuestPhys(at), len as u64).unwrap().to_vec()
        }

        fn run(&mut self, mut a: File) -> File {
            self.files.serve(&mut self.mem, &mut a).expect("good guest addresses");
            a
        }

        fn ret(&mut self, a: File) -> i64 {
            self.run(a).ret
        }

        fn open(&mut self, share: u32, path: &str, flags: i32, mode: u32) -> i64 {
            let mut a = self.req(FileOp::Open, share, path);
            (a.flags, a.mode) = (flags as u32, mode);
            self.ret(a)
        }

        fn write(&mut self, h: i64, data: &[u8], offset: i64) -> File {
            self.put(BUF, data);
            let a = File { buf: GuestPhys(BUF), len: data.len() as u64, offset, ..hop(FileOp::Write, h) };
            self.run(a)
        }

        fn read(&mut self, h: i64, len: u64, offset: i64) -> (File, Vec<u8>) {
            let a = File { buf: GuestPhys(BUF), len, offset, ..hop(FileOp::Read, h) };
            let a = self.run(a);
            let got = if a.ret > 0 { self.get(BUF, a.ret as usize) } else { Vec::new() };
            (a, got)
        }

        fn stat(&mut self, share: u32, path: &str, nofollow: bool) -> File {
            let mut a = self.req(FileOp::Stat, share, path);
            a.flags = if nofollow { libc::AT_SYMLINK_NOFOLLOW as u32 } else { 0 };
            self.run(a)
        }

        /// The file outside every share is as it was.
        fn assert_outside_untouched(&self) {
            let p = self.base.join("outside.txt");
            assert_eq!(fs::read(&p).unwrap(), SECRET);
            let m = fs::metadata(&p).unwrap();
            assert_eq!(m.mode() & 0o7777, 0o644);
            assert_eq!(m.nlink(), 1);
            let names: Vec<_> = fs::read_dir(&self.base).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names.len(), 2, "nothing new beside the shares: {names:?}");
        }
    }

    /// A call of `op` on handle `h`.
    fn hop(op: FileOp, h: i64) -> File {
        File { op: op as u32, handle: h as u32, path_len: u64::MAX, ..Default::default() }
    }

    fn e(errno: i32) -> i64 {
        -(errno as i64)
    }

    fn kind(a: &File) -> u32 {
        a.stat.st_mode & libc::S_IFMT
    }

    #[test]
    fn open_write_read_pread_seek_close() {
        let mut t = env();
        let h = t.open(0, "f.txt", libc::O_CREAT | libc::O_RDWR | libc::O_EXCL, 0o640);
        assert_eq!(h, 0);
        let w = t.write(h, b"hello world", -1);
        assert_eq!((w.ret, w.offset), (11, 11));
        assert_eq!(fs::read(t.share().join("f.txt")).unwrap(), b"hello world");
        assert_eq!(fs::metadata(t.share().join("f.txt")).unwrap().mode() & 0o777, 0o640);
        // pread leaves the position alone.
        let (r, got) = t.read(h, 5, 6);
        assert_eq!((r.ret, got.as_slice(), r.offset), (5, &b"world"[..], 6));
        let (r, _) = t.read(h, 100, -1);
        assert_eq!((r.ret, r.offset), (0, 11), "at the end");
        let mut s = hop(FileOp::Seek, h);
        (s.offset, s.flags) = (0, libc::SEEK_SET as u32);
        assert_eq!(t.ret(s), 0);
        let (r, got) = t.read(h, 5, -1);
        assert_eq!((r.ret, got.as_slice(), r.offset), (5, &b"hello"[..], 5));
        let w = t.write(h, b"HELLO", 0);
        assert_eq!((w.ret, w.offset), (5, 0));
        let f = t.run(hop(FileOp::Fstat, h));
        assert_eq!((f.ret, f.stat.st_size, kind(&f)), (0, 11, libc::S_IFREG));
        assert_eq!(fs::read(t.share().join("f.txt")).unwrap(), b"HELLO world");
        // O_EXCL on an existing file; O_TRUNC.
        assert_eq!(t.open(0, "f.txt", libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o644), e(libc::EEXIST));
        let h2 = t.open(0, "f.txt", libc::O_WRONLY | libc::O_TRUNC | libc::O_APPEND, 0);
        assert_eq!(h2, 1);
        assert_eq!(t.write(h2, b"x", -1).ret, 1);
        assert_eq!(fs::read(t.share().join("f.txt")).unwrap(), b"x");
        // Reading a write-only handle, writing a read-only one.
        assert_eq!(t.read(h2, 1, 0).0.ret, e(libc::EBADF));
        let h3 = t.open(0, "f.txt", libc::O_RDONLY, 0);
        assert_eq!(t.write(h3, b"y", -1).ret, e(libc::EBADF));
        // Handles are reused lowest first.
        assert_eq!(t.ret(hop(FileOp::Close, h)), 0);
        assert_eq!(t.ret(hop(FileOp::Close, h)), e(libc::EBADF));
        assert_eq!(t.open(0, "f.txt", libc::O_RDONLY, 0), 0);
        assert_eq!(t.open(0, "f.txt", libc::O_RDONLY, 0), 3);
        // Fsync, ftruncate, fallocate on a handle.
        let h4 = t.open(0, "f.txt", libc::O_RDWR, 0);
        assert_eq!(t.ret(hop(FileOp::Fsync, h4)), 0);
        let tr = File { offset: 3, ..hop(FileOp::Truncate, h4) };
        assert_eq!(t.ret(tr), 0);
        assert_eq!(fs::metadata(t.share().join("f.txt")).unwrap().len(), 3);
        let fa = File { offset: 0, len: 4096, ..hop(FileOp::Fallocate, h4) };
        assert_eq!(t.ret(fa), 0);
        assert_eq!(fs::metadata(t.share().join("f.txt")).unwrap().len(), 4096);
        // A directory cannot be read; a missing file cannot be opened.
        let d = t.open(0, "", libc::O_RDONLY | libc::O_DIRECTORY, 0);
        assert_eq!(t.read(d, 10, -1).0.ret, e(libc::EISDIR));
        assert_eq!(t.open(0, "missing", libc::O_RDONLY, 0), e(libc::ENOENT));
        assert_eq!(t.open(0, "f.txt", libc::O_RDONLY | libc::O_DIRECTORY, 0), e(libc::ENOTDIR));
        assert_eq!(t.open(0, "f.txt", libc::O_RDONLY | libc::O_DIRECT, 0), e(libc::EINVAL));
    }

    #[test]
    fn getdents_lists_a_directory() {
        let mut t = env();
        fs::create_dir(t.share().join("d")).unwrap();
        for n in ["a", "bb", "ccc"] {
            fs::write(t.share().join("d").join(n), n).unwrap();
        }
        let h = t.open(0, "d", libc::O_RDONLY | libc::O_DIRECTORY, 0);
        assert!(h >= 0);
        let mut names = Vec::new();
        loop {
            let a = t.run(File { buf: GuestPhys(BUF), len: 64, ..hop(FileOp::Getdents, h) });
            assert!(a.ret >= 0, "getdents: {}", a.ret);
            if a.ret == 0 {
                break;
            }
            let buf = t.get(BUF, a.ret as usize);
            let mut at = 0;
            while at < buf.len() {
                let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
                let name = &buf[at + 19..at + reclen];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
                names.push((String::from_utf8(name.to_vec()).unwrap(), buf[at + 18]));
                at += reclen;
            }
        }
        names.sort();
        let want: Vec<(String, u8)> = [(".", libc::DT_DIR), ("..", libc::DT_DIR), ("a", libc::DT_REG), ("bb", libc::DT_REG), ("ccc", libc::DT_REG)]
            .iter()
            .map(|(n, k)| (n.to_string(), *k))
            .collect();
        assert_eq!(names, want);
        // A buffer too small for one record; a file is not a directory.
        let a = t.run(File { buf: GuestPhys(BUF), len: 8, ..hop(FileOp::Getdents, h) });
        assert!(a.ret == 0 || a.ret == e(libc::EINVAL));
        let f = t.open(0, "d/a", libc::O_RDONLY, 0);
        let a = t.run(File { buf: GuestPhys(BUF), len: 4096, ..hop(FileOp::Getdents, f) });
        assert_eq!(a.ret, e(libc::ENOTDIR));
    }

    #[test]
    fn stat_and_lstat() {
        let mut t = env();
        fs::write(t.share().join("f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", t.share().join("l")).unwrap();
        let a = t.stat(0, "l", false);
        assert_eq!((a.ret, kind(&a), a.stat.st_size), (0, libc::S_IFREG, 5));
        assert_eq!(a.stat.st_ino, fs::metadata(t.share().join("f")).unwrap().ino());
        let a = t.stat(0, "l", true);
        assert_eq!((a.ret, kind(&a), a.stat.st_size), (0, libc::S_IFLNK, 1));
        let a = t.stat(0, "", false);
        assert_eq!((a.ret, kind(&a)), (0, libc::S_IFDIR));
        assert_eq!(a.stat.st_ino, fs::metadata(t.share()).unwrap().ino());
        assert_eq!(t.stat(0, "./f/", false).ret, e(libc::ENOTDIR));
        assert_eq!(t.stat(0, "missing", false).ret, e(libc::ENOENT));
        assert_eq!(t.stat(0, "missing/x", true).ret, e(libc::ENOENT));
        let mut a = t.req(FileOp::Stat, 0, "f");
        a.flags = 0x8000_0000;
        assert_eq!(t.ret(a), e(libc::EINVAL));
        // Within the share, `..` is fine.
        fs::create_dir(t.share().join("d")).unwrap();
        assert_eq!(t.stat(0, "d/../f", false).stat.st_size, 5);
    }

    #[test]
    fn mkdir_unlink_rename_link() {
        let mut t = env();
        let mut a = t.req(FileOp::Mkdir, 0, "d/");
        a.mode = 0o750;
        assert_eq!(t.ret(a), 0);
        assert!(t.share().join("d").is_dir());
        assert_eq!(fs::metadata(t.share().join("d")).unwrap().mode() & 0o777, 0o750);
        for p in ["d", ".", "d/..", ""] {
            let a = t.req(FileOp::Mkdir, 0, p);
            assert_eq!(t.ret(a), e(libc::EEXIST), "mkdir {p:?}");
        }
        let a = t.req(FileOp::Mkdir, 0, "no/such");
        assert_eq!(t.ret(a), e(libc::ENOENT));
        fs::write(t.share().join("f"), b"data").unwrap();
        let a = t.req(FileOp::Mkdir, 0, "f/x");
        assert_eq!(t.ret(a), e(libc::ENOTDIR));

        let a = t.req(FileOp::Rename, 0, "d");
        let a = t.with2(a, 0, "e");
        assert_eq!(t.ret(a), 0);
        assert!(t.share().join("e").is_dir() && !t.share().join("d").exists());
        let a = t.req(FileOp::Rename, 0, "f");
        let a = t.with2(a, 0, "e/g");
        assert_eq!(t.ret(a), 0);
        assert_eq!(fs::read(t.share().join("e/g")).unwrap(), b"data");
        let a = t.req(FileOp::Rename, 0, "e/g/");
        let a = t.with2(a, 0, "h");
        assert_eq!(t.ret(a), e(libc::ENOTDIR));
        let mut a = t.req(FileOp::Rename, 0, "e/g");
        a.flags = libc::RENAME_NOREPLACE;
        let a = t.with2(a, 0, "e/g");
        assert_eq!(t.ret(a), e(libc::EEXIST));
        let a = t.req(FileOp::Rename, 0, "e/g");
        let a = t.with2(a, 1, "g");
        assert_eq!(t.ret(a), e(libc::EXDEV));
        let a = t.req(FileOp::Rename, 0, ".");
        let a = t.with2(a, 0, "x");
        assert_eq!(t.ret(a), e(libc::EBUSY));

        let a = t.req(FileOp::Link, 0, "e/g");
        let a = t.with2(a, 0, "g2");
        assert_eq!(t.ret(a), 0);
        assert_eq!(fs::metadata(t.share().join("g2")).unwrap().nlink(), 2);
        let a = t.req(FileOp::Link, 0, "e/g");
        let a = t.with2(a, 0, "g2");
        assert_eq!(t.ret(a), e(libc::EEXIST));
        let a = t.req(FileOp::Link, 0, "e");
        let a = t.with2(a, 0, "e2");
        assert_eq!(t.ret(a), e(libc::EPERM));

        let a = t.req(FileOp::Unlink, 0, "g2/");
        assert_eq!(t.ret(a), e(libc::ENOTDIR));
        let a = t.req(FileOp::Unlink, 0, "g2");
        assert_eq!(t.ret(a), 0);
        assert!(!t.share().join("g2").exists());
        let a = t.req(FileOp::Unlink, 0, "e");
        assert_eq!(t.ret(a), e(libc::EISDIR));
        let mut a = t.req(FileOp::Unlink, 0, "e");
        a.flags = libc::AT_REMOVEDIR as u32;
        assert_eq!(t.ret(a), e(libc::ENOTEMPTY));
        let a = t.req(FileOp::Unlink, 0, "e/g");
        assert_eq!(t.ret(a), 0);
        for (p, want) in [("e/.", libc::EINVAL), ("e/..", libc::ENOTEMPTY), ("", libc::EBUSY), ("e/", 0)] {
            let mut a = t.req(FileOp::Unlink, 0, p);
            a.flags = libc::AT_REMOVEDIR as u32;
            assert_eq!(t.ret(a), e(want), "rmdir {p:?}");
        }
        assert!(!t.share().join("e").exists());
        let a = t.req(FileOp::Unlink, 0, "missing");
        assert_eq!(t.ret(a), e(libc::ENOENT));
    }

    #[test]
    fn symlink_and_readlink() {
        let mut t = env();
        let target = b"some/where/../else";
        t.put(BUF + 0x1000, target);
        let mut a = t.req(FileOp::Symlink, 0, "s");
        (a.buf, a.len) = (GuestPhys(BUF + 0x1000), target.len() as u64);
        assert_eq!(t.ret(a), 0);
        assert_eq!(fs::read_link(t.share().join("s")).unwrap().as_os_str().as_bytes(), target);
        assert_eq!(t.ret(a), e(libc::EEXIST));
        let mut a = t.req(FileOp::Readlink, 0, "s");
        (a.buf, a.len) = (GuestPhys(BUF), 100);
        assert_eq!(t.ret(a), target.len() as i64);
        assert_eq!(t.get(BUF, target.len()), target);
        a.len = 4;
        assert_eq!(t.ret(a), 4, "truncated to the buffer");
        fs::write(t.share().join("f"), b"").unwrap();
        let mut a = t.req(FileOp::Readlink, 0, "f");
        (a.buf, a.len) = (GuestPhys(BUF), 100);
        assert_eq!(t.ret(a), e(libc::EINVAL));
        let mut a = t.req(FileOp::Readlink, 0, "");
        (a.buf, a.len) = (GuestPhys(BUF), 100);
        assert_eq!(t.ret(a), e(libc::EINVAL));
        let mut a = t.req(FileOp::Symlink, 0, "t/");
        (a.buf, a.len) = (GuestPhys(BUF + 0x1000), target.len() as u64);
        assert_eq!(t.ret(a), e(libc::ENOENT));
        let mut a = t.req(FileOp::Symlink, 0, "t");
        (a.buf, a.len) = (GuestPhys(BUF + 0x1000), 0);
        assert_eq!(t.ret(a), e(libc::ENOENT));
    }

    #[test]
    fn chmod_chown_utimens_truncate_access_follow_symlinks_inside() {
        let mut t = env();
        fs::write(t.share().join("f"), b"0123456789").unwrap();
        std::os::unix::fs::symlink("f", t.share().join("l")).unwrap();
        let mut a = t.req(FileOp::Chmod, 0, "l");
        a.mode = 0o600;
        assert_eq!(t.ret(a), 0);
        assert_eq!(fs::metadata(t.share().join("f")).unwrap().mode() & 0o7777, 0o600);
        a.flags = libc::AT_SYMLINK_NOFOLLOW as u32;
        assert_eq!(t.ret(a), e(libc::EOPNOTSUPP));
        let mut a = t.req(FileOp::Truncate, 0, "l");
        a.offset = 4;
        assert_eq!(t.ret(a), 0);
        assert_eq!(fs::read(t.share().join("f")).unwrap(), b"0123");
        let mut a = t.req(FileOp::Truncate, 0, "");
        a.offset = 4;
        assert_eq!(t.ret(a), e(libc::EISDIR));
        let ts = [Timespec { tv_sec: 1_000_000, tv_nsec: 5 }, Timespec { tv_sec: 2_000_000, tv_nsec: 7 }];
        t.mem.write(GuestPhys(BUF), &ts[0]).unwrap();
        t.mem.write(GuestPhys(BUF + 16), &ts[1]).unwrap();
        let mut a = t.req(FileOp::Utimens, 0, "l");
        a.buf = GuestPhys(BUF);
        assert_eq!(t.ret(a), 0);
        let m = fs::metadata(t.share().join("f")).unwrap();
        assert_eq!((m.atime(), m.atime_nsec(), m.mtime(), m.mtime_nsec()), (1_000_000, 5, 2_000_000, 7));
        let uid = m.uid();
        let mut a = t.req(FileOp::Chown, 0, "l");
        (a.mode, a.flags, a.offset) = (uid, u32::MAX, libc::AT_SYMLINK_NOFOLLOW as i64);
        assert_eq!(t.ret(a), 0);
        let mut a = t.req(FileOp::Access, 0, "l");
        a.mode = (libc::R_OK | libc::W_OK) as u32;
        assert_eq!(t.ret(a), 0);
        let mut a = t.req(FileOp::Access, 0, "nope");
        a.mode = libc::F_OK as u32;
        assert_eq!(t.ret(a), e(libc::ENOENT));
        let mut a = t.req(FileOp::Statfs, 0, "");
        (a.buf, a.len) = (GuestPhys(BUF), 120);
        assert_eq!(t.ret(a), 120);
        let flags = u64::from_le_bytes(t.get(BUF + 80, 8).try_into().unwrap());
        assert_eq!(flags & ST_RDONLY, 0);
        a.len = 119;
        assert_eq!(t.ret(a), e(libc::EINVAL));
    }

    #[test]
    fn escapes_are_refused_and_outside_is_untouched() {
        let mut t = env();
        fs::create_dir(t.share().join("a")).unwrap();
        fs::write(t.share().join("f"), b"inside").unwrap();
        let outside = t.base.join("outside.txt");
        std::os::unix::fs::symlink("/etc/passwd", t.share().join("abs")).unwrap();
        std::os::unix::fs::symlink(&outside, t.share().join("absout")).unwrap();
        std::os::unix::fs::symlink("../../..", t.share().join("up")).unwrap();
        std::os::unix::fs::symlink("../../outside.txt", t.share().join("out")).unwrap();
        std::os::unix::fs::symlink("f", t.share().join("l")).unwrap();
        let eacces = e(libc::EACCES);
        let wr = libc::O_RDWR | libc::O_TRUNC | libc::O_CREAT;

        for p in ["../outside.txt", "../../outside.txt", "a/../../../outside.txt", "abs", "absout", "up/etc/passwd", "out", "a/../up/x"] {
            assert_eq!(t.open(0, p, libc::O_RDONLY, 0), eacces, "open {p:?}");
            assert_eq!(t.open(0, p, wr, 0o666), eacces, "open {p:?} for writing");
            assert_eq!(t.stat(0, p, false).ret, eacces, "stat {p:?}");
            let mut a = t.req(FileOp::Chmod, 0, p);
            a.mode = 0o777;
            assert_eq!(t.ret(a), eacces, "chmod {p:?}");
            let mut a = t.req(FileOp::Truncate, 0, p);
            a.offset = 0;
            assert_eq!(t.ret(a), eacces, "truncate {p:?}");
            let a = t.req(FileOp::Utimens, 0, p);
            assert_eq!(t.ret(a), eacces, "utimens {p:?}");
            let mut a = t.req(FileOp::Chown, 0, p);
            (a.mode, a.flags) = (0, 0);
            assert_eq!(t.ret(a), eacces, "chown {p:?}");
            let mut a = t.req(FileOp::Access, 0, p);
            a.mode = libc::F_OK as u32;
            assert_eq!(t.ret(a), eacces, "access {p:?}");
            let mut a = t.req(FileOp::Link, 0, p);
            a.flags = libc::AT_SYMLINK_FOLLOW as u32;
            let a = t.with2(a, 0, "stolen");
            assert_eq!(t.ret(a), eacces, "link -L {p:?}");
        }
        // `..` that leaves the share, in the directory part of a name.
        for p in ["../x", "a/../../x", "up/x", "../../../tmp/x"] {
            let a = t.req(FileOp::Mkdir, 0, p);
            assert_eq!(t.ret(a), eacces, "mkdir {p:?}");
            let a = t.req(FileOp::Unlink, 0, p);
            assert_eq!(t.ret(a), eacces, "unlink {p:?}");
            let a = t.req(FileOp::Rename, 0, "f");
            let a = t.with2(a, 0, p);
            assert_eq!(t.ret(a), eacces, "rename to {p:?}");
            let a = t.req(FileOp::Link, 0, "f");
            let a = t.with2(a, 0, p);
            assert_eq!(t.ret(a), eacces, "link to {p:?}");
            t.put(BUF, b"f");
            let mut a = t.req(FileOp::Symlink, 0, p);
            (a.buf, a.len) = (GuestPhys(BUF), 1);
            assert_eq!(t.ret(a), eacces, "symlink at {p:?}");
        }
        for p in ["../outside.txt", "a/../../outside.txt"] {
            let a = t.req(FileOp::Rename, 0, p);
            let a = t.with2(a, 0, "stolen");
            assert_eq!(t.ret(a), eacces, "rename {p:?}");
            let a = t.req(FileOp::Link, 0, p);
            let a = t.with2(a, 0, "stolen");
            assert_eq!(t.ret(a), eacces, "link {p:?}");
            let a = t.req(FileOp::Unlink, 0, p);
            assert_eq!(t.ret(a), eacces, "unlink {p:?}");
        }
        // The links themselves may be looked at, renamed and removed.
        let a = t.stat(0, "up", true);
        assert_eq!((a.ret, kind(&a)), (0, libc::S_IFLNK));
        let mut a = t.req(FileOp::Readlink, 0, "abs");
        (a.buf, a.len) = (GuestPhys(BUF), 100);
        assert_eq!(t.ret(a), 11);
        let a = t.req(FileOp::Link, 0, "out");
        let a = t.with2(a, 0, "out2");
        assert_eq!(t.ret(a), 0, "a hard link to the symlink itself");
        assert_eq!(t.open(0, "out2", libc::O_RDONLY, 0), eacces);
        let a = t.req(FileOp::Unlink, 0, "out");
        assert_eq!(t.ret(a), 0);
        // O_NOFOLLOW refuses a final symlink, as Linux does; O_PATH opens the link.
        assert_eq!(t.open(0, "l", libc::O_RDONLY | libc::O_NOFOLLOW, 0), e(libc::ELOOP));
        assert_eq!(t.open(0, "absout", libc::O_WRONLY | libc::O_NOFOLLOW, 0), e(libc::ELOOP));
        let h = t.open(0, "absout", libc::O_PATH | libc::O_NOFOLLOW, 0);
        assert!(h >= 0);
        let f = t.run(hop(FileOp::Fstat, h));
        assert_eq!(kind(&f), libc::S_IFLNK);
        assert_eq!(t.read(h, 10, 0).0.ret, e(libc::EBADF));
        assert_eq!(t.write(h, b"x", 0).ret, e(libc::EBADF));
        let mut c = hop(FileOp::Chmod, h);
        c.mode = 0o777;
        assert_eq!(t.ret(c), e(libc::EBADF));
        t.assert_outside_untouched();
        assert_eq!(fs::read(t.share().join("f")).unwrap(), b"inside");
    }

    #[test]
    fn read_only_share_refuses_writes() {
        let mut t = env();
        std::os::unix::fs::symlink("r.txt", t.ro().join("l")).unwrap();
        let rofs = e(libc::EROFS);
        // Opens.
        let h = t.open(1, "r.txt", libc::O_RDONLY, 0);
        assert!(h >= 0);
        assert_eq!(t.read(h, 100, -1).1, b"read only\n");
        assert_eq!(t.write(h, b"x", -1).ret, e(libc::EBADF));
        assert_eq!(t.write(h, b"x", 0).ret, e(libc::EBADF));
        assert_eq!(t.ret(File { offset: 0, ..hop(FileOp::Truncate, h) }), e(libc::EINVAL));
        assert_eq!(t.ret(File { len: 10, ..hop(FileOp::Fallocate, h) }), e(libc::EBADF));
        assert_eq!(t.ret(File { mode: 0o777, ..hop(FileOp::Chmod, h) }), rofs);
        assert_eq!(t.ret(hop(FileOp::Chown, h)), rofs);
        assert_eq!(t.ret(hop(FileOp::Utimens, h)), rofs);
        for (p, flags, want) in [
            ("r.txt", libc::O_WRONLY, rofs),
            ("r.txt", libc::O_RDWR | libc::O_APPEND, rofs),
            ("r.txt", libc::O_RDONLY | libc::O_TRUNC, rofs),
            ("l", libc::O_WRONLY, rofs),
            ("new", libc::O_CREAT | libc::O_WRONLY, rofs),
            ("new", libc::O_CREAT | libc::O_RDONLY, rofs),
            ("new", libc::O_RDONLY, e(libc::ENOENT)),
            ("new", libc::O_WRONLY, e(libc::ENOENT)),
            ("no/new", libc::O_CREAT | libc::O_WRONLY, e(libc::ENOENT)),
            ("r.txt", libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, e(libc::EEXIST)),
            ("l", libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY, e(libc::EEXIST)),
            ("l", libc::O_RDONLY | libc::O_NOFOLLOW, e(libc::ELOOP)),
            ("sub", libc::O_WRONLY, e(libc::EISDIR)),
            ("sub", libc::O_CREAT | libc::O_RDONLY, e(libc::EISDIR)),
            ("r.txt/", libc::O_WRONLY, e(libc::ENOTDIR)),
        ] {
            assert_eq!(t.open(1, p, flags, 0o666), want, "open {p:?} {flags:#o}");
        }
        // O_CREAT without O_EXCL of an existing file needs no write.
        assert!(t.open(1, "r.txt", libc::O_CREAT | libc::O_RDONLY, 0o666) >= 0);
        assert!(t.open(1, "sub", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_TRUNC, 0) >= 0);
        let r = t.open(1, "r.txt", libc::O_PATH | libc::O_WRONLY, 0);
        assert!(r >= 0, "O_PATH ignores the access mode: {r}");
        // Operations on names and objects.
        let mut a = t.req(FileOp::Mkdir, 1, "newdir");
        a.mode = 0o777;
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Mkdir, 1, "sub");
        assert_eq!(t.ret(a), e(libc::EEXIST));
        let a = t.req(FileOp::Unlink, 1, "r.txt");
        assert_eq!(t.ret(a), rofs);
        let mut a = t.req(FileOp::Unlink, 1, "sub");
        a.flags = libc::AT_REMOVEDIR as u32;
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Rename, 1, "r.txt");
        let a = t.with2(a, 1, "s.txt");
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Link, 1, "r.txt");
        let a = t.with2(a, 1, "s.txt");
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Link, 1, "r.txt");
        let a = t.with2(a, 0, "s.txt");
        assert_eq!(t.ret(a), e(libc::EXDEV));
        t.put(BUF, b"r.txt");
        let mut a = t.req(FileOp::Symlink, 1, "s");
        (a.buf, a.len) = (GuestPhys(BUF), 5);
        assert_eq!(t.ret(a), rofs);
        let mut a = t.req(FileOp::Chmod, 1, "l");
        a.mode = 0o777;
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Chown, 1, "r.txt");
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Utimens, 1, "r.txt");
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Truncate, 1, "r.txt");
        assert_eq!(t.ret(a), rofs);
        let a = t.req(FileOp::Truncate, 1, "sub");
        assert_eq!(t.ret(a), e(libc::EISDIR));
        let mut a = t.req(FileOp::Access, 1, "r.txt");
        a.mode = libc::W_OK as u32;
        assert_eq!(t.ret(a), rofs);
        a.mode = libc::R_OK as u32;
        assert_eq!(t.ret(a), 0);
        let mut a = t.req(FileOp::Stat, 1, "r.txt");
        a.flags = 0;
        assert_eq!(t.run(a).stat.st_size, 10);
        let mut a = t.req(FileOp::Statfs, 1, "");
        (a.buf, a.len) = (GuestPhys(BUF), 120);
        assert_eq!(t.ret(a), 120);
        let flags = u64::from_le_bytes(t.get(BUF + 80, 8).try_into().unwrap());
        assert_eq!(flags & ST_RDONLY, ST_RDONLY);
        // Nothing changed on the host.
        assert_eq!(fs::read(t.ro().join("r.txt")).unwrap(), b"read only\n");
        assert_eq!(fs::metadata(t.ro().join("r.txt")).unwrap().mode() & 0o7777, 0o644);
        let mut names: Vec<_> = fs::read_dir(t.ro()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["l", "r.txt", "sub"]);
        t.assert_outside_untouched();
    }

    #[test]
    fn bad_requests() {
        let mut t = env();
        let mut a = t.req(FileOp::Stat, 0, "x");
        a.op = 999;
        assert_eq!(t.ret(a), e(libc::EINVAL));
        let a = t.req(FileOp::Stat, 7, "x");
        assert_eq!(t.ret(a), e(libc::EINVAL));
        let a = t.req(FileOp::Rename, 0, "x");
        let a = t.with2(a, 9, "y");
        assert_eq!(t.ret(a), e(libc::EINVAL));
        assert_eq!(t.ret(hop(FileOp::Fstat, 77)), e(libc::EBADF));
        assert_eq!(t.ret(hop(FileOp::Close, u32::MAX as i64)), e(libc::EBADF));
        assert_eq!(t.stat(0, "/etc/passwd", false).ret, e(libc::EINVAL));
        assert_eq!(t.stat(0, "a\0b", false).ret, e(libc::EINVAL));
        assert_eq!(t.stat(0, &"a".repeat(4096), false).ret, e(libc::ENAMETOOLONG));
        assert_eq!(t.stat(0, &"a/".repeat(2047), false).ret, e(libc::ENOENT));
        assert_eq!(t.open(0, "x", libc::O_ASYNC | libc::O_RDWR, 0o600), e(libc::EINVAL));
        // O_TMPFILE names a directory, which must exist.
        assert_eq!(t.open(0, "x", libc::O_TMPFILE | libc::O_RDWR, 0o600), e(libc::ENOENT));
        // Bad guest addresses end the VM: serve fails.
        let mut a = t.req(FileOp::Stat, 0, "x");
        a.path = GuestPhys(u64::MAX - 1);
        assert!(t.files.serve(&mut t.mem, &mut a).is_err());
        let mut a = t.req(FileOp::Stat, 0, "x");
        a.path = GuestPhys(4 << 20);
        assert!(t.files.serve(&mut t.mem, &mut a).is_err());
        let h = t.open(0, "", libc::O_RDONLY | libc::O_DIRECTORY, 0);
        let mut a = File { buf: GuestPhys((4 << 20) - 10), len: 4096, ..hop(FileOp::Getdents, h) };
        assert!(t.files.serve(&mut t.mem, &mut a).is_err());
        fs::write(t.share().join("f"), b"data").unwrap();
        let h = t.open(0, "f", libc::O_RDONLY, 0);
        let mut a = File { buf: GuestPhys(u64::MAX - 2), len: 4, offset: -1, ..hop(FileOp::Read, h) };
        assert!(t.files.serve(&mut t.mem, &mut a).is_err());
        let mut a = File { buf: GuestPhys(BUF), len: 4, offset: -2, ..hop(FileOp::Read, h) };
        assert!(t.files.serve(&mut t.mem, &mut a).is_ok());
        assert_eq!(a.ret, e(libc::EINVAL));
        let mut a = t.req(FileOp::Statfs, 0, "");
        (a.buf, a.len) = (GuestPhys((4 << 20) - 100), 120);
        assert!(t.files.serve(&mut t.mem, &mut a).is_err());
    }

    #[test]
    fn handle_table_is_capped() {
        let mut t = env();
        fs::write(t.share().join("f"), b"").unwrap();
        for i in 0..MAX_HANDLES as i64 {
            assert_eq!(t.open(0, "f", libc::O_RDONLY, 0), i);
        }
        assert_eq!(t.open(0, "f", libc::O_RDONLY, 0), e(libc::EMFILE));
        assert_eq!(t.ret(hop(FileOp::Close, 100)), 0);
        assert_eq!(t.open(0, "f", libc::O_RDONLY, 0), 100);
    }

    #[test]
    fn guest_paths_are_normalized() {
        assert_eq!(normalize_guest(b"/").unwrap(), b"/");
        assert_eq!(normalize_guest(b"//a/./b//").unwrap(), b"/a/b");
        assert_eq!(normalize_guest(b"/a/."), Ok(b"/a".to_vec()));
        assert_eq!(normalize_guest(b"a/b"), Err(GuestPathProblem::NotAbsolute));
        assert_eq!(normalize_guest(b""), Err(GuestPathProblem::NotAbsolute));
        assert_eq!(normalize_guest(b"/a/../b"), Err(GuestPathProblem::DotDot));
        let long = format!("/{}", "x".repeat(GUEST_PATH_MAX - 1));
        assert!(normalize_guest(long.as_bytes()).is_ok());
        assert_eq!(normalize_guest(format!("{long}y").as_bytes()), Err(GuestPathProblem::TooLong));
    }

    #[test]
    fn volumes_parse() {
        let v = parse_volume(OsStr::new("/tmp:/data/")).unwrap();
        assert_eq!(v, ShareSpec { host: "/tmp".into(), guest: b"/data".to_vec(), read_only: false, cwd: false, under: false });
        assert!(parse_volume(OsStr::new("rel/dir:/d:ro")).unwrap().read_only);
        assert!(!parse_volume(OsStr::new("/tmp:/d:rw")).unwrap().read_only);
        for bad in ["/tmp", "/tmp:", ":/d", "/tmp:/d:ro:x", "/tmp:/d:"] {
            assert!(matches!(parse_volume(OsStr::new(bad)), Err(ShareError::Syntax { .. } | ShareError::Option { .. })), "{bad}");
        }
        assert!(matches!(parse_volume(OsStr::new("/tmp:/d:RO")), Err(ShareError::Option { .. })));
        assert!(matches!(parse_volume(OsStr::new("/tmp:d")), Err(ShareError::Guest { problem: GuestPathProblem::NotAbsolute, .. })));
    }

    #[test]
    fn shares_are_planned_in_order() {
        let cwd = Path::new("/home/u/proj");
        let plan = plan_shares(&["/tmp:/t:ro"], false, Some(cwd)).unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!((plan[0].host.as_path(), plan[0].guest.as_slice(), plan[0].read_only), (cwd, &b"/home/u/proj"[..], false));
        assert_eq!((plan[1].guest.as_slice(), plan[1].read_only), (&b"/t"[..], true));
        let plan = plan_shares(&["/tmp:/home/u//proj/:ro"], false, Some(cwd)).unwrap();
        assert_eq!(plan.len(), 1, "-v at the current directory's path wins");
        assert!(plan[0].read_only);
        assert!(plan_shares::<&str>(&[], true, Some(cwd)).unwrap().is_empty());
        let eight: Vec<String> = (0..8).map(|i| format!("/tmp:/x{i}")).collect();
        assert!(matches!(plan_shares(&eight, false, Some(cwd)), Err(ShareError::TooMany)));
        assert_eq!(plan_shares(&eight, true, Some(cwd)).unwrap().len(), 8);
        assert!(matches!(plan_shares(&["/tmp:/a", "/etc:/a/."], true, None), Err(ShareError::Twice { .. })));
    }

    #[test]
    fn shares_open_and_fill_the_boot_information() {
        let t = env();
        let mut bad = [ShareSpec { host: t.base.join("outside.txt"), guest: b"/x".to_vec(), read_only: false, cwd: false, under: false }];
        assert!(matches!(Files::open(&bad), Err(ShareError::NotDir { .. })));
        bad[0].host = t.base.join("nope");
        assert!(matches!(Files::open(&bad), Err(ShareError::Host { .. })));
        bad[0].cwd = true;
        assert_eq!(Files::open(&bad).unwrap().shares.len(), 0, "the default share is left out");
        // SAFETY: BootInfo is plain integers and arrays: all-zero is a valid value.
        let mut boot: Box<BootInfo> = Box::new(unsafe { std::mem::zeroed() });
        t.files.fill_boot(&mut boot);
        assert_eq!(boot.nshares, 2);
        assert_eq!(&boot.shares[0].guest_path[..6], b"/work\0");
        assert_eq!((boot.shares[0].guest_path_len, boot.shares[0].read_only), (5, 0));
        assert_eq!(&boot.shares[1].guest_path[..5], b"/data");
        assert_eq!((boot.shares[1].guest_path_len, boot.shares[1].read_only), (5, 1));
    }

    /// The program's own file, outside every share, cannot be changed
    /// through the handle that /proc/self/exe uses.
    #[test]
    fn the_exe_handle_changes_nothing() {
        let mut t = env();
        let outside = fs::File::open(t.base.join("outside.txt")).unwrap();
        let h = t.files.open_exe(&outside).unwrap() as i64;
        let mut c = hop(FileOp::Chmod, h);
        c.mode = 0o777;
        assert_eq!(t.ret(c), e(libc::EROFS));
        let mut u = hop(FileOp::Utimens, h);
        u.buf = GuestPhys(0);
        assert_eq!(t.ret(u), e(libc::EROFS));
        assert_eq!(t.write(h, b"x", 0).ret, e(libc::EBADF));
        let mut tr = hop(FileOp::Truncate, h);
        tr.offset = 0;
        assert_eq!(t.ret(tr), e(libc::EINVAL), "not open for writing, as ftruncate says");
        drop(outside);
        t.assert_outside_untouched();
    }

    /// A listing whose first entry does not fit answers EINVAL and leaves
    /// the position where it was, so a bigger buffer gets that entry.
    #[test]
    fn getdents_stat_too_small_keeps_the_position() {
        let mut t = env();
        fs::write(t.share().join("a"), b"").unwrap();
        let mut d = t.req(FileOp::Open, 0, "");
        d.flags = (libc::O_RDONLY | libc::O_DIRECTORY) as u32;
        let h = t.ret(d);
        assert!(h >= 0);
        let small = File { buf: GuestPhys(BUF), len: 8, ..hop(FileOp::GetdentsStat, h) };
        assert_eq!(t.ret(small), e(libc::EINVAL));
        let big = File { buf: GuestPhys(BUF), len: 4096, ..hop(FileOp::GetdentsStat, h) };
        let n = t.ret(big);
        let got = t.get(BUF, n as usize);
        let stat = std::mem::size_of::<abi::linux::Stat>();
        let (mut at, mut names) = (0, Vec::new());
        while at < got.len() {
            let reclen = u16::from_le_bytes([got[at + 16], got[at + 17]]) as usize;
            let name = &got[at + 19..at + reclen];
            names.push(String::from_utf8_lossy(&name[..name.iter().position(|&b| b == 0).unwrap()]).into_owned());
            at += reclen + stat;
        }
        names.sort();
        assert_eq!(names, [".", "..", "a"]);
    }

    /// A share at the guest's root follows an absolute symlink that stays in it.
    #[test]
    fn absolute_symlink_in_a_share_at_the_root() {
        let t = env();
        fs::create_dir(t.share().join("d")).unwrap();
        fs::write(t.share().join("d/f"), b"in").unwrap();
        std::os::unix::fs::symlink("/d/f", t.share().join("abs")).unwrap();
        let specs = [ShareSpec { host: t.share(), guest: b"/".to_vec(), read_only: false, cwd: false, under: false }];
        let mut root = Env { base: t.base.join("unused"), files: Files::open(&specs).unwrap(), mem: GuestMemory::new(4 << 20).unwrap() };
        let h = root.open(0, "abs", libc::O_RDONLY, 0);
        assert!(h >= 0, "got {h}");
        assert_eq!(root.read(h, 10, 0).1, b"in");
    }
}
