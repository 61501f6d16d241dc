//! Timers that send signals: alarm, setitimer (ITIMER_REAL, and
//! ITIMER_VIRTUAL and ITIMER_PROF on the process's CPU time), and POSIX
//! timers (timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE).
//! Deadlines are kept on CLOCK_MONOTONIC; they fire when a thread waits,
//! at the end of a syscall, or when the monitor interrupts the program at
//! the first deadline (see the kernel's `wakeup` word).

use crate::sched::Tid;
use crate::time::{from_timespec, to_timespec, NSEC_PER_SEC};
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::{si, sig, Errno, SigInfo, Timespec, Timeval};
use alloc::vec::Vec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// To the process, with this signal and value.
    Signal(u32, u64),
    /// To one thread.
    Thread(u32, u64, Tid),
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Real,
    Monotonic,
    /// The process's CPU time (ITIMER_VIRTUAL, ITIMER_PROF, CLOCK_PROCESS_CPUTIME_ID).
    Cpu,
}

#[derive(Debug, Clone)]
pub struct Timer {
    /// timer_create's id; the itimers are -1 (REAL), -2 (VIRTUAL), -3 (PROF).
    pub id: i32,
    pub clock: Clock,
    /// When it next fires, in CLOCK_MONOTONIC nanoseconds (None: disarmed).
    pub due: Option<u64>,
    pub interval: u64,
    pub notify: Notify,
    /// Expirations not yet delivered as signals (timer_getoverrun).
    pub overrun: u64,
    pub queued: bool,
}

const ITIMER_IDS: [i32; 3] = [-1, -2, -3];

fn cpu_now<P: Platform>(proc: &Process, p: &mut P) -> u64 {
    let up = p.clock_ns(false).saturating_sub(proc.start_mono_ns);
    up.saturating_sub(proc.blocked_ns)
}

/// Fires every timer whose time has come.
pub fn fire_due<P: Platform>(proc: &mut Process, p: &mut P) {
    if proc.timers.is_empty() {
        return;
    }
    let now = p.clock_ns(false);
    let cpu = cpu_now(proc, p);
    let mut sends: Vec<(i32, Option<Tid>, SigInfo)> = Vec::new();
    for t in proc.timers.iter_mut() {
        let Some(due) = t.due else { continue };
        let at = if t.clock == Clock::Cpu { cpu } else { now };
        if due > at {
            continue;
        }
        let n = if t.interval > 0 { 1 + (at - due) / t.interval } else { 1 };
        t.due = (t.interval > 0).then(|| due.saturating_add(n.saturating_mul(t.interval)));
        if t.queued {
            t.overrun += n;
            continue;
        }
        t.overrun = n - 1;
        let (signo, value, tid) = match t.notify {
            Notify::Signal(s, v) => (s, v, None),
            Notify::Thread(s, v, tid) => (s, v, Some(tid)),
            Notify::None => continue,
        };
        let mut info = SigInfo { signo: signo as i32, code: if t.id < 0 { si::SI_KERNEL } else { si::SI_TIMER }, ..SigInfo::default() };
        if t.id >= 0 {
            // si_timerid, si_overrun, si_value.
            info.fields[0] = t.id as u32 as u64 | (t.overrun.min(i32::MAX as u64)) << 32;
            info.fields[1] = value;
        }
        sends.push((t.id, tid, info));
    }
    for (id, tid, info) in sends {
        let tid = tid.filter(|&t| proc.thread_mut(t).is_some());
        let s = info.signo as u32;
        // A POSIX timer's signal counts as queued only while it is pending:
        // later expirations add to its overrun until it is taken.
        let before = pending_anywhere(proc) & crate::signal::bit(s);
        let _ = crate::sys_signal::send(proc, p, tid, info);
        if id >= 0 && before == 0 && pending_anywhere(proc) & crate::signal::bit(s) != 0 {
            if let Some(t) = proc.timers.iter_mut().find(|t| t.id == id) {
                t.queued = true;
            }
        }
    }
}

/// The signals pending for the process or any of its threads.
fn pending_anywhere(proc: &Process) -> u64 {
    proc.threads.others.values().chain(core::iter::once(&proc.thread)).fold(proc.signals.pending.set, |m, t| m | t.sig.pending.set)
}

/// The first deadline among the timers on the wall clocks (CLOCK_MONOTONIC
/// ns): what a wait for nothing else must end at. CPU-time timers do not
/// run out while no thread runs.
pub fn next_due(proc: &Process) -> Option<u64> {
    proc.timers.iter().filter(|t| t.clock != Clock::Cpu).filter_map(|t| t.due).min()
}

/// When the program must be stopped in its own code for a timer: the first
/// deadline, CPU-time ones counted as if it runs from now on.
pub fn wakeup<P: Platform>(proc: &Process, p: &mut P) -> Option<u64> {
    if proc.timers.is_empty() {
        return None;
    }
    let now = p.clock_ns(false);
    let cpu = cpu_now(proc, p);
    proc.timers
        .iter()
        .filter_map(|t| t.due.map(|d| if t.clock == Clock::Cpu { now.saturating_add(d.saturating_sub(cpu)) } else { d }))
        .min()
}

/// A POSIX timer's signal was taken: later expirations queue it again.
pub fn taken(proc: &mut Process, info: &SigInfo) {
    if info.code == si::SI_TIMER {
        let id = info.fields[0] as u32 as i32;
        if let Some(t) = proc.timers.iter_mut().find(|t| t.id == id) {
            t.queued = false;
        }
    }
}

fn set<P: Platform>(proc: &mut Process, p: &mut P, id: i32, value: u64, interval: u64, absolute: bool) -> Option<(u64, u64)> {
    let now = p.clock_ns(false);
    let cpu = cpu_now(proc, p);
    let real = p.clock_ns(true);
    let t = proc.timers.iter_mut().find(|t| t.id == id)?;
    let base = if t.clock == Clock::Cpu { cpu } else { now };
    let old = (t.due.map_or(0, |d| d.saturating_sub(base).max(1)), t.interval);
    t.due = (value != 0).then(|| match (absolute, t.clock) {
        (false, _) => base.saturating_add(value),
        (true, Clock::Real) => now.saturating_add(value.saturating_sub(real)),
        (true, _) => value.max(1),
    });
    t.interval = interval;
    t.overrun = 0;
    Some(old)
}

fn itimer(proc: &mut Process, which: u64) -> Result<i32, Errno> {
    let id = *ITIMER_IDS.get(which as usize).ok_or(Errno::EINVAL)?;
    if !proc.timers.iter().any(|t| t.id == id) {
        let (clock, s) = match which {
            0 => (Clock::Monotonic, sig::SIGALRM),
            1 => (Clock::Cpu, sig::SIGVTALRM),
            _ => (Clock::Cpu, sig::SIGPROF),
        };
        proc.timers.push(Timer { id, clock, due: None, interval: 0, notify: Notify::Signal(s, 0), overrun: 0, queued: false });
    }
    Ok(id)
}

fn tv_ns(tv: &Timeval) -> Result<u64, Errno> {
    if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok((tv.tv_sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(tv.tv_usec as u64 * 1000))
}

fn ns_tv(ns: u64) -> Timeval {
    // Linux rounds a remaining time up to the next microsecond.
    let us = ns.div_ceil(1000);
    Timeval { tv_sec: (us / 1_000_000) as i64, tv_usec: (us % 1_000_000) as i64 }
}

pub fn setitimer<P: Platform>(proc: &mut Process, p: &mut P, which: u64, new: u64, old: u64) -> SysResult {
    let id = itimer(proc, which)?;
    let v = if new != 0 { Some(UserPtr(new).read::<[Timeval; 2], _>(p)?) } else { None };
    let (value, interval) = match v {
        Some([i, v]) => (tv_ns(&v)?, tv_ns(&i)?),
        None => (0, 0),
    };
    let (left, ivl) = set(proc, p, id, value, interval, false).unwrap_or((0, 0));
    UserPtr(old).write_opt(p, &[ns_tv(ivl), ns_tv(left)]).map(|_| 0)
}

pub fn getitimer<P: Platform>(proc: &mut Process, p: &mut P, which: u64, cur: u64) -> SysResult {
    let id = itimer(proc, which)?;
    let now = p.clock_ns(false);
    let cpu = cpu_now(proc, p);
    let t = proc.timers.iter().find(|t| t.id == id).ok_or(Errno::EINVAL)?;
    let base = if t.clock == Clock::Cpu { cpu } else { now };
    let left = t.due.map_or(0, |d| d.saturating_sub(base).max(1));
    UserPtr(cur).write(p, &[ns_tv(t.interval), ns_tv(left)]).map(|_| 0)
}

pub fn alarm<P: Platform>(proc: &mut Process, p: &mut P, secs: u64) -> SysResult {
    let id = itimer(proc, 0)?;
    let (left, _) = set(proc, p, id, secs.min(u32::MAX as u64) * NSEC_PER_SEC, 0, false).unwrap_or((0, 0));
    // Rounded to the nearest second, and never 0 for an alarm still to come.
    Ok(if left == 0 { 0 } else { ((left + NSEC_PER_SEC / 2) / NSEC_PER_SEC).max(1) })
}

const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
const SIGEV_THREAD_ID: i32 = 4;

pub fn timer_create<P: Platform>(proc: &mut Process, p: &mut P, clock: u64, sevp: u64, idp: u64) -> SysResult {
    let c = match clock {
        0 | 5 | 8 => Clock::Real,
        1 | 4 | 7 | 9 => Clock::Monotonic,
        2 => Clock::Cpu,
        _ => return Err(Errno::EINVAL),
    };
    let notify = if sevp == 0 {
        Notify::Signal(sig::SIGALRM, 0)
    } else {
        // struct sigevent: value (8), signo (4), notify (4), then the thread id.
        let e: [u64; 3] = UserPtr(sevp).read(p)?;
        let (value, signo, how, tid) = (e[0], e[1] as u32, (e[1] >> 32) as i32, e[2] as u32);
        let valid = signo >= 1 && signo as usize <= abi::linux::NSIG;
        match how {
            SIGEV_NONE => Notify::None,
            SIGEV_SIGNAL if valid => Notify::Signal(signo, value),
            SIGEV_THREAD_ID if valid && proc.thread_mut(tid).is_some() => Notify::Thread(signo, value, tid),
            SIGEV_THREAD => return Err(Errno::EINVAL),
            _ => return Err(Errno::EINVAL),
        }
    };
    let id = (0..).find(|i| !proc.timers.iter().any(|t| t.id == *i)).unwrap_or(0);
    let notify = match notify {
        Notify::Signal(s, 0) if sevp == 0 => Notify::Signal(s, id as u64),
        n => n,
    };
    UserPtr(idp).write(p, &id)?;
    proc.timers.push(Timer { id, clock: c, due: None, interval: 0, notify, overrun: 0, queued: false });
    Ok(0)
}

fn posix(proc: &Process, id: u64) -> Result<i32, Errno> {
    let id = id as i32;
    if id < 0 || !proc.timers.iter().any(|t| t.id == id) {
        return Err(Errno::EINVAL);
    }
    Ok(id)
}

pub fn timer_settime<P: Platform>(proc: &mut Process, p: &mut P, id: u64, flags: u64, new: u64, old: u64) -> SysResult {
    const TIMER_ABSTIME: u64 = 1;
    let id = posix(proc, id)?;
    let [i, v]: [Timespec; 2] = UserPtr(new).read(p)?;
    let (value, interval) = (from_timespec(&v)?, from_timespec(&i)?);
    let (left, ivl) = set(proc, p, id, value, interval, flags & TIMER_ABSTIME != 0).unwrap_or((0, 0));
    UserPtr(old).write_opt(p, &[to_timespec(ivl), to_timespec(left)]).map(|_| 0)
}

pub fn timer_gettime<P: Platform>(proc: &mut Process, p: &mut P, id: u64, cur: u64) -> SysResult {
    let id = posix(proc, id)?;
    let now = p.clock_ns(false);
    let cpu = cpu_now(proc, p);
    let t = proc.timers.iter().find(|t| t.id == id).ok_or(Errno::EINVAL)?;
    let base = if t.clock == Clock::Cpu { cpu } else { now };
    let left = t.due.map_or(0, |d| d.saturating_sub(base).max(1));
    UserPtr(cur).write(p, &[to_timespec(t.interval), to_timespec(left)]).map(|_| 0)
}

pub fn timer_getoverrun(proc: &mut Process, id: u64) -> SysResult {
    let id = posix(proc, id)?;
    Ok(proc.timers.iter().find(|t| t.id == id).map_or(0, |t| t.overrun.min(i32::MAX as u64)))
}

pub fn timer_delete(proc: &mut Process, id: u64) -> SysResult {
    let id = posix(proc, id)?;
    proc.timers.retain(|t| t.id != id);
    Ok(0)
}
