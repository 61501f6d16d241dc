//! The state of the one process a uk-run VM runs.

use crate::fd::{Entry, FdTable, Object, O_ACCMODE};
use crate::mm::Mm;
use crate::signal::Signals;
use abi::boot::BootInfo;
use abi::linux::{Rlimit, Utsname};
use alloc::vec::Vec;

pub const RLIM_INFINITY: u64 = u64::MAX;
pub const RLIMIT_NLIMITS: usize = 16;
pub const RLIMIT_DATA: usize = 2;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_AS: usize = 9;
pub const RLIMIT_CORE: usize = 4;
pub const RLIMIT_NOFILE: usize = 7;
pub const RLIMIT_MEMLOCK: usize = 8;
pub const RLIMIT_MSGQUEUE: usize = 12;

pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub uts: Utsname,
    pub exe: Vec<u8>,
    /// A host handle on the program's file while `exe` is a host path (see
    /// abi::boot::BootInfo::exe_handle).
    pub exe_handle: Option<u32>,
    pub cwd: Vec<u8>,
    /// The working directory held open, when it is in a share: it follows
    /// renames (see sys_fs::MOVES).
    pub cwd_file: Option<alloc::rc::Rc<crate::fd::OpenFile>>,
    pub fds: FdTable,
    pub vfs: crate::vfs::Vfs,
    pub mm: Mm,
    pub signals: Signals,
    /// The running thread; the others are in `threads` (see crate::sched).
    pub thread: crate::sched::Thread,
    pub threads: crate::sched::Threads,
    pub timers: Vec<crate::sys_timer::Timer>,
    pub ipc: crate::sys_ipc::Ipc,
    /// membarrier's registrations (its REGISTER_* command bits).
    pub membarrier_registered: u64,
    /// The vDSO's address (AT_SYSINFO_EHDR for execve; 0: none).
    pub vdso_base: u64,
    pub rlimits: [Rlimit; RLIMIT_NLIMITS],
    /// CLOCK_MONOTONIC at start, and nanoseconds spent blocked since.
    pub start_mono_ns: u64,
    pub blocked_ns: u64,
    pub umask: u32,
    /// Bytes of guest RAM.
    pub mem_size: u64,
    /// The stack pointer the program started with (argc, argv, envp: /proc/self/cmdline).
    pub start_sp: u64,
    pub dumpable: bool,
    pub no_new_privs: bool,
    pub pdeathsig: u32,
    pub(crate) verbose: bool,
    pub trace: bool,
    pub(crate) warned: [u64; 8],
    /// The process group and session.
    pub pgid: u32,
    pub sid: u32,
    /// The address space (the platform's handle), and whether it is this
    /// process's own (a vfork child runs in its parent's until execve).
    pub space: u64,
    pub owns_space: bool,
    /// Running, or ended and waiting for its parent (crate::procs).
    pub state: crate::procs::State,
    /// The signal the parent gets when it ends (SIGCHLD; 0: none).
    pub exit_signal: u32,
    /// A vfork child: its parent's thread waits until it execs or ends.
    pub vfork_parent: Option<u32>,
    /// The rewritten `cpuid` sites of the program (the platform knows the
    /// running process's).
    pub cpuid_sites: Vec<u64>,
    /// CPU time of the children it waited for (RUSAGE_CHILDREN, times).
    pub children_cpu_ns: u64,
    /// PR_SET_CHILD_SUBREAPER: orphaned descendants come to it.
    pub subreaper: bool,
    /// The other processes: meaningful in the running one (crate::procs).
    pub world: crate::procs::World,
}

impl Process {
    /// The process as the monitor described it at boot.
    /// `etc`: host files for /etc (name, bytes: localtime, hostname, ...),
    /// which the kernel read from where the boot information says the
    /// monitor put them.
    pub fn from_boot(b: &BootInfo, start_mono_ns: u64, etc: Vec<(Vec<u8>, Vec<u8>)>) -> Process {
        let inf = Rlimit { rlim_cur: RLIM_INFINITY, rlim_max: RLIM_INFINITY };
        let mut rlimits = [inf; RLIMIT_NLIMITS];
        rlimits[RLIMIT_STACK] = Rlimit { rlim_cur: b.rlimit_stack[0], rlim_max: b.rlimit_stack[1] };
        rlimits[RLIMIT_NOFILE] = Rlimit { rlim_cur: b.rlimit_nofile[0], rlim_max: b.rlimit_nofile[1] };
        rlimits[RLIMIT_CORE] = Rlimit { rlim_cur: 0, rlim_max: RLIM_INFINITY };
        rlimits[RLIMIT_MEMLOCK] = Rlimit { rlim_cur: 8 << 20, rlim_max: 8 << 20 };
        rlimits[RLIMIT_MSGQUEUE] = Rlimit { rlim_cur: 819200, rlim_max: 819200 };
        for (n, cur) in [(13usize, 0u64), (14, 0)] {
            rlimits[n] = Rlimit { rlim_cur: cur, rlim_max: cur };
        }

        let mut fds = FdTable::new(b.rlimit_nofile[0].min(1 << 20));
        for (fd, info) in b.stdio.iter().enumerate() {
            if info.open != 0 {
                let e = Entry {
                    object: Object::HostStdio { host_fd: fd as u32, info: alloc::boxed::Box::new(*info) },
                    cloexec: false,
                    status: info.status_flags,
                };
                let _ = fds.install_at(fd as u64, e);
            }
        }
        let exe = &b.exe[..(b.exe_len as usize).min(b.exe.len())];
        let base = exe.rsplit(|&c| c == b'/').next().unwrap_or(exe);
        let mut comm = [0u8; 16];
        let n = base.len().min(15);
        comm[..n].copy_from_slice(&base[..n]);
        let regions = &b.regions[..(b.nregions as usize).min(b.regions.len())];
        let shares = b.shares[..(b.nshares as usize).min(b.shares.len())]
            .iter()
            .map(|s| crate::vfs::Share {
                at: crate::vfs::normalize(&[], &s.guest_path[..(s.guest_path_len as usize).min(s.guest_path.len())]),
                read_only: s.read_only != 0,
                under: s.under != 0,
            })
            .collect();
        let boot_ns = b.realtime_ref_ns;
        Process {
            pid: b.pid,
            ppid: b.ppid,
            uid: b.uid,
            euid: b.euid,
            gid: b.gid,
            egid: b.egid,
            uts: b.uts,
            exe: b.exe[..(b.exe_len as usize).min(b.exe.len())].to_vec(),
            exe_handle: (b.exe_handle != u32::MAX).then_some(b.exe_handle),
            cwd: b.cwd[..(b.cwd_len as usize).min(b.cwd.len())].to_vec(),
            cwd_file: None,
            fds,
            vfs: crate::vfs::Vfs::new(shares, b.uid, b.gid, boot_ns, etc),
            mm: Mm::new(regions, b.brk_start),
            signals: Signals::default(),
            thread: {
                let mut t = crate::sched::Thread::new(b.pid, comm, start_mono_ns);
                t.sig.mask = b.sigmask & !crate::signal::UNBLOCKABLE;
                t
            },
            threads: crate::sched::Threads::default(),
            timers: Vec::new(),
            ipc: crate::sys_ipc::Ipc::default(),
            membarrier_registered: 0,
            vdso_base: b.vdso_base,
            rlimits,
            start_mono_ns,
            blocked_ns: 0,
            umask: 0o022,
            mem_size: b.mem_size,
            start_sp: b.sp,
            dumpable: true,
            no_new_privs: false,
            pdeathsig: 0,
            verbose: b.flags & abi::boot::FLAG_VERBOSE != 0,
            trace: b.flags & abi::boot::FLAG_TRACE != 0,
            warned: [0; 8],
            pgid: b.pid,
            sid: b.pid,
            space: 0,
            owns_space: true,
            state: crate::procs::State::Alive,
            exit_signal: abi::linux::sig::SIGCHLD,
            vfork_parent: None,
            cpuid_sites: b.cpuid_sites[..(b.ncpuid_sites as usize).min(b.cpuid_sites.len())].to_vec(),
            children_cpu_ns: 0,
            subreaper: false,
            world: crate::procs::World::new(b.pid),
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// True the first time it is asked about syscall `nr`: warnings are once per syscall.
    pub fn first_warning(&mut self, nr: u64) -> bool {
        let (w, b) = ((nr as usize / 64) % 8, nr % 64);
        let first = self.warned[w] & (1 << b) == 0;
        self.warned[w] |= 1 << b;
        first
    }

    pub fn access_mode(status: u32) -> u32 {
        status & O_ACCMODE
    }
}
