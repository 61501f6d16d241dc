//! Processes: fork, vfork and clone without CLONE_VM's threads, their ends
//! (zombies, wait4, waitid, SIGCHLD, re-parenting to the first process),
//! process groups and sessions.
//!
//! Every process of the VM is a [`Process`] with its own address space (the
//! platform's, one page table each) and threads. The running process is the
//! one the kernel holds; the others wait in its [`World`]. What all
//! processes share (the in-memory file tree, SysV IPC, the world itself)
//! lives in the running one and moves to the next at each switch
//! ([`switch`]), so every syscall reaches it as before, through `proc`.
//! Only the running process's memory can be reached: what a process does
//! to another (a signal, a wake-up, re-parenting) changes only its
//! [`Process`] fields, never its memory.

use crate::sched::{self, Thread, Tid, Wait, WaitOn};
use crate::signal::{Regs, Signals};
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::{sig, Errno, SigInfo};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

pub type Pid = u32;

/// A process's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Alive,
    /// Ended: the wait status its parent gets (exit code << 8, or the signal).
    Zombie { status: i32 },
}

/// The processes that are not running, and the numbering of all.
#[derive(Default)]
pub struct World {
    pub procs: BTreeMap<Pid, Box<Process>>,
    /// The last process or thread id handed out.
    pub last_id: u32,
    /// The first process: orphans' new parent; its end ends the VM.
    pub init: Pid,
    /// The sites of programs exec'd (crate::sys_exec).
    pub exec_sites: crate::sys_exec::SitesCache,
    /// MAP_SHARED file pages of live mappings: (file, offset of the first, frames).
    pub file_frames: Vec<(crate::sys_mem::FileId, u64, alloc::rc::Weak<crate::mm::SharedFrames>)>,
}

impl World {
    pub fn new(init: Pid) -> World {
        World { procs: BTreeMap::new(), last_id: init, init, exec_sites: Default::default(), file_frames: Vec::new() }
    }
}

/// A new process or thread id, unused by any process or thread.
pub fn new_id(proc: &mut Process) -> u32 {
    loop {
        proc.world.last_id = proc.world.last_id.wrapping_add(1).max(2);
        let id = proc.world.last_id;
        let used = proc.thread_mut(id).is_some()
            || id == proc.pid
            || proc.world.procs.values_mut().any(|o| o.pid == id || o.pgid == id || o.thread_mut(id).is_some());
        if !used {
            return id;
        }
    }
}

impl Process {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, State::Zombie { .. })
    }

    /// The process `pid`, the running one included.
    pub fn process_mut(&mut self, pid: Pid) -> Option<&mut Process> {
        if pid == self.pid {
            Some(self)
        } else {
            self.world.procs.get_mut(&pid).map(|b| &mut **b)
        }
    }

    /// Whether a thread of another process could run now.
    pub fn other_processes_runnable(&self) -> bool {
        self.world.procs.values().any(|o| !o.threads.runq.is_empty())
    }

    /// Whether anything but the running thread exists that could fill or
    /// drain a pipe (a thread of this process or a live process).
    pub fn others_exist(&self) -> bool {
        self.nthreads() > 1 || self.world.procs.values().any(|o| !o.is_zombie())
    }
}

/// Runs process `pid` from now on: its address space, and the shared state
/// moved into it. A zombie left behind gives back its memory.
pub fn switch<P: Platform>(cur: &mut Box<Process>, p: &mut P, pid: Pid) {
    let Some(mut next) = cur.world.procs.remove(&pid) else { return };
    core::mem::swap(&mut next.vfs, &mut cur.vfs);
    core::mem::swap(&mut next.ipc, &mut cur.ipc);
    core::mem::swap(&mut next.world, &mut cur.world);
    if next.space != cur.space {
        p.switch_space(next.space);
    }
    p.set_cpuid_sites(&next.cpuid_sites);
    let mut old = core::mem::replace(cur, next);
    if old.is_zombie() && old.owns_space {
        p.free_space(old.space);
        old.owns_space = false;
    }
    if old.is_zombie() && reaps_itself(cur, &old) {
        return;
    }
    cur.world.procs.insert(old.pid, old);
}

/// Whether a zombie's parent does not wait for it (SIGCHLD ignored or
/// SA_NOCLDWAIT): then it goes at once.
fn reaps_itself(world_holder: &mut Process, z: &Process) -> bool {
    let Some(parent) = world_holder.process_mut(z.ppid) else { return true };
    let a = parent.signals.action(sig::SIGCHLD);
    z.exit_signal == sig::SIGCHLD && (a.handler == abi::linux::SIG_IGN || a.flags & abi::linux::sa::SA_NOCLDWAIT != 0)
}

pub const CLONE_VFORK: u64 = 0x4000;
pub const CLONE_PARENT: u64 = 0x8000;
/// Namespaces, cgroups, pidfds: not for processes inside one VM.
const CLONE_REFUSED: u64 = 0x7e02_0000 | 0x1000 | 0x0200_0000_0000;

/// clone without CLONE_THREAD (fork, vfork, posix_spawn): a new process.
/// With CLONE_VM it runs in this one's address space (vfork; the parent
/// waits with CLONE_VFORK), without it in a copy.
#[allow(clippy::too_many_arguments)]
pub fn fork<P: Platform>(proc: &mut Process, p: &mut P, regs: &Regs, flags: u64, stack: u64, ptid: u64, ctid: u64, tls: u64) -> SysResult {
    use crate::sys_thread::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_SIGHAND, CLONE_VM};
    if flags & CLONE_REFUSED != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (CLONE_FILES | CLONE_SIGHAND | CLONE_FS) != 0 {
        if proc.first_warning(56) {
            p.warn(format_args!("clone of a process with flags {flags:#x} (shared descriptors or handlers): uk-run does not share them: answering ENOSYS"));
        }
        return Err(Errno::ENOSYS);
    }
    let exit_signal = (flags & 0xff) as u32;
    if exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    let shared = flags & CLONE_VM != 0;
    let space = if shared { proc.space } else { p.new_space(true)? };
    let pid = new_id(proc);
    let mut regs = *regs;
    regs.rax = 0;
    if stack != 0 {
        regs.rsp = stack;
    }
    let fs = if flags & CLONE_SETTLS != 0 { tls } else { p.fs_base() };
    if let Err(e) = p.spawn_thread(pid, &regs, fs) {
        if !shared {
            p.free_space(space);
        }
        return Err(e);
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = UserPtr(ptid).write(p, &pid);
    }
    let now = p.clock_ns(false);
    let mut t = Thread::new(pid, proc.thread.comm, now);
    t.sig.mask = proc.thread.sig.mask;
    t.sig.altstack = proc.thread.sig.altstack;
    if flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_child_tid = ctid;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        // Written in the child's memory, when it first runs.
        t.set_child_tid = ctid;
    }
    let mut threads = crate::sched::Threads::default();
    threads.runq.push_back(pid);
    let child = Process {
        pid,
        ppid: if flags & CLONE_PARENT != 0 { proc.ppid } else { proc.pid },
        uid: proc.uid,
        euid: proc.euid,
        gid: proc.gid,
        egid: proc.egid,
        uts: proc.uts,
        exe: proc.exe.clone(),
        exe_handle: proc.exe_handle,
        cwd: proc.cwd.clone(),
        cwd_file: proc.cwd_file.clone(),
        fds: proc.fds.clone(),
        vfs: Default::default(),
        mm: proc.mm.clone(),
        signals: Signals { actions: proc.signals.actions, pending: Default::default() },
        thread: t,
        threads,
        timers: Vec::new(),
        ipc: Default::default(),
        membarrier_registered: 0,
        vdso_base: proc.vdso_base,
        rlimits: proc.rlimits,
        start_mono_ns: now,
        blocked_ns: 0,
        umask: proc.umask,
        mem_size: proc.mem_size,
        start_sp: proc.start_sp,
        dumpable: proc.dumpable,
        no_new_privs: proc.no_new_privs,
        pdeathsig: 0,
        verbose: proc.verbose(),
        trace: proc.trace,
        warned: proc.warned,
        pgid: proc.pgid,
        sid: proc.sid,
        space,
        owns_space: !shared,
        state: State::Alive,
        exit_signal,
        vfork_parent: (flags & CLONE_VFORK != 0).then_some(proc.thread.tid),
        cpuid_sites: proc.cpuid_sites.clone(),
        children_cpu_ns: 0,
        subreaper: false,
        world: World::default(),
    };
    proc.world.procs.insert(pid, Box::new(child));
    if flags & CLONE_VFORK != 0 {
        return sched::block(proc, Wait::new(WaitOn::Vfork(pid), None, Some(Ok(pid as u64)), Errno::ERESTARTNOINTR));
    }
    Ok(pid as u64)
}

/// A vfork child no longer uses its parent's memory (it has exec'd or
/// ended): the parent goes on.
pub fn release_vfork(proc: &mut Process) {
    let Some(tid) = proc.vfork_parent.take() else { return };
    let (ppid, me) = (proc.ppid, proc.pid);
    if let Some(parent) = proc.process_mut(ppid) {
        if parent.thread_mut(tid).is_some_and(|t| matches!(t.wait, Some(Wait { on: WaitOn::Vfork(c), .. }) if c == me)) {
            sched::wake(parent, tid, Some(Ok(me as u64)));
        }
    }
}

/// exit_group, and the end of the last thread: the process ends with
/// `code`. The first process's end ends the VM.
pub fn exit<P: Platform>(proc: &mut Process, p: &mut P, code: i32) -> ! {
    if proc.pid == proc.world.init {
        crate::sys_mem::write_back_all(proc, p);
        p.exit(code)
    }
    end(proc, p, (code & 0xff) << 8);
    p.leave()
}

/// The process dies of signal `s` (its default action).
pub fn die<P: Platform>(proc: &mut Process, p: &mut P, s: u32, fault: Option<crate::FaultInfo>) -> ! {
    if proc.pid == proc.world.init {
        crate::sys_mem::write_back_all(proc, p);
        p.kill(s, fault)
    }
    end(proc, p, s as i32);
    p.leave()
}

/// The running process ends with wait status `status`: its MAP_SHARED
/// pages go back to their files, its threads, descriptors and timers go, its children pass to the first process, and
/// its parent hears of it. Its memory goes once another process runs.
fn end<P: Platform>(proc: &mut Process, p: &mut P, status: i32) {
    sched::end_others(proc, p);
    proc.thread.exited = true;
    p.thread_exit(proc.thread.tid);
    let now = p.clock_ns(false);
    let cpu = proc.thread.cpu_ns + now.saturating_sub(proc.thread.ran_since);
    for e in core::mem::take(&mut proc.fds).into_entries() {
        crate::sys_fs::release(p, Some(e));
    }
    if let Some(f) = proc.cwd_file.take() {
        crate::sys_fs::release_file(p, f);
    }
    crate::sys_mem::drop_shared(proc, p);
    proc.mm = Default::default();
    proc.timers.clear();
    proc.state = State::Zombie { status };
    proc.children_cpu_ns += cpu;
    release_vfork(proc);
    // Orphans go to the nearest ancestor that is a subreaper, else to the first process.
    let me = proc.pid;
    let init = {
        let mut up = proc.ppid;
        loop {
            match proc.world.procs.get(&up) {
                Some(a) if a.subreaper && !a.is_zombie() => break up,
                Some(a) if a.pid != proc.world.init => up = a.ppid,
                _ => break proc.world.init,
            }
        }
    };
    let mut orphan_zombies = false;
    for o in proc.world.procs.values_mut() {
        if o.ppid == me {
            o.ppid = init;
            orphan_zombies |= o.is_zombie();
            if o.pdeathsig != 0 {
                let info = SigInfo { signo: o.pdeathsig as i32, code: abi::linux::si::SI_USER, fields: [me as u64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], ..SigInfo::default() };
                let _ = crate::sys_signal::send(o, p, None, info);
            }
        }
    }
    if orphan_zombies {
        if let Some(i) = proc.world.procs.get_mut(&init) {
            child_changed(i);
        }
    }
    let (ppid, sig_no) = (proc.ppid, proc.exit_signal);
    let info = chld_info(me, proc.uid, status, cpu);
    if let Some(parent) = proc.world.procs.get_mut(&ppid) {
        if sig_no != 0 {
            let mut info = info;
            info.signo = sig_no as i32;
            let _ = crate::sys_signal::send(parent, p, None, info);
        }
        child_changed(parent);
    }
    sched::wake_io(proc);
}

/// SIGCHLD's siginfo for a child that ended with wait status `status`.
fn chld_info(pid: Pid, uid: u32, status: i32, cpu_ns: u64) -> SigInfo {
    let (code, st) = if status & 0x7f == 0 { (CLD_EXITED, (status >> 8) & 0xff) } else { (CLD_KILLED, status & 0x7f) };
    let ticks = cpu_ns / 10_000_000;
    SigInfo {
        signo: sig::SIGCHLD as i32,
        code,
        fields: [pid as u64 | (uid as u64) << 32, st as u32 as u64, ticks, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ..SigInfo::default()
    }
}

const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;

/// A child of `parent` changed state: its threads in wait4 or waitid look again.
fn child_changed(parent: &mut Process) {
    let waiting: Vec<Tid> = core::iter::once(&parent.thread)
        .chain(parent.threads.others.values())
        .filter(|t| matches!(t.wait, Some(Wait { on: WaitOn::Child, .. })))
        .map(|t| t.tid)
        .collect();
    for t in waiting {
        sched::wake(parent, t, None);
    }
}

pub const WNOHANG: u64 = 1;
pub const WUNTRACED: u64 = 2;
pub const WEXITED: u64 = 4;
pub const WCONTINUED: u64 = 8;
pub const WNOWAIT: u64 = 0x0100_0000;
const WALL_CLONE: u64 = 0x4000_0000 | 0x8000_0000 | 0x2000_0000;

/// Which children a wait is for.
#[derive(Clone, Copy)]
enum Which {
    Any,
    Pid(Pid),
    Group(u32),
}

impl Which {
    fn matches(self, c: &Process) -> bool {
        match self {
            Which::Any => true,
            Which::Pid(p) => c.pid == p,
            Which::Group(g) => c.pgid == g,
        }
    }
}

/// A child that ended and matches: (pid, status, uid, cpu).
fn find_zombie(proc: &Process, which: Which) -> Option<(Pid, i32, u32, u64)> {
    proc.world.procs.values().filter(|c| c.ppid == proc.pid && which.matches(c)).find_map(|c| match c.state {
        State::Zombie { status } => Some((c.pid, status, c.uid, c.children_cpu_ns)),
        State::Alive => None,
    })
}

fn has_child(proc: &Process, which: Which) -> bool {
    proc.world.procs.values().any(|c| c.ppid == proc.pid && which.matches(c))
}

fn reap(proc: &mut Process, pid: Pid, cpu: u64) {
    proc.world.procs.remove(&pid);
    proc.children_cpu_ns += cpu;
}

pub fn wait4<P: Platform>(proc: &mut Process, p: &mut P, pid: u64, status: u64, options: u64, rusage: u64) -> SysResult {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WALL_CLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = pid as i32;
    let which = match pid {
        -1 => Which::Any,
        0 => Which::Group(proc.pgid),
        n if n < 0 => Which::Group(n.unsigned_abs()),
        n => Which::Pid(n as u32),
    };
    if let Some((c, st, _, cpu)) = find_zombie(proc, which) {
        UserPtr(status).write_opt(p, &st)?;
        if rusage != 0 {
            write_rusage(p, rusage, cpu)?;
        }
        reap(proc, c, cpu);
        return Ok(c as u64);
    }
    if !has_child(proc, which) {
        return Err(Errno::ECHILD);
    }
    if options & WNOHANG != 0 {
        return Ok(0);
    }
    sched::block(proc, Wait::new(WaitOn::Child, None, None, Errno::ERESTARTSYS))
}

/// struct rusage (144 bytes) with the CPU time as user time.
pub fn write_rusage<P: Platform>(p: &mut P, at: u64, cpu_ns: u64) -> Result<(), Errno> {
    let mut b = [0u8; 144];
    b[0..8].copy_from_slice(&(cpu_ns / 1_000_000_000).to_le_bytes());
    b[8..16].copy_from_slice(&((cpu_ns % 1_000_000_000) / 1000).to_le_bytes());
    p.write_user(at, &b)
}

const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const P_PGID: u64 = 2;

pub fn waitid<P: Platform>(proc: &mut Process, p: &mut P, idtype: u64, id: u64, infop: u64, options: u64, rusage: u64) -> SysResult {
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WALL_CLONE) != 0
        || options & (WUNTRACED | WEXITED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if id as i32 > 0 => Which::Pid(id as u32),
        P_PGID if id as i32 >= 0 => Which::Group(if id == 0 { proc.pgid } else { id as u32 }),
        _ => return Err(Errno::EINVAL),
    };
    if options & WEXITED != 0 {
        if let Some((c, st, uid, cpu)) = find_zombie(proc, which) {
            if infop != 0 {
                UserPtr(infop).write(p, &chld_info(c, uid, st, cpu))?;
            }
            if rusage != 0 {
                write_rusage(p, rusage, cpu)?;
            }
            if options & WNOWAIT == 0 {
                reap(proc, c, cpu);
            }
            return Ok(0);
        }
    }
    if !has_child(proc, which) {
        return Err(Errno::ECHILD);
    }
    if options & WNOHANG != 0 {
        // No child has changed: siginfo's si_pid (and si_signo) are 0.
        if infop != 0 {
            UserPtr(infop).write(p, &SigInfo::default())?;
        }
        return Ok(0);
    }
    sched::block(proc, Wait::new(WaitOn::Child, None, None, Errno::ERESTARTSYS))
}

pub fn getpgid(proc: &mut Process, pid: u64) -> SysResult {
    if pid == 0 {
        return Ok(proc.pgid as u64);
    }
    proc.process_mut(pid as Pid).map(|o| o.pgid as u64).ok_or(Errno::ESRCH)
}

pub fn getsid(proc: &mut Process, pid: u64) -> SysResult {
    if pid == 0 {
        return Ok(proc.sid as u64);
    }
    proc.process_mut(pid as Pid).map(|o| o.sid as u64).ok_or(Errno::ESRCH)
}

pub fn setpgid(proc: &mut Process, pid: u64, pgid: u64) -> SysResult {
    if (pgid as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let target = if pid == 0 { proc.pid } else { pid as Pid };
    let pgid = if pgid == 0 { target } else { pgid as u32 };
    let (me, sid) = (proc.pid, proc.sid);
    // The group must exist in the caller's session, unless it is the target's own id.
    let exists = pgid == target
        || (proc.pgid == pgid && proc.sid == sid)
        || proc.world.procs.values().any(|o| o.pgid == pgid && o.sid == sid && !o.is_zombie());
    let t = proc.process_mut(target).ok_or(Errno::ESRCH)?;
    if target != me && t.ppid != me {
        return Err(Errno::ESRCH);
    }
    if t.sid != sid || t.sid == t.pid {
        return Err(Errno::EPERM);
    }
    if !exists {
        return Err(Errno::EPERM);
    }
    t.pgid = pgid;
    Ok(0)
}

pub fn setsid(proc: &mut Process) -> SysResult {
    let me = proc.pid;
    let leader = proc.pgid == me || proc.world.procs.values().any(|o| o.pgid == me);
    if leader {
        return Err(Errno::EPERM);
    }
    proc.pgid = me;
    proc.sid = me;
    Ok(me as u64)
}

/// The processes kill(pid) reaches, as ids: ESRCH if none.
pub fn kill_targets(proc: &Process, pid: i32) -> Result<Vec<Pid>, Errno> {
    let live = |o: &Process| !o.is_zombie();
    let all = core::iter::once(proc).chain(proc.world.procs.values().map(|b| &**b));
    let v: Vec<Pid> = match pid {
        -1 => all.filter(|o| live(o) && o.pid != proc.world.init && o.pid != proc.pid).map(|o| o.pid).collect(),
        0 => all.filter(|o| live(o) && o.pgid == proc.pgid).map(|o| o.pid).collect(),
        n if n < 0 => all.filter(|o| live(o) && o.pgid == n.unsigned_abs()).map(|o| o.pid).collect(),
        n => all.filter(|o| o.pid == n as u32).map(|o| o.pid).collect(),
    };
    // None (for -1: only the caller and the first process exist): Linux says ESRCH.
    if v.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(v)
}
