//! Clocks and sleeps. Reading a clock costs no exit: the platform keeps
//! time with the TSC.

use crate::time::{from_timespec, source, to_timespec, ClockSource, NSEC_PER_SEC};
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use crate::sched::{Wait, WaitOn};
use abi::linux::{Errno, Timespec, Timeval};

fn now<P: Platform>(proc: &Process, p: &mut P, src: ClockSource) -> u64 {
    match src {
        ClockSource::Realtime => p.clock_ns(true),
        ClockSource::Monotonic => p.clock_ns(false),
        ClockSource::CpuTime => {
            let up = p.clock_ns(false).saturating_sub(proc.start_mono_ns);
            up.saturating_sub(proc.blocked_ns)
        }
        ClockSource::ThreadCpuTime => {
            let t = &proc.thread;
            t.cpu_ns + p.clock_ns(false).saturating_sub(t.ran_since)
        }
    }
}

pub fn clock_gettime<P: Platform>(proc: &mut Process, p: &mut P, clock: u64, tp: u64) -> SysResult {
    let t = now(proc, p, source(clock)?);
    UserPtr(tp).write(p, &to_timespec(t)).map(|_| 0)
}

pub fn clock_getres<P: Platform>(p: &mut P, clock: u64, res: u64) -> SysResult {
    source(clock)?;
    UserPtr(res).write_opt(p, &Timespec { tv_sec: 0, tv_nsec: 1 }).map(|_| 0)
}

pub fn gettimeofday<P: Platform>(p: &mut P, tv: u64, tz: u64) -> SysResult {
    let t = p.clock_ns(true);
    UserPtr(tv).write_opt(p, &Timeval { tv_sec: (t / NSEC_PER_SEC) as i64, tv_usec: ((t % NSEC_PER_SEC) / 1000) as i64 })?;
    UserPtr(tz).write_opt(p, &0u64).map(|_| 0)
}

pub fn time<P: Platform>(p: &mut P, tloc: u64) -> SysResult {
    let secs = p.clock_ns(true) / NSEC_PER_SEC;
    UserPtr(tloc).write_opt(p, &secs)?;
    Ok(secs)
}

/// Sleeps until CLOCK_MONOTONIC `deadline`; a handler's signal ends it
/// early with EINTR and the time left in `rem`.
fn sleep_until<P: Platform>(proc: &mut Process, p: &mut P, deadline: u64, rem: u64) -> SysResult {
    // Run again after a wake-up that was not the deadline: the first one stands.
    let d = match proc.thread.deadline {
        Some(d) => d,
        None if deadline <= p.clock_ns(false) => return Ok(0),
        None => {
            proc.thread.deadline = Some(deadline);
            deadline
        }
    };
    crate::sched::block(proc, Wait { rem, ..Wait::new(WaitOn::Nothing, Some(d), Some(Ok(0)), Errno::ERESTARTNOHAND) })
}

pub fn nanosleep<P: Platform>(proc: &mut Process, p: &mut P, req: u64, rem: u64) -> SysResult {
    let ns = from_timespec(&UserPtr(req).read::<Timespec, _>(p)?)?;
    let deadline = p.clock_ns(false).saturating_add(ns);
    sleep_until(proc, p, deadline, rem)
}

pub fn clock_nanosleep<P: Platform>(proc: &mut Process, p: &mut P, clock: u64, flags: u64, req: u64, rem: u64) -> SysResult {
    const TIMER_ABSTIME: u64 = 1;
    let src = source(clock)?;
    if src == ClockSource::ThreadCpuTime {
        return Err(Errno::EINVAL);
    }
    let ns = from_timespec(&UserPtr(req).read::<Timespec, _>(p)?)?;
    let abs = flags & TIMER_ABSTIME != 0;
    let delta = if abs { ns.saturating_sub(now(proc, p, src)) } else { ns };
    // An absolute sleep interrupted does not report the time left.
    let deadline = p.clock_ns(false).saturating_add(delta);
    sleep_until(proc, p, deadline, if abs { 0 } else { rem })
}

/// getrusage: the process's CPU time (time not spent blocked) as user
/// time, its mapped memory as the peak RSS; for the children waited for,
/// their CPU time.
pub fn getrusage<P: Platform>(proc: &mut Process, p: &mut P, who: u64, buf: u64) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let mut b = [0u8; 144];
    match who as i32 {
        RUSAGE_SELF | RUSAGE_THREAD => {
            let cpu = now(proc, p, if who as i32 == RUSAGE_SELF { ClockSource::CpuTime } else { ClockSource::ThreadCpuTime });
            b[0..8].copy_from_slice(&(cpu / NSEC_PER_SEC).to_le_bytes());
            b[8..16].copy_from_slice(&((cpu % NSEC_PER_SEC) / 1000).to_le_bytes());
            b[32..40].copy_from_slice(&(proc.mm.mapped(0, u64::MAX) >> 10).to_le_bytes());
        }
        RUSAGE_CHILDREN => return crate::procs::write_rusage(p, buf, proc.children_cpu_ns).map(|_| 0),
        _ => return Err(Errno::EINVAL),
    }
    p.write_user(buf, &b).map(|_| 0)
}

/// times: the process's CPU time as user time, in clock ticks (100 a
/// second); returns ticks since the VM started.
pub fn times<P: Platform>(proc: &mut Process, p: &mut P, buf: u64) -> SysResult {
    const TICK_NS: u64 = NSEC_PER_SEC / 100;
    let cpu = now(proc, p, ClockSource::CpuTime) / TICK_NS;
    UserPtr(buf).write_opt(p, &[cpu, 0u64, proc.children_cpu_ns / TICK_NS, 0])?;
    Ok(p.clock_ns(false).saturating_sub(proc.start_mono_ns) / TICK_NS)
}
