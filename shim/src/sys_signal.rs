//! rt_sigaction, rt_sigprocmask, sigaltstack, and signals a process sends
//! itself. Default actions are carried out; running a handler needs signal
//! frames, which uk-run does not build yet: that case ends the program with
//! the signal and says why.

use crate::signal::{bit, UNBLOCKABLE};
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::{default_action, DefaultAction, Errno, KSigaction, NSIG, SIG_DFL, SIG_IGN};

fn valid(signal: u64) -> Result<u32, Errno> {
    if signal == 0 || signal > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(signal as u32)
}

pub fn rt_sigaction<P: Platform>(proc: &mut Process, p: &mut P, signal: u64, act: u64, oact: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let s = valid(signal)?;
    let new = if act != 0 { Some(UserPtr(act).read::<KSigaction, _>(p)?) } else { None };
    if new.is_some() && bit(s) & UNBLOCKABLE != 0 {
        return Err(Errno::EINVAL);
    }
    UserPtr(oact).write_opt(p, proc.signals.action(s))?;
    if let Some(mut a) = new {
        a.mask &= !UNBLOCKABLE;
        proc.signals.actions[s as usize - 1] = a;
        // Setting SIG_IGN (or SIG_DFL for an ignored-by-default signal) discards it if pending.
        if a.handler == SIG_IGN || (a.handler == SIG_DFL && default_action(s) == DefaultAction::Ignore) {
            proc.signals.pending &= !bit(s);
        }
    }
    Ok(0)
}

pub fn rt_sigprocmask<P: Platform>(proc: &mut Process, p: &mut P, how: u64, set: u64, oset: u64, size: u64) -> SysResult {
    const SIG_BLOCK: u64 = 0;
    const SIG_UNBLOCK: u64 = 1;
    const SIG_SETMASK: u64 = 2;
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if set != 0 { Some(UserPtr(set).read::<u64, _>(p)?) } else { None };
    if new.is_some() && how > SIG_SETMASK {
        return Err(Errno::EINVAL);
    }
    UserPtr(oset).write_opt(p, &proc.signals.mask)?;
    if let Some(v) = new {
        let m = &mut proc.signals.mask;
        *m = match how {
            SIG_BLOCK => *m | v,
            SIG_UNBLOCK => *m & !v,
            _ => v,
        } & !UNBLOCKABLE;
    }
    Ok(0)
}

pub fn rt_sigpending<P: Platform>(proc: &mut Process, p: &mut P, set: u64, size: u64) -> SysResult {
    if size > 8 {
        return Err(Errno::EINVAL);
    }
    let pending = proc.signals.pending & proc.signals.mask;
    p.write_user(set, &pending.to_le_bytes()[..size as usize]).map(|_| 0)
}

pub fn sigaltstack<P: Platform>(proc: &mut Process, p: &mut P, ss: u64, old: u64) -> SysResult {
    const SS_DISABLE: u64 = 2;
    let new = if ss != 0 { Some(UserPtr(ss).read::<[u64; 3], _>(p)?) } else { None };
    // stack_t is { void *ss_sp; int ss_flags; size_t ss_size }.
    UserPtr(old).write_opt(p, &proc.signals.altstack)?;
    if let Some(v) = new {
        let flags = v[1] & 0xffff_ffff;
        if flags & !SS_DISABLE != 0 && flags != 0x8000_0000 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && v[2] < 2048 {
            return Err(Errno::ENOMEM);
        }
        proc.signals.altstack = if flags & SS_DISABLE != 0 { [0, SS_DISABLE, 0] } else { v };
    }
    Ok(0)
}

/// A signal sent to uk-run from outside: the program gets it as from kill(2),
/// now (it ends the program, unless ignored or blocked).
pub fn host_signal<P: Platform>(proc: &mut Process, p: &mut P, signal: u64) {
    let _ = send(proc, signal);
    deliver_pending(proc, p);
}

/// Marks `signal` pending for the process (delivery happens on the way out
/// of the syscall).
fn send(proc: &mut Process, signal: u64) -> SysResult {
    if signal == 0 {
        return Ok(0);
    }
    let s = valid(signal)?;
    let a = proc.signals.action(s);
    let ignored = a.handler == SIG_IGN || (a.handler == SIG_DFL && default_action(s) == DefaultAction::Ignore);
    if !ignored || bit(s) & UNBLOCKABLE != 0 {
        proc.signals.pending |= bit(s);
    }
    Ok(0)
}

pub fn kill(proc: &mut Process, pid: i32, signal: u64) -> SysResult {
    // The VM holds one process: it, its group (0) and "everyone" (-1) are the same.
    if pid == proc.pid as i32 || pid == 0 || pid == -1 || pid == -(proc.pid as i32) {
        send(proc, signal)
    } else {
        valid(signal).or(if signal == 0 { Ok(0) } else { Err(Errno::EINVAL) })?;
        Err(Errno::ESRCH)
    }
}

pub fn tkill(proc: &mut Process, tgid: Option<u64>, tid: u64, signal: u64) -> SysResult {
    if tgid.is_some_and(|g| g as i32 <= 0) || tid as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    if tgid.is_some_and(|g| g != proc.pid as u64) || tid != proc.pid as u64 {
        return Err(Errno::ESRCH);
    }
    send(proc, signal)
}

/// Carries out every pending signal that is not blocked.
pub fn deliver_pending<P: Platform>(proc: &mut Process, p: &mut P) {
    while let Some(s) = proc.signals.take_deliverable() {
        let a = *proc.signals.action(s);
        match a.handler {
            SIG_IGN if bit(s) & UNBLOCKABLE == 0 => {}
            SIG_DFL | SIG_IGN => match default_action(s) {
                DefaultAction::Terminate => {
                    crate::sys_mem::write_back_all(proc, p);
                    p.kill(s, None)
                }
                DefaultAction::Ignore | DefaultAction::Stop | DefaultAction::Continue => {}
            },
            _ => {
                p.warn(format_args!("signal {s} has a handler, and uk-run cannot run signal handlers yet: ending the program"));
                crate::sys_mem::write_back_all(proc, p);
                p.kill(s, None)
            }
        }
    }
}
