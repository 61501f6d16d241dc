//! The syscall table: one line per supported syscall, keyed by `Sysno`.
//!
//! Anything not listed answers ENOSYS with one warning line naming it, once
//! per syscall. [`QUIET_ENOSYS`] lists the few that answer ENOSYS on purpose,
//! as a Linux kernel built without the feature does, with no warning: the C
//! libraries probe them at every start and fall back.

use crate::sys_fs::{self, Attr, AT_FDCWD};
use crate::signal::{Regs, Trap};
use crate::sys_signal::Restart;
use crate::{procs, sched, sys_event, sys_exec, sys_ipc, sys_io, sys_mem, sys_proc, sys_signal, sys_thread, sys_time, sys_timer, Platform, Process, SysResult};
use abi::linux::Errno;
use syscalls::Sysno;

/// Answered ENOSYS without a warning: rseq (glibc registers it when present
/// and runs fine without).
pub const QUIET_ENOSYS: &[Sysno] = &[Sysno::rseq];

/// What the kernel does once a syscall has been handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Back to the program with `regs` (rcx and r11 may be clobbered, as by `syscall`).
    Return,
    /// Back to the program with every register from `regs` (rt_sigreturn).
    ReturnFull,
    /// The thread waits (or has exited): the kernel runs another (see
    /// crate::sched) and calls [`resumed`] when this one runs again.
    Block,
}

/// Runs the syscall `regs.rax` with the arguments in `regs`, the running
/// thread's registers; its result goes to `regs.rax`, and the signals due
/// are delivered (which may change `regs` to run a handler).
pub fn syscall<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs) -> Outcome {
    let nr = regs.rax;
    let a = regs.args();
    let ret = match Sysno::new(nr as usize) {
        Some(Sysno::rt_sigreturn) => {
            sys_signal::rt_sigreturn(proc, p, regs);
            if proc.trace {
                p.note(format_args!("trace: rt_sigreturn() to {:#x}", regs.rip));
            }
            sys_signal::deliver(proc, p, regs, Restart::None, Trap::default(), None);
            return Outcome::ReturnFull;
        }
        Some(Sysno::clone) => sys_thread::clone(proc, p, regs, a[0], a[1], a[2], a[3], a[4]),
        Some(Sysno::clone3) => sys_thread::clone3(proc, p, regs, a[0], a[1]),
        Some(Sysno::fork) => procs::fork(proc, p, regs, abi::linux::sig::SIGCHLD as u64, 0, 0, 0, 0),
        Some(Sysno::vfork) => procs::fork(proc, p, regs, sys_thread::CLONE_VM | procs::CLONE_VFORK | abi::linux::sig::SIGCHLD as u64, 0, 0, 0, 0),
        Some(Sysno::sigaltstack) => sys_signal::sigaltstack(proc, p, a[0], a[1], regs.rsp),
        Some(s) => call(proc, p, s, a),
        None => {
            if proc.first_warning(nr) {
                p.warn(format_args!("unsupported syscall {nr}: answering ENOSYS"));
            }
            Err(Errno::ENOSYS)
        }
    };
    finish(proc, p, regs, nr, ret)
}

/// The thread that waited in a syscall runs again: its result, or the
/// syscall once more.
pub fn resumed<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs) -> Outcome {
    match sched::resume(proc, p) {
        Some(r) => finish(proc, p, regs, regs.rax, r),
        None => syscall(proc, p, regs),
    }
}

fn finish<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs, nr: u64, ret: SysResult) -> Outcome {
    if ret == Err(Errno::EBLOCK) {
        return Outcome::Block;
    }
    proc.thread.deadline = None;
    // ppoll, pselect6 and epoll_pwait: their mask goes back before delivery
    // unless a signal cut them short (then the handler runs under it).
    let interrupted = matches!(ret, Err(Errno::EINTR | Errno::ERESTARTSYS | Errno::ERESTARTNOHAND | Errno::ERESTARTNOINTR));
    if !interrupted {
        if let Some(m) = proc.thread.sig.saved_mask.take() {
            proc.thread.sig.mask = m;
        }
    }
    if proc.trace {
        let a = regs.args();
        let name = Sysno::new(nr as usize).map_or("?", |s| s.name());
        match ret {
            Ok(v) => p.note(format_args!("trace: {name}({:#x}, {:#x}, {:#x}, {:#x}) = {v:#x}", a[0], a[1], a[2], a[3])),
            Err(e) => p.note(format_args!("trace: {name}({:#x}, {:#x}, {:#x}, {:#x}) = -{e:?}", a[0], a[1], a[2], a[3])),
        }
    }
    regs.rax = match ret {
        Ok(v) => v,
        Err(e) => e.ret() as u64,
    };
    crate::sys_timer::fire_due(proc, p);
    let host = p.take_host_signal();
    if host != 0 {
        sys_signal::host_signal(proc, p, host as u64);
    }
    sys_signal::deliver(proc, p, regs, Restart::Syscall(nr), Trap::default(), None);
    Outcome::Return
}

/// Runs syscall `nr` with raw arguments `a`; returns the value for rax
/// (the tests' way in; a wait answers EBLOCK's value).
pub fn dispatch<P: Platform>(proc: &mut Process, p: &mut P, nr: u64, a: [u64; 6]) -> i64 {
    let mut regs = Regs { rax: nr, rdi: a[0], rsi: a[1], rdx: a[2], r10: a[3], r8: a[4], r9: a[5], rip: 0x1000, ..Regs::default() };
    match syscall(proc, p, &mut regs) {
        Outcome::Block => Errno::EBLOCK.ret(),
        _ => regs.rax as i64,
    }
}

fn call<P: Platform>(proc: &mut Process, p: &mut P, s: Sysno, a: [u64; 6]) -> SysResult {
    match s {
        // descriptors and I/O
        Sysno::read => sys_io::read(proc, p, a[0], a[1], a[2]),
        Sysno::write => sys_io::write(proc, p, a[0], a[1], a[2]),
        Sysno::readv => sys_io::readv(proc, p, a[0], a[1], a[2]),
        Sysno::writev => sys_io::writev(proc, p, a[0], a[1], a[2]),
        Sysno::pread64 => sys_io::pread_pwrite(proc, p, false, a[0], a[1], a[2], a[3]),
        Sysno::pwrite64 => sys_io::pread_pwrite(proc, p, true, a[0], a[1], a[2], a[3]),
        Sysno::lseek => sys_io::lseek(proc, p, a[0], a[1], a[2]),
        Sysno::close => sys_fs::close(proc, p, a[0]),
        Sysno::dup => sys_io::dup(proc, a[0]),
        Sysno::dup2 => sys_io::dup2(proc, p, a[0], a[1]),
        Sysno::dup3 => sys_io::dup3(proc, p, a[0], a[1], a[2]),
        Sysno::fcntl => sys_io::fcntl(proc, p, a[0], a[1], a[2]),
        Sysno::ioctl => sys_io::ioctl(proc, p, a[0], a[1], a[2]),
        Sysno::fstat => sys_io::fstat(proc, p, a[0], a[1]),
        Sysno::sendfile => sys_io::sendfile(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::poll => sys_io::poll(proc, p, a[0], a[1], a[2] as i32),
        Sysno::ppoll => {
            sys_io::temporary_mask(proc, p, a[3], a[4])?;
            sys_io::ppoll(proc, p, a[0], a[1], a[2])
        }
        Sysno::epoll_create => {
            if (a[0] as i32) <= 0 {
                return Err(Errno::EINVAL);
            }
            sys_event::epoll_create1(proc, p, 0)
        }
        Sysno::epoll_create1 => sys_event::epoll_create1(proc, p, a[0]),
        Sysno::epoll_ctl => sys_event::epoll_ctl(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::epoll_wait => sys_event::epoll_wait(proc, p, a[0], a[1], a[2], a[3] as i32),
        Sysno::epoll_pwait => {
            sys_io::temporary_mask(proc, p, a[4], a[5])?;
            sys_event::epoll_wait(proc, p, a[0], a[1], a[2], a[3] as i32)
        }
        Sysno::eventfd => sys_event::eventfd2(proc, p, a[0], 0),
        Sysno::eventfd2 => sys_event::eventfd2(proc, p, a[0], a[1]),
        Sysno::timerfd_create => sys_event::timerfd_create(proc, p, a[0], a[1]),
        Sysno::timerfd_settime => sys_event::timerfd_settime(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::timerfd_gettime => sys_event::timerfd_gettime(proc, p, a[0], a[1]),
        Sysno::select => {
            let ms = if a[4] == 0 {
                -1
            } else {
                let tv: abi::linux::Timeval = crate::user::UserPtr(a[4]).read(p)?;
                if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
                    return Err(Errno::EINVAL);
                }
                (tv.tv_sec as u64 * 1000 + (tv.tv_usec as u64).div_ceil(1000)).min(i32::MAX as u64) as i32
            };
            sys_io::select(proc, p, a[0], [a[1], a[2], a[3]], ms)
        }
        Sysno::pselect6 => {
            if a[5] != 0 {
                // { const sigset_t *ss; size_t ss_len }
                let [set, len]: [u64; 2] = crate::user::UserPtr(a[5]).read(p)?;
                sys_io::temporary_mask(proc, p, set, len)?;
            }
            let ms = if a[4] == 0 {
                -1
            } else {
                let ts: abi::linux::Timespec = crate::user::UserPtr(a[4]).read(p)?;
                (crate::time::from_timespec(&ts)?.div_ceil(1_000_000)).min(i32::MAX as u64) as i32
            };
            sys_io::select(proc, p, a[0], [a[1], a[2], a[3]], ms)
        }

        // files
        Sysno::open => sys_fs::openat(proc, p, AT_FDCWD, a[0], a[1], a[2]),
        Sysno::openat => sys_fs::openat(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::creat => sys_fs::openat(proc, p, AT_FDCWD, a[0], 0o1101, a[1]),
        Sysno::stat => sys_fs::newfstatat(proc, p, AT_FDCWD, a[0], a[1], 0),
        Sysno::lstat => sys_fs::newfstatat(proc, p, AT_FDCWD, a[0], a[1], 0x100),
        Sysno::newfstatat => sys_fs::newfstatat(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::getdents64 => sys_io::getdents64(proc, p, a[0], a[1], a[2]),
        Sysno::getcwd => sys_io::getcwd(proc, p, a[0], a[1]),
        Sysno::chdir => sys_fs::chdir(proc, p, a[0]),
        Sysno::fchdir => sys_fs::fchdir(proc, p, a[0]),
        Sysno::mkdir => sys_fs::mkdirat(proc, p, AT_FDCWD, a[0], a[1]),
        Sysno::mkdirat => sys_fs::mkdirat(proc, p, a[0], a[1], a[2]),
        Sysno::rmdir => sys_fs::unlinkat(proc, p, AT_FDCWD, a[0], 0x200),
        Sysno::unlink => sys_fs::unlinkat(proc, p, AT_FDCWD, a[0], 0),
        Sysno::unlinkat => sys_fs::unlinkat(proc, p, a[0], a[1], a[2]),
        Sysno::rename => sys_fs::renameat2(proc, p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0),
        Sysno::renameat => sys_fs::renameat2(proc, p, a[0], a[1], a[2], a[3], 0),
        Sysno::renameat2 => sys_fs::renameat2(proc, p, a[0], a[1], a[2], a[3], a[4]),
        Sysno::link => sys_fs::linkat(proc, p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0),
        Sysno::linkat => sys_fs::linkat(proc, p, a[0], a[1], a[2], a[3], a[4]),
        Sysno::symlink => sys_fs::symlinkat(proc, p, a[0], AT_FDCWD, a[1]),
        Sysno::symlinkat => sys_fs::symlinkat(proc, p, a[0], a[1], a[2]),
        Sysno::readlink => sys_fs::readlinkat(proc, p, AT_FDCWD, a[0], a[1], a[2]),
        Sysno::readlinkat => sys_fs::readlinkat(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::access => sys_fs::faccessat(proc, p, AT_FDCWD, a[0], a[1], 0),
        Sysno::faccessat => sys_fs::faccessat(proc, p, a[0], a[1], a[2], 0),
        Sysno::faccessat2 => sys_fs::faccessat(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::chmod => attr(proc, p, AT_FDCWD, a[0], Attr::Mode(a[1] as u32), 0),
        Sysno::fchmod => attr(proc, p, a[0], 0, Attr::Mode(a[1] as u32), 0),
        Sysno::fchmodat => attr(proc, p, a[0], a[1], Attr::Mode(a[2] as u32), 0),
        Sysno::chown => attr(proc, p, AT_FDCWD, a[0], Attr::Owner(a[1] as u32, a[2] as u32), 0),
        Sysno::lchown => attr(proc, p, AT_FDCWD, a[0], Attr::Owner(a[1] as u32, a[2] as u32), 0x100),
        Sysno::fchown => attr(proc, p, a[0], 0, Attr::Owner(a[1] as u32, a[2] as u32), 0),
        Sysno::fchownat => attr(proc, p, a[0], a[1], Attr::Owner(a[2] as u32, a[3] as u32), a[4]),
        Sysno::utimensat => sys_fs::utimensat(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::truncate => attr(proc, p, AT_FDCWD, a[0], Attr::Size(a[1]), 0),
        Sysno::ftruncate => {
            // Only a descriptor open for writing, and not of a directory.
            let e = proc.fds.get(a[0])?;
            let dir = matches!(&e.object, crate::fd::Object::File(f) if sys_fs::is_dir_file(proc, f));
            if e.status & crate::fd::O_ACCMODE == crate::fd::O_RDONLY || e.status & crate::fd::O_PATH != 0 || dir {
                return Err(if e.status & crate::fd::O_PATH != 0 { Errno::EBADF } else { Errno::EINVAL });
            }
            attr(proc, p, a[0], 0, Attr::Size(a[1]), 0)
        }
        Sysno::preadv => sys_io::preadv_pwritev(proc, p, false, a[0], a[1], a[2], a[3]),
        Sysno::pwritev => sys_io::preadv_pwritev(proc, p, true, a[0], a[1], a[2], a[3]),
        Sysno::fsync | Sysno::fdatasync => match proc.fds.get(a[0])?.object.clone() {
            crate::fd::Object::File(f) => sys_fs::fsync(p, &f, s == Sysno::fdatasync),
            _ => Err(Errno::EINVAL),
        },
        Sysno::sync | Sysno::syncfs => Ok(0),
        Sysno::statfs => {
            let t = sys_fs::target(proc, p, AT_FDCWD, a[0], true, false)?;
            sys_fs::statfs(proc, p, t, a[1])
        }
        Sysno::fstatfs => {
            let t = sys_fs::target(proc, p, a[0], 0, true, false)?;
            sys_fs::statfs(proc, p, t, a[1])
        }
        Sysno::close_range => sys_fs::close_range(proc, p, a[0], a[1], a[2]),
        Sysno::statx => sys_fs::statx(proc, p, a[0], a[1], a[2], a[3], a[4]),
        Sysno::fallocate => sys_fs::fallocate(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::copy_file_range => sys_fs::copy_file_range(proc, p, a[0], a[1], a[2], a[3], a[4], a[5]),
        Sysno::pipe => sys_fs::pipe2(proc, p, a[0], 0),
        Sysno::pipe2 => sys_fs::pipe2(proc, p, a[0], a[1]),
        Sysno::wait4 => procs::wait4(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::waitid => procs::waitid(proc, p, a[0], a[1], a[2], a[3], a[4]),
        // No socket family is supported yet: glibc's nscd client and bash
        // go on without (Linux answers the same for a family it lacks).
        Sysno::socket | Sysno::socketpair => Err(Errno::EAFNOSUPPORT),
        // No descriptor is a socket yet (bash asks stdin's peer at start).
        Sysno::getpeername | Sysno::getsockname => proc.fds.get(a[0]).and(Err(Errno::ENOTSOCK)),
        // Advice only: Linux may ignore it too.
        Sysno::fadvise64 => proc.fds.get(a[0]).map(|_| 0),

        // process
        Sysno::execve => sys_exec::execve(proc, p, a[0], a[1], a[2]),
        Sysno::execveat if a[4] == 0 => sys_exec::execve_at(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::exit => sys_thread::exit_thread(proc, p, a[0] as i32),
        Sysno::exit_group => procs::exit(proc, p, a[0] as i32),
        Sysno::getpid => Ok(proc.pid as u64),
        Sysno::gettid => Ok(proc.thread.tid as u64),
        Sysno::getppid => Ok(proc.ppid as u64),
        Sysno::getuid => Ok(proc.uid as u64),
        Sysno::geteuid => Ok(proc.euid as u64),
        Sysno::getgid => Ok(proc.gid as u64),
        Sysno::getegid => Ok(proc.egid as u64),
        Sysno::getresuid => sys_proc::getres(p, [proc.uid, proc.euid, proc.euid], a),
        Sysno::getresgid => sys_proc::getres(p, [proc.gid, proc.egid, proc.egid], a),
        Sysno::setuid | Sysno::setgid | Sysno::setreuid | Sysno::setregid | Sysno::setresuid | Sysno::setresgid => {
            sys_proc::setid(proc, s, a)
        }
        Sysno::getgroups => sys_proc::getgroups(proc, p, a[0], a[1]),
        Sysno::getpgrp => Ok(proc.pgid as u64),
        Sysno::getpgid => procs::getpgid(proc, a[0]),
        Sysno::getsid => procs::getsid(proc, a[0]),
        Sysno::setpgid => procs::setpgid(proc, a[0], a[1]),
        Sysno::setsid => procs::setsid(proc),
        Sysno::umask => Ok(core::mem::replace(&mut proc.umask, a[0] as u32 & 0o777) as u64),
        Sysno::uname => sys_proc::uname(proc, p, a[0]),
        Sysno::sysinfo => sys_proc::sysinfo(proc, p, a[0]),
        Sysno::prlimit64 => sys_proc::prlimit(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::getrlimit => sys_proc::prlimit(proc, p, 0, a[0], 0, a[1]),
        Sysno::setrlimit => sys_proc::prlimit(proc, p, 0, a[0], a[1], 0),
        Sysno::getrandom => sys_proc::getrandom(p, a[0], a[1], a[2]),
        Sysno::sched_getaffinity => sys_proc::sched_getaffinity(proc, p, a[0], a[1], a[2]),
        Sysno::sched_yield => sched::yield_now(proc),
        // One vCPU, one NUMA node.
        Sysno::getcpu => {
            crate::user::UserPtr(a[0]).write_opt(p, &0u32)?;
            crate::user::UserPtr(a[1]).write_opt(p, &0u32).map(|_| 0)
        }
        Sysno::membarrier => sys_proc::membarrier(proc, a[0], a[1]),
        Sysno::prctl => sys_proc::prctl(proc, p, a[0], a[1]),
        Sysno::arch_prctl => sys_proc::arch_prctl(p, a[0], a[1]),
        Sysno::set_tid_address => {
            proc.thread.clear_child_tid = a[0];
            Ok(proc.thread.tid as u64)
        }
        Sysno::set_robust_list => sys_thread::set_robust_list(proc, a[0], a[1]),
        Sysno::get_robust_list => sys_thread::get_robust_list(proc, p, a[0], a[1], a[2]),
        Sysno::futex => sys_thread::futex(proc, p, a),

        // memory
        Sysno::brk => Ok(sys_mem::brk(proc, p, a[0])),
        Sysno::mmap => sys_mem::mmap(proc, p, a[0], a[1], a[2], a[3], a[4], a[5]),
        Sysno::munmap => sys_mem::munmap(proc, p, a[0], a[1]),
        Sysno::mprotect => sys_mem::mprotect(proc, p, a[0], a[1], a[2]),
        Sysno::mremap => sys_mem::mremap(proc, p, a[0], a[1], a[2], a[3], a[4]),
        Sysno::madvise => sys_mem::madvise(proc, p, a[0], a[1], a[2]),
        Sysno::msync => sys_mem::msync(proc, p, a[0], a[1], a[2]),

        // time
        Sysno::clock_gettime => sys_time::clock_gettime(proc, p, a[0], a[1]),
        Sysno::clock_getres => sys_time::clock_getres(p, a[0], a[1]),
        Sysno::getrusage => sys_time::getrusage(proc, p, a[0], a[1]),
        Sysno::times => sys_time::times(proc, p, a[0]),
        Sysno::gettimeofday => sys_time::gettimeofday(p, a[0], a[1]),
        Sysno::time => sys_time::time(p, a[0]),
        Sysno::nanosleep => sys_time::nanosleep(proc, p, a[0], a[1]),
        Sysno::clock_nanosleep => sys_time::clock_nanosleep(proc, p, a[0], a[1], a[2], a[3]),

        // signals
        Sysno::rt_sigaction => sys_signal::rt_sigaction(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::rt_sigprocmask => sys_signal::rt_sigprocmask(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::rt_sigpending => sys_signal::rt_sigpending(proc, p, a[0], a[1]),
        Sysno::kill => sys_signal::kill(proc, p, a[0] as i32, a[1]),
        Sysno::tkill => sys_signal::tkill(proc, p, None, a[0], a[1]),
        Sysno::tgkill => sys_signal::tkill(proc, p, Some(a[0]), a[1], a[2]),
        Sysno::rt_sigsuspend => sys_signal::rt_sigsuspend(proc, p, a[0], a[1]),
        Sysno::pause => sys_signal::pause(proc),
        Sysno::rt_sigtimedwait => sys_signal::rt_sigtimedwait(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::rt_sigqueueinfo => sys_signal::sigqueueinfo(proc, p, a[0], None, a[1], a[2]),
        Sysno::rt_tgsigqueueinfo => sys_signal::sigqueueinfo(proc, p, a[0], Some(a[1]), a[2], a[3]),

        // System V IPC
        Sysno::msgget => sys_ipc::msgget(proc, p, a[0], a[1]),
        Sysno::msgsnd => sys_ipc::msgsnd(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::msgrcv => sys_ipc::msgrcv(proc, p, a[0], a[1], a[2], a[3], a[4]),
        Sysno::msgctl => sys_ipc::msgctl(proc, p, a[0], a[1], a[2]),
        Sysno::semget => sys_ipc::semget(proc, p, a[0], a[1], a[2]),
        Sysno::semop => sys_ipc::semtimedop(proc, p, a[0], a[1], a[2], 0),
        Sysno::semtimedop => sys_ipc::semtimedop(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::semctl => sys_ipc::semctl(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::shmget => sys_ipc::shmget(proc, p, a[0], a[1], a[2]),
        Sysno::shmat => sys_ipc::shmat(proc, p, a[0], a[1], a[2]),
        Sysno::shmdt => sys_ipc::shmdt(proc, p, a[0]),
        Sysno::shmctl => sys_ipc::shmctl(proc, p, a[0], a[1], a[2]),

        // timers
        Sysno::alarm => sys_timer::alarm(proc, p, a[0]),
        Sysno::setitimer => sys_timer::setitimer(proc, p, a[0], a[1], a[2]),
        Sysno::getitimer => sys_timer::getitimer(proc, p, a[0], a[1]),
        Sysno::timer_create => sys_timer::timer_create(proc, p, a[0], a[1], a[2]),
        Sysno::timer_settime => sys_timer::timer_settime(proc, p, a[0], a[1], a[2], a[3]),
        Sysno::timer_gettime => sys_timer::timer_gettime(proc, p, a[0], a[1]),
        Sysno::timer_getoverrun => sys_timer::timer_getoverrun(proc, a[0]),
        Sysno::timer_delete => sys_timer::timer_delete(proc, a[0]),

        Sysno::sigaltstack | Sysno::rt_sigreturn | Sysno::clone | Sysno::clone3 | Sysno::fork | Sysno::vfork => Err(Errno::ENOSYS),
        s if QUIET_ENOSYS.contains(&s) => Err(Errno::ENOSYS),
        s => {
            if proc.first_warning(s.id() as u64) {
                p.warn(format_args!("unsupported syscall {}: answering ENOSYS", s.name()));
            }
            Err(Errno::ENOSYS)
        }
    }
}

/// chmod, chown, utimensat and truncate: on `path` from `dirfd`, or on the
/// descriptor `dirfd` itself when `path` is 0 (or empty with AT_EMPTY_PATH).
fn attr<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, a: Attr, flags: u64) -> SysResult {
    const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
    const AT_EMPTY_PATH: u64 = 0x1000;
    let nofollow = flags & AT_SYMLINK_NOFOLLOW != 0;
    if let Attr::Size(n) = a {
        if (n as i64) < 0 {
            return Err(Errno::EINVAL);
        }
    }
    let t = sys_fs::target(proc, p, dirfd, path, !nofollow, flags & AT_EMPTY_PATH != 0)?;
    sys_fs::set_attr(proc, p, t, a, nofollow)
}
