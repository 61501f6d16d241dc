//! Threads and the scheduler's decisions.
//!
//! The threads of the process share its [`Process`]; what is each thread's
//! own is a [`Thread`]. The running thread's is `proc.thread`; the others
//! wait in `proc.others`. A syscall that must wait records a [`Wait`] in
//! the running thread and answers [`Errno::EBLOCK`]; the kernel then asks
//! [`next`] which thread runs, switches to it (its kernel stack, registers,
//! FS base and FPU state are the kernel's business), and when the waiting
//! thread runs again, [`resume`] gives the syscall's result: the one its
//! waker set, or None to run the syscall again (a read that may now
//! succeed). When no thread can run, [`next`] waits in the monitor with one
//! exit until the first deadline or host event.

use crate::signal::{bit, ThreadSignals};
use crate::{Platform, Process, SysResult};
use abi::linux::Errno;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

pub type Tid = u32;

/// What a waiting thread waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOn {
    /// A FUTEX_WAKE of this address whose bitset meets ours.
    Futex { addr: u64, bitset: u32 },
    /// Something done by another thread (a pipe written or drained, a
    /// descriptor closed) or these host stdio events (poll bits for fds 0..3):
    /// the syscall runs again.
    Io { host: [u16; 3] },
    /// Only the deadline, or a signal (nanosleep, pause).
    Nothing,
    /// One of these signals becoming pending (rt_sigtimedwait): the syscall runs again.
    Signals(u64),
    /// A change to a SysV IPC object (its id): the syscall runs again.
    Ipc(i32),
    /// A child process ending (wait4, waitid): the syscall runs again.
    Child,
    /// The vfork child (its pid) exec'ing or ending; signals do not cut it short.
    Vfork(u32),
}

#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub on: WaitOn,
    /// CLOCK_MONOTONIC nanoseconds.
    pub deadline: Option<u64>,
    /// What the syscall answers when the deadline passes (None: run it again).
    pub on_timeout: Option<SysResult>,
    /// What it answers when a signal with a handler interrupts it
    /// (ERESTARTSYS or ERESTARTNOHAND; see abi::linux::Errno).
    pub on_signal: Errno,
    /// Where a signal's interruption writes the time left (nanosleep's rem; 0: nowhere).
    pub rem: u64,
}

impl Wait {
    /// A wait whose timeout (if any) answers `on_timeout`.
    pub fn new(on: WaitOn, deadline: Option<u64>, on_timeout: Option<SysResult>, on_signal: Errno) -> Wait {
        Wait { on, deadline, on_timeout, on_signal, rem: 0 }
    }

    /// A wait for another thread's I/O or these host stdio events, after
    /// which the syscall runs again.
    pub fn io(host: [u16; 3], deadline: Option<u64>, on_signal: Errno) -> Wait {
        Wait::new(WaitOn::Io { host }, deadline, None, on_signal)
    }
}

/// A thread's own state.
#[derive(Debug, Clone)]
pub struct Thread {
    pub tid: Tid,
    pub sig: ThreadSignals,
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
    pub wait: Option<Wait>,
    /// The result its waker set (None: run the syscall again).
    pub woken: Option<SysResult>,
    /// An absolute deadline a waiting syscall keeps across its runs (poll, select).
    pub deadline: Option<u64>,
    /// The thread name (PR_SET_NAME), NUL-padded.
    pub comm: [u8; 16],
    /// CPU time used before it last started running, and when that was.
    pub cpu_ns: u64,
    pub ran_since: u64,
    pub exited: bool,
    /// CLONE_CHILD_SETTID's address, written when the new process first runs.
    pub set_child_tid: u64,
    /// Where a signal's interruption writes the time left, and that time
    /// (written when the thread runs again, in its own memory).
    pub rem_due: Option<(u64, u64)>,
    /// Bytes a blocking pipe write already moved in earlier runs of the
    /// syscall: what it answers if a signal cuts it short.
    pub io_done: u64,
}

impl Thread {
    pub fn new(tid: Tid, comm: [u8; 16], now: u64) -> Thread {
        Thread {
            tid,
            sig: ThreadSignals::default(),
            clear_child_tid: 0,
            robust_list: (0, 0),
            wait: None,
            woken: None,
            deadline: None,
            comm,
            cpu_ns: 0,
            ran_since: now,
            exited: false,
            set_child_tid: 0,
            rem_due: None,
            io_done: 0,
        }
    }
}

/// The scheduler's state in the process.
#[derive(Debug, Default)]
pub struct Threads {
    pub others: BTreeMap<Tid, Thread>,
    /// Runnable threads other than the running one, in the order they run.
    pub runq: VecDeque<Tid>,
    /// Futex waiters in the order they started waiting: (address, tid).
    pub futex_queue: Vec<(u64, Tid)>,
    pub next_tid: Tid,
    /// Threads switched to, ever (the preemption check reads it).
    pub switches: u64,
    /// Counts changes other threads may wait for (pipes, eventfds, closes):
    /// epoll's edge-triggered registrations report again after one.
    pub io_gen: u64,
}

impl Process {
    /// The thread `tid`, running or not.
    pub fn thread_mut(&mut self, tid: Tid) -> Option<&mut Thread> {
        if tid == self.thread.tid {
            Some(&mut self.thread)
        } else {
            self.threads.others.get_mut(&tid)
        }
    }

    pub fn nthreads(&self) -> usize {
        1 + self.threads.others.len()
    }

    /// Whether a thread other than the running one may run now (in any process).
    pub fn others_runnable(&self) -> bool {
        !self.threads.runq.is_empty() || self.other_processes_runnable()
    }
}

/// The running thread waits: `wait` is kept in it and the syscall answers
/// EBLOCK (see the module's text).
pub fn block(proc: &mut Process, wait: Wait) -> SysResult {
    proc.thread.wait = Some(wait);
    proc.thread.woken = None;
    if let WaitOn::Futex { addr, .. } = wait.on {
        proc.threads.futex_queue.push((addr, proc.thread.tid));
    }
    Err(Errno::EBLOCK)
}

/// Ends the wait of thread `tid` with `result` (None: the syscall runs again).
pub fn wake(proc: &mut Process, tid: Tid, result: Option<SysResult>) {
    let Some(t) = proc.thread_mut(tid) else { return };
    let Some(w) = t.wait.take() else { return };
    t.woken = result;
    if let WaitOn::Futex { .. } = w.on {
        proc.threads.futex_queue.retain(|&(_, q)| q != tid);
    }
    if !proc.threads.runq.contains(&tid) {
        proc.threads.runq.push_back(tid);
    }
}

/// Wakes every thread waiting for another thread's I/O (pipes, closes): their syscalls run again.
pub fn wake_io(proc: &mut Process) {
    wake_io_threads(proc);
    for o in proc.world.procs.values_mut() {
        wake_io_threads(o);
    }
}

fn wake_io_threads(proc: &mut Process) {
    proc.threads.io_gen += 1;
    let waiting: Vec<Tid> = core::iter::once(&proc.thread)
        .chain(proc.threads.others.values())
        .filter(|t| matches!(t.wait, Some(Wait { on: WaitOn::Io { .. }, .. })))
        .map(|t| t.tid)
        .collect();
    for tid in waiting {
        wake(proc, tid, None);
    }
}

/// A signal became pending for thread `tid` (or for the group, when None):
/// a thread that waits and does not block it is interrupted (or, in
/// rt_sigtimedwait, runs again to take it).
pub fn signal_wakes<P: Platform>(proc: &mut Process, p: &mut P, tid: Option<Tid>, signal: u32) {
    let b = bit(signal);
    let candidates: Vec<Tid> = match tid {
        Some(t) => alloc::vec![t],
        None => core::iter::once(proc.thread.tid).chain(proc.threads.others.keys().copied()).collect(),
    };
    for t in candidates {
        let Some(th) = proc.thread_mut(t) else { continue };
        if th.exited {
            continue;
        }
        let Some(w) = th.wait else {
            if th.sig.mask & b == 0 && tid.is_none() {
                // A thread that does not block it and is not waiting takes it.
                return;
            }
            continue;
        };
        if let WaitOn::Signals(set) = w.on {
            if set & b != 0 {
                wake(proc, t, None);
                return;
            }
        }
        if matches!(w.on, WaitOn::Vfork(_)) {
            continue;
        }
        if th.sig.mask & b == 0 {
            let e = w.on_signal;
            if let (Some(d), true) = (w.deadline, w.rem != 0) {
                // The process may not be the running one: written when it runs.
                th.rem_due = Some((w.rem, d.saturating_sub(p.clock_ns(false))));
            }
            wake(proc, t, Some(Err(e)));
            return;
        }
    }
}

/// The result of the running thread's syscall once it runs again after
/// waiting: Some(result), or None to run the syscall again.
pub fn resume<P: Platform>(proc: &mut Process, p: &mut P) -> Option<SysResult> {
    if let Some((at, left)) = proc.thread.rem_due.take() {
        let _ = crate::user::UserPtr(at).write(p, &crate::time::to_timespec(left));
    }
    let r = proc.thread.woken.take();
    if let Some(Err(_)) = r {
        let done = core::mem::take(&mut proc.thread.io_done);
        if done > 0 {
            return Some(Ok(done));
        }
    }
    r
}

/// A new process's first step, in its own memory: CLONE_CHILD_SETTID.
pub fn first_run<P: Platform>(proc: &mut Process, p: &mut P) {
    let at = core::mem::take(&mut proc.thread.set_child_tid);
    if at != 0 {
        let _ = crate::user::UserPtr(at).write(p, &proc.thread.tid);
    }
}

/// Which thread runs next, once the running one waits (or has exited, or
/// yields its time slice: then `requeue` puts it at the end of the queue,
/// and other processes go first). With none runnable it waits in the
/// monitor for the first deadline or host event. Returns the process and
/// thread to switch to (they may be the running ones).
pub fn next<P: Platform>(proc: &mut Process, p: &mut P, requeue: bool) -> (u32, Tid) {
    let me = proc.thread.tid;
    if requeue && proc.thread.wait.is_none() && !proc.thread.exited {
        proc.threads.runq.push_back(me);
    }
    loop {
        expire(proc, p);
        if requeue {
            if let Some(x) = other_process(proc) {
                return x;
            }
        }
        if let Some(t) = proc.threads.runq.pop_front() {
            proc.threads.switches += 1;
            return (proc.pid, t);
        }
        if let Some(x) = other_process(proc) {
            return x;
        }
        idle(proc, p);
    }
}

/// A runnable thread of another process: the first after the running
/// process's id, round the ids.
fn other_process(proc: &mut Process) -> Option<(u32, Tid)> {
    let me = proc.pid;
    let w = &mut proc.world.procs;
    let pick = w.range(me + 1..).chain(w.range(..me)).find(|(_, o)| !o.threads.runq.is_empty()).map(|(k, _)| *k)?;
    let o = w.get_mut(&pick)?;
    let t = o.threads.runq.pop_front()?;
    o.threads.switches += 1;
    proc.threads.switches += 1;
    Some((pick, t))
}

/// Makes `tid` the running thread (its state goes to `proc.thread`);
/// `now` is CLOCK_MONOTONIC, for the threads' CPU times.
pub fn make_current(proc: &mut Process, tid: Tid, now: u64) {
    if tid == proc.thread.tid {
        return;
    }
    let Some(mut t) = proc.threads.others.remove(&tid) else { return };
    t.ran_since = now;
    let mut prev = core::mem::replace(&mut proc.thread, t);
    prev.cpu_ns += now.saturating_sub(prev.ran_since);
    if !prev.exited {
        proc.threads.others.insert(prev.tid, prev);
    }
}

/// Wakes the threads whose deadline has passed, in every process.
fn expire<P: Platform>(proc: &mut Process, p: &mut P) {
    expire_in(proc, p);
    let mut w = core::mem::take(&mut proc.world.procs);
    for o in w.values_mut() {
        expire_in(o, p);
    }
    proc.world.procs = w;
}

fn expire_in<P: Platform>(proc: &mut Process, p: &mut P) {
    crate::sys_timer::fire_due(proc, p);
    let now = p.clock_ns(false);
    let due: Vec<(Tid, Option<SysResult>)> = core::iter::once(&proc.thread)
        .chain(proc.threads.others.values())
        .filter_map(|t| t.wait.filter(|w| w.deadline.is_some_and(|d| d <= now)).map(|w| (t.tid, w.on_timeout)))
        .collect();
    for (tid, r) in due {
        wake(proc, tid, r);
    }
}

/// Nothing can run: one hypercall waits until the first deadline, a host
/// event some thread waits for, or a signal sent to uk-run.
fn idle<P: Platform>(proc: &mut Process, p: &mut P) {
    let mut host = [0u16; 3];
    let mut deadline: Option<u64> = crate::sys_timer::next_due(proc);
    for o in proc.world.procs.values() {
        if let Some(d) = crate::sys_timer::next_due(o) {
            deadline = Some(deadline.map_or(d, |x| x.min(d)));
        }
    }
    let all = core::iter::once(&*proc).chain(proc.world.procs.values().map(|b| &**b));
    for t in all.flat_map(|o| core::iter::once(&o.thread).chain(o.threads.others.values())) {
        let Some(w) = t.wait else { continue };
        if let WaitOn::Io { host: h } = w.on {
            for i in 0..3 {
                host[i] |= h[i];
            }
        }
        if let Some(d) = w.deadline {
            deadline = Some(deadline.map_or(d, |x| x.min(d)));
        }
    }
    let now = p.clock_ns(false);
    let timeout_ms = match deadline {
        None => -1,
        Some(d) => (d.saturating_sub(now).div_ceil(1_000_000)).min(i32::MAX as u64) as i32,
    };
    let ready = if host != [0; 3] || deadline.is_none() {
        p.host_poll(host, timeout_ms)
    } else {
        p.sleep_ns(deadline.unwrap_or(now).saturating_sub(now));
        [0; 3]
    };
    // Time no thread ran is not the process's CPU time, nor the thread's.
    let idle = p.clock_ns(false).saturating_sub(now);
    proc.blocked_ns += idle;
    proc.thread.ran_since += idle;
    let signal = p.take_host_signal();
    if signal != 0 {
        crate::sys_signal::host_signal(proc, p, signal as u64);
    }
    if ready != [0; 3] {
        wake_host(proc, ready);
        for o in proc.world.procs.values_mut() {
            wake_host(o, ready);
        }
    }
}

/// Wakes the threads waiting for these host stdio events.
fn wake_host(proc: &mut Process, ready: [u16; 3]) {
    let waiting: Vec<Tid> = core::iter::once(&proc.thread)
        .chain(proc.threads.others.values())
        .filter(|t| matches!(t.wait, Some(Wait { on: WaitOn::Io { host }, .. }) if (0..3).any(|i| host[i] & ready[i] != 0)))
        .map(|t| t.tid)
        .collect();
    for tid in waiting {
        wake(proc, tid, None);
    }
}

/// execve and exit_group: every other thread ends at once (their kernel
/// state goes with them); an execve from another thread takes the
/// process's id, as on Linux.
pub fn end_others<P: Platform>(proc: &mut Process, p: &mut P) {
    let others: Vec<Tid> = proc.threads.others.keys().copied().collect();
    for tid in others {
        p.thread_exit(tid);
    }
    proc.threads.others.clear();
    proc.threads.runq.clear();
    proc.threads.futex_queue.clear();
    if proc.thread.tid != proc.pid {
        p.thread_renamed(proc.thread.tid, proc.pid);
        proc.thread.tid = proc.pid;
    }
}

/// sched_yield: the others that can run go first.
pub fn yield_now(proc: &mut Process) -> SysResult {
    if !proc.others_runnable() {
        return Ok(0);
    }
    block(proc, Wait::new(WaitOn::Nothing, Some(0), Some(Ok(0)), Errno::ERESTARTNOHAND))
}

/// When the monitor must stop the program in its own code (None: never):
/// a timer's time, or the deadline of a waiting thread (which then can run).
pub fn wakeup<P: Platform>(proc: &Process, p: &mut P) -> Option<u64> {
    let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let waits = proc.threads.others.values().filter_map(|t| t.wait.and_then(|w| w.deadline)).min();
    let mut at = min(crate::sys_timer::wakeup(proc, p), waits);
    for o in proc.world.procs.values() {
        let waits = core::iter::once(&o.thread).chain(o.threads.others.values()).filter_map(|t| t.wait.and_then(|w| w.deadline)).min();
        at = min(at, min(crate::sys_timer::next_due(o), waits));
    }
    at
}

/// The program was stopped in its own code: timers that are due fire, and
/// waits whose deadline passed end.
pub fn tick<P: Platform>(proc: &mut Process, p: &mut P) {
    expire(proc, p);
}
