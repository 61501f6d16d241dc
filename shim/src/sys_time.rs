//! Clocks and sleeps. Reading a clock costs no exit: the platform keeps
//! time with the TSC.

use crate::time::{from_timespec, source, to_timespec, ClockSource, NSEC_PER_SEC};
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::{Errno, Timespec, Timeval};

fn now<P: Platform>(proc: &Process, p: &mut P, src: ClockSource) -> u64 {
    match src {
        ClockSource::Realtime => p.clock_ns(true),
        ClockSource::Monotonic => p.clock_ns(false),
        ClockSource::CpuTime => {
            let up = p.clock_ns(false).saturating_sub(proc.start_mono_ns);
            up.saturating_sub(proc.blocked_ns)
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

fn sleep_for<P: Platform>(proc: &mut Process, p: &mut P, ns: u64) {
    let t0 = p.clock_ns(false);
    if ns > 0 {
        p.sleep_ns(ns);
    }
    proc.blocked_ns += p.clock_ns(false).saturating_sub(t0);
}

pub fn nanosleep<P: Platform>(proc: &mut Process, p: &mut P, req: u64, _rem: u64) -> SysResult {
    let ns = from_timespec(&UserPtr(req).read::<Timespec, _>(p)?)?;
    sleep_for(proc, p, ns);
    Ok(0)
}

pub fn clock_nanosleep<P: Platform>(proc: &mut Process, p: &mut P, clock: u64, flags: u64, req: u64, _rem: u64) -> SysResult {
    const TIMER_ABSTIME: u64 = 1;
    let src = source(clock)?;
    if src == ClockSource::CpuTime && clock != crate::time::CLOCK_PROCESS_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let ns = from_timespec(&UserPtr(req).read::<Timespec, _>(p)?)?;
    let delta = if flags & TIMER_ABSTIME != 0 { ns.saturating_sub(now(proc, p, src)) } else { ns };
    sleep_for(proc, p, delta);
    Ok(0)
}

/// getrusage: the process's CPU time (time not spent blocked) as user
/// time, its mapped memory as the peak RSS; no children ever ran.
pub fn getrusage<P: Platform>(proc: &mut Process, p: &mut P, who: u64, buf: u64) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let mut b = [0u8; 144];
    match who as i32 {
        RUSAGE_SELF | RUSAGE_THREAD => {
            let cpu = now(proc, p, ClockSource::CpuTime);
            b[0..8].copy_from_slice(&(cpu / NSEC_PER_SEC).to_le_bytes());
            b[8..16].copy_from_slice(&((cpu % NSEC_PER_SEC) / 1000).to_le_bytes());
            b[32..40].copy_from_slice(&(proc.mm.mapped(0, u64::MAX) >> 10).to_le_bytes());
        }
        RUSAGE_CHILDREN => {}
        _ => return Err(Errno::EINVAL),
    }
    p.write_user(buf, &b).map(|_| 0)
}
