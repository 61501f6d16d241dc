//! read, write, their vector forms, descriptors, ioctl and fstat: on the
//! host's stdio here, on files through [`crate::sys_fs`].

use crate::fd::{Entry, Object, FD_CLOEXEC, O_ACCMODE, O_APPEND, O_NONBLOCK, O_PATH, O_RDONLY, O_WRONLY};
use crate::sys_fs;
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::Errno;

const IOV_MAX: u64 = 1024;
/// Linux caps one read or write at this many bytes.
const MAX_RW: u64 = 0x7fff_f000;

fn readable(e: &Entry) -> Result<(), Errno> {
    if e.status & O_ACCMODE == O_WRONLY || e.status & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

fn writable(e: &Entry) -> Result<(), Errno> {
    if e.status & O_ACCMODE == O_RDONLY || e.status & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// What a read or write goes to, taken from its descriptor without copying
/// the stdio information (every console write comes this way).
enum Target {
    File(alloc::rc::Rc<crate::fd::OpenFile>),
    Stdio(u32),
}

fn target(e: &Entry) -> Target {
    match &e.object {
        Object::File(f) => Target::File(f.clone()),
        Object::HostStdio { host_fd, .. } => Target::Stdio(*host_fd),
    }
}

pub fn write<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, buf: u64, len: u64) -> SysResult {
    let e = proc.fds.get(fd)?;
    writable(e)?;
    let (status, to) = (e.status, target(e));
    let len = len.min(MAX_RW);
    match to {
        Target::File(f) => match &f.kind {
            crate::fd::FileKind::Pipe { buf: pipe, .. } => sys_fs::pipe_write(proc, p, pipe, status & O_NONBLOCK != 0, buf, len),
            crate::fd::FileKind::Event(e) => crate::sys_event::write(proc, p, e, status & O_NONBLOCK != 0, buf, len),
            _ => sys_fs::write(proc, p, &f, status & O_APPEND != 0, buf, len, None),
        },
        Target::Stdio(host_fd) => {
            let mut chunk = [0u8; 4096];
            let mut done = 0u64;
            while done < len {
                let n = (len - done).min(chunk.len() as u64) as usize;
                if let Err(err) = p.read_user(buf + done, &mut chunk[..n]) {
                    return if done > 0 { Ok(done) } else { Err(err) };
                }
                p.console_write(host_fd, &chunk[..n])?;
                done += n as u64;
            }
            Ok(done)
        }
    }
}

pub fn read<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, buf: u64, len: u64) -> SysResult {
    let e = proc.fds.get(fd)?;
    readable(e)?;
    let (status, from) = (e.status, target(e));
    let len = len.min(MAX_RW);
    if len == 0 {
        return match &from {
            Target::File(f) if sys_fs::is_dir_file(proc, f) => Err(Errno::EISDIR),
            _ => Ok(0),
        };
    }
    match from {
        Target::File(f) => match &f.kind {
            crate::fd::FileKind::Pipe { buf: pipe, .. } => sys_fs::pipe_read(proc, p, pipe, status & O_NONBLOCK != 0, buf, len),
            crate::fd::FileKind::Event(e) => crate::sys_event::read(proc, p, e, status & O_NONBLOCK != 0, buf, len),
            _ => sys_fs::read(proc, p, &f, buf, len, None),
        },
        Target::Stdio(host_fd) => {
            // Check the whole buffer first: the bytes read must not be lost.
            let mut probe = [0u8; 1];
            p.read_user(buf, &mut probe)?;
            p.read_user(buf + len - 1, &mut probe)?;
            if proc.nthreads() > 1 || !proc.timers.is_empty() {
                // Others may run meanwhile: wait in the scheduler, not in the host's read.
                let r = p.host_poll([if host_fd == 0 { 0x1 } else { 0 }, 0, 0], 0);
                if r[0] == 0 {
                    if status & O_NONBLOCK != 0 {
                        return Err(Errno::EAGAIN);
                    }
                    let w = crate::sched::Wait::io([0x1, 0, 0], None, Errno::ERESTARTSYS);
                    return crate::sched::block(proc, w);
                }
            }
            let mut chunk = alloc::vec![0u8; len.min(64 << 10) as usize];
            let t0 = p.clock_ns(false);
            // Cut short by a signal sent to uk-run: restarted, or EINTR if a
            // handler without SA_RESTART runs, as Linux does.
            let n = p.host_read(host_fd, &mut chunk).map_err(|e| if e == Errno::EINTR { Errno::ERESTARTSYS } else { e })?;
            proc.blocked_ns += p.clock_ns(false).saturating_sub(t0);
            p.write_user(buf, &chunk[..n])?;
            Ok(n as u64)
        }
    }
}

/// Reads an iovec array: (base, len) pairs.
fn iovecs<P: Platform>(p: &P, iov: u64, cnt: u64) -> Result<alloc::vec::Vec<(u64, u64)>, Errno> {
    if cnt > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut v = alloc::vec::Vec::with_capacity(cnt as usize);
    let mut total = 0u64;
    for i in 0..cnt {
        let pair: [u64; 2] = UserPtr(iov + 16 * i).read(p)?;
        if pair[1] as i64 > isize::MAX as i64 || total.checked_add(pair[1]).is_none_or(|t| t as i64 > isize::MAX as i64) {
            return Err(Errno::EINVAL);
        }
        total += pair[1];
        v.push((pair[0], pair[1]));
    }
    Ok(v)
}

pub fn writev<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, iov: u64, cnt: u64) -> SysResult {
    writable(proc.fds.get(fd)?)?;
    let mut total = 0;
    for (base, len) in iovecs(p, iov, cnt)? {
        match write(proc, p, fd, base, len) {
            Ok(n) => {
                total += n;
                // A short write ends it: later buffers must not land after a gap.
                if n < len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

pub fn readv<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, iov: u64, cnt: u64) -> SysResult {
    let e = proc.fds.get(fd)?;
    readable(e)?;
    let stream = matches!(e.object, Object::HostStdio { .. });
    let mut total = 0;
    for (base, len) in iovecs(p, iov, cnt)? {
        if len == 0 {
            continue;
        }
        // A stream read returns what one read gives: the first non-empty
        // buffer; a file fills the buffers in turn until a short read.
        match read(proc, p, fd, base, len) {
            Ok(n) => {
                total += n;
                if stream || n < len {
                    break;
                }
            }
            Err(err) if total == 0 => return Err(err),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// preadv and pwritev: the buffers in turn at `off`, until a short one.
pub fn preadv_pwritev<P: Platform>(proc: &mut Process, p: &mut P, write: bool, fd: u64, iov: u64, cnt: u64, off: u64) -> SysResult {
    let e = proc.fds.get(fd)?;
    if write { writable(e)? } else { readable(e)? }
    let mut total = 0u64;
    for (base, len) in iovecs(p, iov, cnt)? {
        if len == 0 {
            continue;
        }
        match pread_pwrite(proc, p, write, fd, base, len, off + total) {
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(err) if total == 0 => return Err(err),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// pread64 and pwrite64: on a stream, ESPIPE.
pub fn pread_pwrite<P: Platform>(proc: &mut Process, p: &mut P, write: bool, fd: u64, buf: u64, len: u64, off: u64) -> SysResult {
    let e = proc.fds.get(fd)?;
    if write { writable(e)? } else { readable(e)? }
    if (off as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.min(MAX_RW);
    let (status, at) = (e.status, target(e));
    match at {
        Target::Stdio(_) => Err(Errno::ESPIPE),
        // pwrite on an O_APPEND file appends, as on Linux.
        Target::File(f) if write => sys_fs::write(proc, p, &f, status & O_APPEND != 0, buf, len, Some(off)),
        Target::File(f) => sys_fs::read(proc, p, &f, buf, len, Some(off)),
    }
}

pub fn lseek<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, off: u64, whence: u64) -> SysResult {
    match proc.fds.get(fd)?.object.clone() {
        Object::HostStdio { .. } => Err(Errno::ESPIPE),
        Object::File(f) => sys_fs::lseek(proc, p, &f, off, whence),
    }
}

pub fn getdents64<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, buf: u64, len: u64) -> SysResult {
    match proc.fds.get(fd)?.object.clone() {
        Object::HostStdio { .. } => Err(Errno::ENOTDIR),
        Object::File(f) => sys_fs::getdents64(proc, p, &f, buf, len),
    }
}

pub fn dup(proc: &mut Process, fd: u64) -> SysResult {
    let e = Entry { cloexec: false, ..proc.fds.get(fd)?.clone() };
    proc.fds.install_from(0, e)
}

pub fn dup2<P: Platform>(proc: &mut Process, p: &mut P, old: u64, new: u64) -> SysResult {
    let e = proc.fds.get(old)?.clone();
    if old == new {
        return Ok(new);
    }
    let was = proc.fds.install_at(new, Entry { cloexec: false, ..e })?;
    sys_fs::release(p, was);
    Ok(new)
}

pub fn dup3<P: Platform>(proc: &mut Process, p: &mut P, old: u64, new: u64, flags: u64) -> SysResult {
    const O_CLOEXEC: u64 = 0o2000000;
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    let e = proc.fds.get(old)?.clone();
    let was = proc.fds.install_at(new, Entry { cloexec: flags & O_CLOEXEC != 0, ..e })?;
    sys_fs::release(p, was);
    Ok(new)
}

pub fn fcntl<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, cmd: u64, arg: u64) -> SysResult {
    const F_DUPFD: u64 = 0;
    const F_GETFD: u64 = 1;
    const F_SETFD: u64 = 2;
    const F_GETFL: u64 = 3;
    const F_SETFL: u64 = 4;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    const F_GETLK: u64 = 5;
    const F_SETLK: u64 = 6;
    const F_SETLKW: u64 = 7;
    const F_OFD_GETLK: u64 = 36;
    const F_OFD_SETLK: u64 = 37;
    const F_OFD_SETLKW: u64 = 38;
    let e = proc.fds.get(fd)?.clone();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            if arg >= proc.fds.limit {
                return Err(Errno::EINVAL);
            }
            proc.fds.install_from(arg, Entry { cloexec: cmd == F_DUPFD_CLOEXEC, ..e })
        }
        F_GETFD => Ok(if e.cloexec { FD_CLOEXEC as u64 } else { 0 }),
        F_SETFD => {
            proc.fds.get_mut(fd)?.cloexec = arg as u32 & FD_CLOEXEC != 0;
            Ok(0)
        }
        F_GETFL => Ok(e.status as u64),
        // Record locks: one process holds every lock there is, so setting
        // one always succeeds, and no other process's lock can be in the way.
        F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW => Ok(0),
        F_GETLK | F_OFD_GETLK => {
            // struct flock: l_type (short) first; F_UNLCK says "no conflict".
            const F_UNLCK: u16 = 2;
            UserPtr(arg).write(p, &F_UNLCK).map(|_| 0)
        }
        F_SETFL => {
            // Status flags belong to the open file: every descriptor of it sees them.
            let changeable = O_APPEND | O_NONBLOCK;
            let set = |st: &mut u32| *st = (*st & !changeable) | (arg as u32 & changeable);
            match &e.object {
                Object::File(f) => {
                    // In every process that shares it (fork), too.
                    let tables = core::iter::once(&mut proc.fds).chain(proc.world.procs.values_mut().map(|o| &mut o.fds));
                    for t in tables {
                        let same: alloc::vec::Vec<u64> = t
                            .iter()
                            .filter(|(_, o)| matches!(&o.object, Object::File(g) if alloc::rc::Rc::ptr_eq(f, g)))
                            .map(|(n, _)| n)
                            .collect();
                        for n in same {
                            set(&mut t.get_mut(n)?.status);
                        }
                    }
                }
                Object::HostStdio { .. } => set(&mut proc.fds.get_mut(fd)?.status),
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn ioctl<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, req: u64, arg: u64) -> SysResult {
    const TCGETS: u64 = 0x5401;
    const TIOCGPGRP: u64 = 0x540f;
    const TIOCGWINSZ: u64 = 0x5413;
    const TCSETS: u64 = 0x5402;
    const TCSETSW: u64 = 0x5403;
    const TCSETSF: u64 = 0x5404;
    const TIOCSWINSZ: u64 = 0x5414;
    let Object::HostStdio { host_fd, info } = proc.fds.get(fd)?.object.clone() else { return Err(Errno::ENOTTY) };
    if info.is_tty == 0 {
        return Err(Errno::ENOTTY);
    }
    let req = req & 0xffff_ffff;
    match req {
        TCGETS => UserPtr(arg).write(p, &info.termios).map(|_| 0),
        TIOCGWINSZ => UserPtr(arg).write(p, &info.winsize).map(|_| 0),
        TIOCGPGRP => UserPtr(arg).write(p, &proc.pid).map(|_| 0),
        TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ => {
            let mut call = abi::hc::Tty { fd: host_fd, request: req as u32, ..Default::default() };
            if req == TIOCSWINSZ {
                call.winsize = UserPtr(arg).read(p)?;
            } else {
                call.termios = UserPtr(arg).read(p)?;
            }
            p.host_tty(&mut call)?;
            // Every descriptor of that terminal (the host's stdio often is one) sees the change.
            let ttys: alloc::vec::Vec<u64> = proc
                .fds
                .iter()
                .filter(|(_, e)| matches!(&e.object, Object::HostStdio { info: i, .. } if i.is_tty != 0 && i.stat.st_rdev == info.stat.st_rdev))
                .map(|(n, _)| n)
                .collect();
            for n in ttys {
                if let Object::HostStdio { info: i, .. } = &mut proc.fds.get_mut(n)?.object {
                    if req == TIOCSWINSZ {
                        i.winsize = call.winsize;
                    } else {
                        i.termios = call.termios;
                    }
                }
            }
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

pub fn fstat<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, buf: u64) -> SysResult {
    let st = match proc.fds.get(fd)?.object.clone() {
        Object::HostStdio { info, .. } => info.stat,
        Object::File(f) => sys_fs::fstat_file(proc, p, &f)?,
    };
    UserPtr(buf).write(p, &st).map(|_| 0)
}

pub fn getcwd<P: Platform>(proc: &mut Process, p: &mut P, buf: u64, size: u64) -> SysResult {
    sys_fs::refresh_cwd(proc, p)?;
    let mut path = proc.cwd.clone();
    if path.is_empty() {
        path.push(b'/');
    }
    path.push(0);
    if (size as usize) < path.len() {
        return Err(Errno::ERANGE);
    }
    p.write_user(buf, &path)?;
    Ok(path.len() as u64)
}

/// sendfile: from a host file to the host's stdout or stderr, the monitor
/// moves the data itself (one exit, no copy through the guest). Linux needs
/// an input it can map (a regular file): from a stream it answers EINVAL,
/// and so do we for the other pairs, where callers fall back to read and
/// write, which serve them too.
pub fn sendfile<P: Platform>(proc: &mut Process, p: &mut P, out_fd: u64, in_fd: u64, offp: u64, count: u64) -> SysResult {
    let out = proc.fds.get(out_fd)?.clone();
    writable(&out)?;
    let e = proc.fds.get(in_fd)?.clone();
    readable(&e)?;
    match (out.object, e.object) {
        (Object::HostStdio { host_fd: host_fd @ (1 | 2), .. }, Object::File(f)) => {
            sys_fs::sendfile_to_stdio(p, &f, host_fd, offp, count.min(MAX_RW))
        }
        _ => Err(Errno::EINVAL),
    }
}

const POLLNVAL: u16 = 0x20;

/// poll on the descriptor table; `timeout_ms` < 0 waits without limit.
pub fn poll<P: Platform>(proc: &mut Process, p: &mut P, fds: u64, nfds: u64, timeout_ms: i32) -> SysResult {
    if nfds > proc.fds.limit.max(1024) {
        return Err(Errno::EINVAL);
    }
    let mut items = alloc::vec::Vec::with_capacity(nfds as usize);
    for i in 0..nfds {
        let raw: u64 = UserPtr(fds + 8 * i).read(p)?;
        items.push((raw as u32 as i32, (raw >> 32) as u16));
    }
    let revents = poll_items(proc, p, &items, timeout_ms)?;
    for (i, r) in revents.iter().enumerate() {
        p.write_user(fds + 8 * i as u64 + 6, &r.to_le_bytes())?;
    }
    Ok(revents.iter().filter(|&&r| r != 0).count() as u64)
}

use crate::sys_event::poll_items;

/// select and pselect6 over poll: `timeout_ms` < 0 waits without limit.
pub fn select<P: Platform>(proc: &mut Process, p: &mut P, nfds: u64, sets: [u64; 3], timeout_ms: i32) -> SysResult {
    if nfds > 1024 {
        return Err(Errno::EINVAL);
    }
    let words = nfds.div_ceil(64) as usize;
    let mut bits = [[0u64; 16]; 3];
    for (k, &set) in sets.iter().enumerate() {
        if set != 0 {
            for (w, word) in bits[k].iter_mut().enumerate().take(words) {
                *word = UserPtr(set + 8 * w as u64).read(p)?;
            }
        }
    }
    let mut items = alloc::vec::Vec::new();
    for fd in 0..nfds as usize {
        let has = |k: usize| bits[k][fd / 64] & (1 << (fd % 64)) != 0;
        let events = (if has(0) { 0x1 } else { 0 }) | (if has(1) { 0x4 } else { 0 }) | (if has(2) { 0x2 } else { 0 });
        if events != 0 {
            items.push((fd as i32, events));
        }
    }
    let revents = poll_items(proc, p, &items, timeout_ms)?;
    let mut out = [[0u64; 16]; 3];
    let mut count = 0;
    for (&(fd, events), &r) in items.iter().zip(&revents) {
        if r & POLLNVAL != 0 {
            return Err(Errno::EBADF);
        }
        let fd = fd as usize;
        for (k, hit) in [(0, events & 0x1 != 0 && r & (0x1 | 0x8 | 0x10) != 0), (1, events & 0x4 != 0 && r & (0x4 | 0x8) != 0), (2, events & 0x2 != 0 && r & 0x2 != 0)] {
            if hit {
                out[k][fd / 64] |= 1 << (fd % 64);
                count += 1;
            }
        }
    }
    for (k, &set) in sets.iter().enumerate() {
        if set != 0 {
            for (w, word) in out[k].iter().enumerate().take(words) {
                UserPtr(set + 8 * w as u64).write(p, word)?;
            }
        }
    }
    Ok(count)
}

/// ppoll, pselect6 and epoll_pwait: the thread's mask is `sigmask` while
/// it waits (signal delivery puts the old one back).
pub fn temporary_mask<P: Platform>(proc: &mut Process, p: &mut P, sigmask: u64, size: u64) -> Result<(), Errno> {
    if sigmask == 0 {
        return Ok(());
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let m: u64 = UserPtr(sigmask).read(p)?;
    if proc.thread.sig.saved_mask.is_none() {
        proc.thread.sig.saved_mask = Some(proc.thread.sig.mask);
    }
    proc.thread.sig.mask = m & !crate::signal::UNBLOCKABLE;
    Ok(())
}

pub fn ppoll<P: Platform>(proc: &mut Process, p: &mut P, fds: u64, nfds: u64, tsp: u64) -> SysResult {
    let timeout_ms = if tsp == 0 {
        -1
    } else {
        let ts: abi::linux::Timespec = UserPtr(tsp).read(p)?;
        let ns = crate::time::from_timespec(&ts)?;
        ns.div_ceil(1_000_000).min(i32::MAX as u64) as i32
    };
    poll(proc, p, fds, nfds, timeout_ms)
}
