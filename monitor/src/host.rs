//! The host side of things the guest sees: its stdio, identity, clocks,
//! and how uk-run ends itself. The `libc` calls of the monitor live here.

use abi::boot::StdioInfo;
use abi::linux::{Stat, Termios, Utsname, Winsize};

pub fn stdio_info(fd: i32) -> StdioInfo {
    let mut info = StdioInfo::default();
    // SAFETY: fcntl on a descriptor number only queries it.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return info;
    }
    info.open = 1;
    info.status_flags = fl as u32;
    // SAFETY: st is a valid out-pointer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } == 0 {
        info.stat = stat_from(&st);
    }
    let mut t = Termios::default();
    // SAFETY: TCGETS writes a kernel termios (36 bytes) to &mut t, which has that layout.
    if unsafe { libc::ioctl(fd, libc::TCGETS, &mut t as *mut Termios) } == 0 {
        info.is_tty = 1;
        info.termios = t;
        let mut w = Winsize::default();
        // SAFETY: TIOCGWINSZ writes a struct winsize to &mut w.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut w as *mut Winsize) } == 0 {
            info.winsize = w;
        }
    }
    info
}

/// The guest's `struct stat` for a host one (the same Linux x86-64 layout).
pub fn stat_from(st: &libc::stat) -> Stat {
    Stat {
        st_dev: st.st_dev,
        st_ino: st.st_ino,
        st_nlink: st.st_nlink,
        st_mode: st.st_mode,
        st_uid: st.st_uid,
        st_gid: st.st_gid,
        _pad0: 0,
        st_rdev: st.st_rdev,
        st_size: st.st_size,
        st_blksize: st.st_blksize,
        st_blocks: st.st_blocks,
        st_atime: st.st_atime,
        st_atime_nsec: st.st_atime_nsec,
        st_mtime: st.st_mtime,
        st_mtime_nsec: st.st_mtime_nsec,
        st_ctime: st.st_ctime,
        st_ctime_nsec: st.st_ctime_nsec,
        _unused: [0; 3],
    }
}

pub fn uname() -> Utsname {
    // SAFETY: u is a valid out-pointer for uname.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::uname(&mut u) };
    let copy = |src: &[libc::c_char; 65]| {
        let mut d = [0u8; 65];
        for (a, b) in d.iter_mut().zip(src.iter()) {
            *a = *b as u8;
        }
        d[64] = 0;
        d
    };
    Utsname {
        sysname: copy(&u.sysname),
        nodename: copy(&u.nodename),
        release: copy(&u.release),
        version: copy(&u.version),
        machine: copy(&u.machine),
        domainname: copy(&u.domainname),
    }
}

pub struct Ids {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

pub fn ids() -> Ids {
    // SAFETY: these calls only read the process's credentials.
    unsafe {
        Ids {
            pid: libc::getpid() as u32,
            ppid: libc::getppid() as u32,
            uid: libc::getuid(),
            euid: libc::geteuid(),
            gid: libc::getgid(),
            egid: libc::getegid(),
        }
    }
}

/// Serves a Tty call: TCSETS* or TIOCSWINSZ on a host stdio terminal.
pub fn tty_ioctl(a: &abi::hc::Tty) -> i64 {
    const TCSETS: u32 = 0x5402;
    const TCSETSW: u32 = 0x5403;
    const TCSETSF: u32 = 0x5404;
    const TIOCSWINSZ: u32 = 0x5414;
    if a.fd > 2 {
        return -(libc::EBADF as i64);
    }
    let arg: *const libc::c_void = match a.request {
        TCSETS | TCSETSW | TCSETSF => &a.termios as *const Termios as *const libc::c_void,
        TIOCSWINSZ => &a.winsize as *const Winsize as *const libc::c_void,
        _ => return -(libc::EINVAL as i64),
    };
    // SAFETY: a terminal ioctl that reads the struct it is given, which is
    // the kernel's layout (abi::linux), on one of our stdio descriptors.
    let r = unsafe { libc::ioctl(a.fd as i32, a.request as _, arg) };
    if r < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as i64)
    } else {
        0
    }
}

/// The host terminals' attributes at start, put back when uk-run ends
/// (the program may have set raw mode, as an editor or a shell does).
static SAVED_TERMIOS: std::sync::Mutex<Vec<(i32, Termios)>> = std::sync::Mutex::new(Vec::new());

pub fn save_terminals(infos: &[StdioInfo; 3]) {
    let mut saved = SAVED_TERMIOS.lock().unwrap_or_else(|e| e.into_inner());
    for (fd, i) in infos.iter().enumerate() {
        if i.is_tty != 0 && !saved.iter().any(|(_, t)| *t == i.termios) {
            saved.push((fd as i32, i.termios));
        }
    }
}

pub fn restore_terminals() {
    const TCSETSW: libc::c_ulong = 0x5403;
    let saved = SAVED_TERMIOS.lock().unwrap_or_else(|e| e.into_inner());
    for (fd, t) in saved.iter() {
        // SAFETY: TCSETSW reads the termios given; fd is one of our stdio descriptors.
        unsafe { libc::ioctl(*fd, TCSETSW as _, t as *const Termios) };
    }
}

/// A signal sent to uk-run, not yet handed to the guest (0: none).
static PENDING_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// UK_RUN_DEBUG_TIMEOUT's alarm went off.
static DEBUG_TIMEOUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    PENDING_SIGNAL.store(sig, std::sync::atomic::Ordering::Relaxed);
}

extern "C" fn on_alarm(_: libc::c_int) {}

extern "C" fn on_debug_alarm(_: libc::c_int) {
    DEBUG_TIMEOUT.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn handle(sig: libc::c_int, f: extern "C" fn(libc::c_int)) {
    // SAFETY: installs a handler that only stores to an atomic; without
    // SA_RESTART, so that KVM_RUN and blocking calls return EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = f as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Signals sent to uk-run are the program's: they stop the vCPU, and the
/// monitor hands them to the guest kernel, which acts as Linux would (end
/// the program, with its output and shared mappings written out first).
/// The signal mask uk-run was started with (the program's, as exec keeps it).
pub fn inherited_sigmask() -> u64 {
    // SAFETY: reads the calling thread's mask into a sigset we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
        (1..64).filter(|&s| libc::sigismember(&set, s) == 1).fold(0u64, |m, s| m | 1 << (s - 1))
    }
}

pub fn forward_signals() {
    // The monitor must receive them whatever the program blocks: the guest
    // kernel keeps a blocked one pending, as Linux would.
    // SAFETY: changes only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM, kick_signal()] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2] {
        handle(sig, on_signal);
    }
    if !DEBUG_TIMEOUT_SET.load(std::sync::atomic::Ordering::Relaxed) {
        handle(libc::SIGALRM, on_alarm);
    }
    handle(kick_signal(), on_alarm);
}

static DEBUG_TIMEOUT_SET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ends a run that takes longer than `secs` (UK_RUN_DEBUG_TIMEOUT, for debugging).
pub fn debug_timeout(secs: u32) {
    DEBUG_TIMEOUT_SET.store(true, std::sync::atomic::Ordering::Relaxed);
    handle(libc::SIGALRM, on_debug_alarm);
    // SAFETY: alarm only schedules SIGALRM.
    unsafe { libc::alarm(secs) };
}

pub fn debug_timeout_fired() -> bool {
    DEBUG_TIMEOUT.load(std::sync::atomic::Ordering::Relaxed)
}

/// The signal sent to uk-run that the guest has not been given yet.
pub fn take_signal() -> i32 {
    PENDING_SIGNAL.swap(0, std::sync::atomic::Ordering::Relaxed)
}

pub fn signal_pending() -> bool {
    PENDING_SIGNAL.load(std::sync::atomic::Ordering::Relaxed) != 0
}

/// Stops the vCPU again in ~2 ms (SIGALRM), to look whether the guest has
/// taken its signal.
pub fn recheck_soon() {
    let t = libc::itimerval {
        it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
        it_value: libc::timeval { tv_sec: 0, tv_usec: 2000 },
    };
    if DEBUG_TIMEOUT_SET.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // SAFETY: setitimer only schedules SIGALRM, whose handler does nothing.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &t, std::ptr::null_mut()) };
}

/// The wake-up thread stopped the vCPU (see start_ticker).
static KICK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Tells the wake-up thread to end (before guest memory goes).
static TICKER_STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The signal the wake-up thread stops the vCPU with: one of its own, so
/// that SIGALRM keeps its meanings (the recheck timer, UK_RUN_DEBUG_TIMEOUT).
pub fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

/// Ends the wake-up thread and waits for it.
pub fn stop_ticker(t: std::thread::JoinHandle<()>) {
    TICKER_STOP.store(true, std::sync::atomic::Ordering::Relaxed);
    t.thread().unpark();
    let _ = t.join();
}

/// Whether the wake-up thread stopped the vCPU since last asked.
pub fn take_kick() -> bool {
    KICK.swap(false, std::sync::atomic::Ordering::Relaxed)
}

/// Starts the wake-up thread: it reads the guest's wake-up time (host
/// CLOCK_MONOTONIC ns at `word`, a host address inside guest RAM that the
/// guest writes without an exit; 0 means never) and, once it has come,
/// stops the vCPU of the calling thread with [`kick_signal`] (KVM_RUN
/// returns EINTR), at most once a millisecond while the time stays past. It looks
/// again every 2 ms, or at the time itself when that is sooner.
pub fn start_ticker(word: usize) -> std::thread::JoinHandle<()> {
    // SAFETY: pthread_self has no preconditions.
    let vcpu_thread = unsafe { libc::pthread_self() } as usize;
    std::thread::spawn(move || {
        // The wake-up thread takes no signal meant for the program.
        // SAFETY: changes only this thread's mask.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        }
        // SAFETY: `word` is an 8-byte aligned address in guest RAM, which
        // stays mapped for the monitor's whole life; the guest writes it
        // as one aligned store.
        let at = unsafe { &*(word as *const std::sync::atomic::AtomicU64) };
        while !TICKER_STOP.load(std::sync::atomic::Ordering::Relaxed) {
            let due = at.load(std::sync::atomic::Ordering::Relaxed);
            let now = clock_ns(libc::CLOCK_MONOTONIC);
            if due != 0 && now >= due {
                KICK.store(true, std::sync::atomic::Ordering::Relaxed);
                // SAFETY: the vCPU thread outlives this one (it joins it); the kick signal's handler does nothing.
                unsafe { libc::pthread_kill(vcpu_thread as libc::pthread_t, kick_signal()) };
                std::thread::park_timeout(std::time::Duration::from_millis(1));
                continue;
            }
            let wait = if due == 0 { 2_000_000 } else { (due - now).min(2_000_000) };
            std::thread::park_timeout(std::time::Duration::from_nanos(wait));
        }
    })
}

/// Maps in the pages of `bytes` (part of uk-run's own file) in one call
/// rather than a fault per 64 KiB: the embedded kernel is ~0.4 MB.
pub fn prefault(bytes: &[u8]) {
    let start = bytes.as_ptr() as usize & !4095;
    let end = bytes.as_ptr() as usize + bytes.len();
    // SAFETY: the range covers pages of our own read-only mapping; the advice
    // only faults them in.
    unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_READ) };
}

/// umask(0): files created for the guest get exactly the modes it asks for.
pub fn clear_umask() {
    // SAFETY: umask only changes the process's file-creation mask.
    unsafe { libc::umask(0) };
}

/// The soft and hard limits of an RLIMIT_* resource.
pub fn rlimit(res: libc::c_int) -> [u64; 2] {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: r is a valid out-pointer.
    unsafe { libc::getrlimit(res as _, &mut r) };
    [r.rlim_cur, r.rlim_max]
}

/// Raises the soft RLIMIT_NOFILE to `want` (at most the hard limit), so
/// that the host descriptors behind the guest's files are not limited by a
/// soft limit meant for one program. Best effort.
pub fn raise_nofile(want: u64) {
    let [soft, hard] = rlimit(libc::RLIMIT_NOFILE as libc::c_int);
    let new = want.min(hard);
    if new > soft {
        let r = libc::rlimit { rlim_cur: new, rlim_max: hard };
        // SAFETY: r is a valid rlimit; only this process's limit changes.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) };
    }
}

pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn random_bytes(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most the remaining length into buf.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr() as *mut libc::c_void, buf.len() - done, 0) };
        if n > 0 {
            done += n as usize;
        }
    }
}

pub fn sleep_ns(ns: u64) {
    let mut req = libc::timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 };
    loop {
        let mut rem = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: valid pointers to timespecs.
        if unsafe { libc::nanosleep(&req, &mut rem) } == 0 {
            return;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) || signal_pending() {
            return;
        }
        req = rem;
    }
}

/// Writes all of `data` to a host descriptor; returns 0 or the errno.
pub fn write_all(fd: i32, mut data: &[u8]) -> i32 {
    while !data.is_empty() {
        // SAFETY: data is a valid buffer of data.len() bytes.
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        if n >= 0 {
            data = &data[n as usize..];
            continue;
        }
        match std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) {
            libc::EINTR => {}
            libc::EAGAIN => {
                let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, -1) };
            }
            e => return e,
        }
    }
    0
}

/// A blocking read; returns bytes read or a negative errno.
pub fn read(fd: i32, buf: &mut [u8]) -> i64 {
    loop {
        // SAFETY: buf is a valid buffer of buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n >= 0 {
            return n as i64;
        }
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        if e == libc::EAGAIN {
            let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut p, 1, -1) };
        } else if e != libc::EINTR || signal_pending() {
            return -(e as i64);
        }
    }
}

// The teardown helper (see defer_teardown): clone(CLONE_VM | SIGCHLD) onto
// a small stack of its own; the child uses only registers and raw syscalls,
// so sharing the address space with a running libc is safe. It closes every
// descriptor (stdout and stderr reach EOF when uk-run exits), asks for
// SIGKILL when its parent exits, and waits. r8 carries the parent's pid.
core::arch::global_asm!(
    ".globl uk_defer_teardown",
    "uk_defer_teardown:",
    "mov r8, rsi",
    "mov rsi, rdi",
    "mov edi, 0x111", // CLONE_VM | SIGCHLD
    "xor edx, edx",
    "xor r10d, r10d",
    "mov eax, 56", // clone
    "syscall",
    "test rax, rax",
    "jnz 3f",
    "xor edi, edi",
    "mov esi, -1",
    "xor edx, edx",
    "mov eax, 436", // close_range(0, ~0, 0)
    "syscall",
    "mov edi, 1", // PR_SET_PDEATHSIG
    "mov esi, 9", // SIGKILL
    "mov eax, 157", // prctl
    "syscall",
    "mov eax, 110", // getppid
    "syscall",
    "cmp rax, r8",
    "jne 2f",
    "1:",
    "mov eax, 34", // pause
    "syscall",
    "jmp 1b",
    "2:",
    "xor edi, edi",
    "mov eax, 60", // exit
    "syscall",
    "3:",
    "ret",
);

extern "C" {
    fn uk_defer_teardown(stack_top: *mut u8, parent: libc::pid_t) -> i64;
}

/// Lets uk-run's exit skip tearing down the VM and guest memory (1-2 ms
/// here: KVM releases its shadow pages, the host frees the huge pages). A
/// helper sharing the address space keeps them alive, holding no
/// descriptors, so the parent sees uk-run's exit status and stdout's EOF at
/// once; when uk-run has exited the helper is killed (PR_SET_PDEATHSIG) and
/// the teardown runs then, off anyone's critical path. Best effort: if the
/// helper cannot start, uk-run tears down itself.
pub fn defer_teardown() {
    const STACK: usize = 4096;
    static mut HELPER_STACK: [u64; STACK / 8] = [0; STACK / 8];
    // SAFETY: the helper runs only the register-only code above on its own
    // static stack (used only by it, and only once: uk-run exits right
    // after); getpid has no preconditions.
    unsafe {
        let top = (&raw mut HELPER_STACK as *mut u8).add(STACK);
        uk_defer_teardown(top, libc::getpid());
    }
}

/// Ends uk-run with `signal`, as the guest program ended, so that the
/// parent sees the same wait status as for a native run; no core dump.
pub fn die_by_signal(signal: u32) -> ! {
    restore_terminals();
    let sig = signal as i32;
    // SAFETY: plain process-state calls; raise() ends the process for every
    // signal whose default action terminates it, which are the ones the
    // kernel reports.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

/// poll(2) on descriptors 0..3 with the events asked for each (0: skip).
pub fn poll(events: [u16; 3], timeout_ms: i32) -> [u16; 3] {
    let mut fds: Vec<libc::pollfd> = (0..3)
        .filter(|&i| events[i] != 0)
        .map(|i| libc::pollfd { fd: i as i32, events: events[i] as i16, revents: 0 })
        .collect();
    // Interrupted (the wake-up thread, a signal the guest does not take
    // now): wait on for the time left, not the whole timeout again.
    let deadline = (timeout_ms >= 0).then(|| clock_ns(libc::CLOCK_MONOTONIC) + timeout_ms as u64 * 1_000_000);
    let mut ms = timeout_ms;
    loop {
        // SAFETY: fds is a valid array of fds.len() pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) || signal_pending() {
            break;
        }
        if let Some(d) = deadline {
            ms = d.saturating_sub(clock_ns(libc::CLOCK_MONOTONIC)).div_ceil(1_000_000) as i32;
        }
    }
    let mut out = [0u16; 3];
    for f in &fds {
        out[f.fd as usize] = f.revents as u16;
    }
    out
}

/// Maps a file read-only for the life of the process (only the pages read
/// become resident: the loader reads the headers, segments are read with
/// pread straight into guest memory).
pub fn map_file(f: &std::fs::File, len: usize) -> std::io::Result<&'static [u8]> {
    use std::os::fd::AsRawFd;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: a new private read-only mapping of an open file; it is never unmapped.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, f.as_raw_fd(), 0) };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: p..p+len is mapped readable for the rest of the process.
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, len) })
}
