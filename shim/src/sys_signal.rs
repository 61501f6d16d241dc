//! rt_sigaction, masks, sending (kill, tgkill, sigqueue), waiting
//! (sigsuspend, sigtimedwait), and delivery: a handler runs on a frame
//! built as Linux builds it, and rt_sigreturn takes the frame back.

use crate::sched::{self, Tid, Wait, WaitOn};
use crate::signal::{autodisarm, bit, frame, frame_place, Pending, Regs, Trap, UNBLOCKABLE, USER_RFLAGS};
use crate::user::UserPtr;
use crate::{FaultInfo, Platform, Process, SysResult};
use abi::linux::{default_action, sa, si, DefaultAction, Errno, KSigaction, SigInfo, StackT, NSIG, SIG_DFL, SIG_IGN};
use abi::linux::{SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};

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
        // Setting SIG_IGN (or SIG_DFL for an ignored-by-default signal) discards it where pending.
        if proc.signals.ignores(s) {
            proc.signals.pending.discard(bit(s));
            proc.thread.sig.pending.discard(bit(s));
            for t in proc.threads.others.values_mut() {
                t.sig.pending.discard(bit(s));
            }
        }
    }
    Ok(0)
}

const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;

pub fn rt_sigprocmask<P: Platform>(proc: &mut Process, p: &mut P, how: u64, set: u64, oset: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if set != 0 { Some(UserPtr(set).read::<u64, _>(p)?) } else { None };
    if new.is_some() && how > SIG_SETMASK {
        return Err(Errno::EINVAL);
    }
    UserPtr(oset).write_opt(p, &proc.thread.sig.mask)?;
    if let Some(v) = new {
        let m = &mut proc.thread.sig.mask;
        *m = match how {
            SIG_BLOCK => *m | v,
            SIG_UNBLOCK => *m & !v,
            _ => v,
        } & !UNBLOCKABLE;
    }
    Ok(0)
}

fn pending_set(proc: &Process) -> u64 {
    proc.thread.sig.pending.set | proc.signals.pending.set
}

pub fn rt_sigpending<P: Platform>(proc: &mut Process, p: &mut P, set: u64, size: u64) -> SysResult {
    if size > 8 {
        return Err(Errno::EINVAL);
    }
    let pending = pending_set(proc) & proc.thread.sig.mask;
    p.write_user(set, &pending.to_le_bytes()[..size as usize]).map(|_| 0)
}

pub fn sigaltstack<P: Platform>(proc: &mut Process, p: &mut P, ss: u64, old: u64, sp: u64) -> SysResult {
    let new = if ss != 0 { Some(UserPtr(ss).read::<StackT, _>(p)?) } else { None };
    let ts = &proc.thread.sig;
    let view = ts.altstack_view(sp);
    UserPtr(old).write_opt(p, &view)?;
    if let Some(v) = new {
        if ts.on_altstack(sp) {
            return Err(Errno::EPERM);
        }
        let mode = v.ss_flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            proc.thread.sig.altstack = StackT { ss_flags: SS_DISABLE, ..StackT::default() };
        } else {
            if v.ss_size < 2048 {
                return Err(Errno::ENOMEM);
            }
            proc.thread.sig.altstack = StackT { ss_flags: v.ss_flags & SS_AUTODISARM, ..v };
        }
    }
    Ok(0)
}

/// A signal sent to uk-run from outside: the program gets it as from kill(2).
pub fn host_signal<P: Platform>(proc: &mut Process, p: &mut P, signal: u64) {
    let info = SigInfo { signo: signal as i32, code: si::SI_USER, ..SigInfo::default() };
    // uk-run stands for the first process: the signal is its, whichever runs.
    let init = proc.world.init;
    let target = if proc.pid == init { Some(proc) } else { proc.world.procs.get_mut(&init).map(|b| &mut **b) };
    if let Some(t) = target {
        let _ = send(t, p, None, info);
    }
}

/// Makes a signal pending for thread `tid`, or for the group (None), and
/// wakes a thread it interrupts. Ignored signals are discarded.
pub fn send<P: Platform>(proc: &mut Process, p: &mut P, tid: Option<Tid>, info: SigInfo) -> SysResult {
    let s = info.signo as u32;
    if s == 0 {
        return Ok(0);
    }
    // An ignored signal is discarded, unless blocked where it is sent: a
    // blocked one stays pending (sigwait may take it), as on Linux.
    let blocked = match tid {
        Some(t) => proc.thread_mut(t).is_some_and(|th| th.sig.mask & bit(s) != 0),
        None => proc.thread.sig.mask & bit(s) != 0,
    };
    if proc.signals.ignores(s) && !blocked {
        return Ok(0);
    }
    let added = match tid {
        Some(t) => proc.thread_mut(t).ok_or(Errno::ESRCH)?.sig.pending.add(info),
        None => proc.signals.pending.add(info),
    };
    if !added {
        return Err(Errno::EAGAIN);
    }
    sched::signal_wakes(proc, p, tid, s);
    Ok(0)
}

fn user_info(proc: &Process, signal: u32, code: i32) -> SigInfo {
    SigInfo { signo: signal as i32, code, fields: fields_pid(proc), ..SigInfo::default() }
}

fn fields_pid(proc: &Process) -> [u64; 14] {
    let mut f = [0; 14];
    f[0] = proc.pid as u64 | (proc.uid as u64) << 32;
    f
}

pub fn kill<P: Platform>(proc: &mut Process, p: &mut P, pid: i32, signal: u64) -> SysResult {
    if signal != 0 {
        valid(signal)?;
    }
    let info = user_info(proc, signal as u32, si::SI_USER);
    for target in crate::procs::kill_targets(proc, pid)? {
        if target == proc.pid {
            send(proc, p, None, info)?;
        } else if let Some(o) = proc.world.procs.get_mut(&target) {
            if !o.is_zombie() {
                send(o, p, None, info)?;
            }
        }
    }
    Ok(0)
}

pub fn tkill<P: Platform>(proc: &mut Process, p: &mut P, tgid: Option<u64>, tid: u64, signal: u64) -> SysResult {
    if tgid.is_some_and(|g| g as i32 <= 0) || tid as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    if signal != 0 {
        valid(signal)?;
    }
    if tgid.is_some_and(|g| g != proc.pid as u64) || proc.thread_mut(tid as Tid).is_none() {
        return Err(Errno::ESRCH);
    }
    let info = user_info(proc, signal as u32, si::SI_TKILL);
    send(proc, p, Some(tid as Tid), info)
}

/// rt_sigqueueinfo (tid None) and rt_tgsigqueueinfo.
pub fn sigqueueinfo<P: Platform>(proc: &mut Process, p: &mut P, tgid: u64, tid: Option<u64>, signal: u64, uinfo: u64) -> SysResult {
    let s = valid(signal)?;
    let mut info: SigInfo = UserPtr(uinfo).read(p)?;
    // A program may not pretend to be the kernel or kill to another
    // process; to itself it may (as Linux allows).
    let to_self = tgid as i32 == proc.pid as i32 && tid.is_none_or(|t| t as u32 == proc.thread.tid);
    if (info.code >= 0 || info.code == si::SI_TKILL) && !to_self {
        return Err(Errno::EPERM);
    }
    info.signo = s as i32;
    if tgid as i32 != proc.pid as i32 {
        return Err(Errno::ESRCH);
    }
    match tid {
        Some(t) if proc.thread_mut(t as Tid).is_none() => Err(Errno::ESRCH),
        Some(t) => send(proc, p, Some(t as Tid), info),
        None => send(proc, p, None, info),
    }
}

/// rt_sigsuspend: waits with `set` as the mask until a handler runs.
pub fn rt_sigsuspend<P: Platform>(proc: &mut Process, p: &mut P, set: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let m: u64 = UserPtr(set).read(p)?;
    if proc.thread.sig.saved_mask.is_none() {
        proc.thread.sig.saved_mask = Some(proc.thread.sig.mask);
    }
    proc.thread.sig.mask = m & !UNBLOCKABLE;
    if deliverable(proc) != 0 {
        return Err(Errno::ERESTARTNOHAND);
    }
    sched::block(proc, Wait::new(WaitOn::Nothing, None, None, Errno::ERESTARTNOHAND))
}

/// pause: waits until a handler runs.
pub fn pause(proc: &mut Process) -> SysResult {
    if deliverable(proc) != 0 {
        return Err(Errno::ERESTARTNOHAND);
    }
    sched::block(proc, Wait::new(WaitOn::Nothing, None, None, Errno::ERESTARTNOHAND))
}

/// rt_sigtimedwait: takes one of `set`'s pending signals, waiting for one.
pub fn rt_sigtimedwait<P: Platform>(proc: &mut Process, p: &mut P, set: u64, uinfo: u64, uts: u64, size: u64) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let want: u64 = UserPtr(set).read::<u64, _>(p)? & !UNBLOCKABLE;
    let ready = pending_set(proc) & want;
    if let Some(s) = Pending::choose(ready) {
        let info = proc.thread.sig.pending.take(s).or_else(|| proc.signals.pending.take(s)).unwrap_or_default();
        crate::sys_timer::taken(proc, &info);
        UserPtr(uinfo).write_opt(p, &info)?;
        proc.thread.deadline = None;
        return Ok(s as u64);
    }
    let deadline = match (proc.thread.deadline, uts) {
        (Some(d), _) => Some(d),
        (None, 0) => None,
        (None, ts) => {
            let ns = crate::time::from_timespec(&UserPtr(ts).read(p)?)?;
            Some(p.clock_ns(false).saturating_add(ns))
        }
    };
    if deadline.is_some_and(|d| d <= p.clock_ns(false)) {
        return Err(Errno::EAGAIN);
    }
    proc.thread.deadline = deadline;
    // Waiting signals in `set` are taken even if blocked: wake on them.
    sched::block(proc, Wait::new(WaitOn::Signals(want), deadline, None, Errno::EINTR))
}

/// The pending signals the running thread would take now.
pub fn deliverable(proc: &Process) -> u64 {
    pending_set(proc) & !(proc.thread.sig.mask & !UNBLOCKABLE)
}

/// How a syscall's result is to be returned after delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// No syscall is in progress (a fault, a host signal in user code).
    None,
    /// Syscall `nr` ended with this result.
    Syscall(u64),
}

/// Carries out the pending signals the running thread does not block:
/// default actions, or a frame per handler (nested: the last built runs
/// first). `regs` is the thread's state to return to, its rax holding the
/// syscall's result; an interrupted syscall is restarted or answers EINTR
/// as the handler's SA_RESTART says. Returns whether a frame was built.
pub fn deliver<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs, mut restart: Restart, trap: Trap, fault: Option<FaultInfo>) -> bool {
    let mut built = false;
    loop {
        let Some(s) = Pending::choose(deliverable(proc)) else { break };
        let info = proc
            .thread
            .sig
            .pending
            .take(s)
            .or_else(|| proc.signals.pending.take(s))
            .unwrap_or(SigInfo { signo: s as i32, ..SigInfo::default() });
        crate::sys_timer::taken(proc, &info);
        let a = *proc.signals.action(s);
        if a.handler == SIG_IGN && bit(s) & UNBLOCKABLE == 0 {
            continue;
        }
        if a.handler == SIG_DFL || a.handler == SIG_IGN {
            match default_action(s) {
                DefaultAction::Terminate => terminate(proc, p, s, fault),
                DefaultAction::Ignore | DefaultAction::Stop | DefaultAction::Continue => continue,
            }
        }
        // A handler runs: first settle the interrupted syscall.
        if let Restart::Syscall(nr) = restart {
            let r = regs.rax as i64;
            if r == Errno::ERESTARTNOINTR.ret() || r == Errno::ERESTARTSYS.ret() && a.flags & sa::SA_RESTART != 0 {
                regs.rax = nr;
                regs.rip -= 2;
            } else if r == Errno::ERESTARTSYS.ret() || r == Errno::ERESTARTNOHAND.ret() {
                regs.rax = Errno::EINTR.ret() as u64;
            }
            restart = Restart::None;
        }
        if a.handler >= abi::layout::USER_END || setup_frame(proc, p, regs, s, &a, &info, trap).is_err() {
            // No room for the frame: the program dies of SIGSEGV, as on Linux.
            terminate(proc, p, abi::linux::sig::SIGSEGV, fault);
        }
        built = true;
        if a.flags & sa::SA_RESETHAND != 0 {
            proc.signals.actions[s as usize - 1] = KSigaction::default();
        }
        let mut m = proc.thread.sig.mask | a.mask;
        if a.flags & sa::SA_NODEFER == 0 {
            m |= bit(s);
        }
        proc.thread.sig.mask = m & !UNBLOCKABLE;
    }
    if let Restart::Syscall(nr) = restart {
        // No handler ran: an interrupted syscall starts again.
        let r = regs.rax as i64;
        if r == Errno::ERESTARTSYS.ret() || r == Errno::ERESTARTNOHAND.ret() || r == Errno::ERESTARTNOINTR.ret() {
            regs.rax = nr;
            regs.rip -= 2;
        }
    }
    if !built {
        // sigsuspend and the like put their mask back when no handler ran.
        if let Some(m) = proc.thread.sig.saved_mask.take() {
            proc.thread.sig.mask = m;
        }
    }
    built
}

fn terminate<P: Platform>(proc: &mut Process, p: &mut P, s: u32, fault: Option<FaultInfo>) -> ! {
    crate::procs::die(proc, p, s, fault)
}

/// Writes the frame for handler `a` of signal `s` and points `regs` at the handler.
fn setup_frame<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs, s: u32, a: &KSigaction, info: &SigInfo, trap: Trap) -> Result<(), Errno> {
    let fpu = p.fpu_image_size();
    let ts = &proc.thread.sig;
    let (start, fp) = frame_place(ts, a.flags, regs.rsp, fpu);
    let uc_stack = StackT { ss_sp: ts.altstack.ss_sp, ss_flags: ts.altstack_view(regs.rsp).ss_flags | (ts.altstack.ss_flags & SS_AUTODISARM), _pad: 0, ss_size: ts.altstack.ss_size };
    let old_mask = proc.thread.sig.saved_mask.take().unwrap_or(proc.thread.sig.mask);
    let mut f = [0u8; frame::SIZE as usize];
    let put = |f: &mut [u8], at: u64, v: u64| f[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes());
    put(&mut f, 0, a.restorer);
    put(&mut f, frame::UC, frame::UC_FP_XSTATE | frame::UC_SIGCONTEXT_SS | frame::UC_STRICT_RESTORE_SS);
    f[frame::UC_STACK as usize..frame::UC_STACK as usize + 24].copy_from_slice(abi::pod::as_bytes(&uc_stack));
    let r = regs.words();
    for (i, v) in r.iter().enumerate() {
        put(&mut f, frame::MCONTEXT + 8 * i as u64, *v);
    }
    // cs, gs, fs, ss as Linux's user segments show them.
    put(&mut f, frame::CSGSFS, 0x33 | (0x2b << 48));
    put(&mut f, frame::ERR, trap.err);
    put(&mut f, frame::TRAPNO, trap.trapno);
    put(&mut f, frame::OLDMASK, old_mask);
    put(&mut f, frame::CR2, trap.cr2);
    put(&mut f, frame::FPSTATE, fp);
    put(&mut f, frame::SIGMASK, old_mask);
    f[frame::INFO as usize..frame::SIZE as usize].copy_from_slice(abi::pod::as_bytes(info));
    p.save_fpu(fp)?;
    p.write_user(start, &f)?;
    autodisarm(&mut proc.thread.sig);
    regs.rsp = start;
    regs.rip = a.handler;
    regs.rdi = s as u64;
    regs.rsi = start + frame::INFO;
    regs.rdx = start + frame::UC;
    regs.rax = 0;
    // DF, TF and RF are clear when a handler starts.
    regs.rflags &= !(0x400 | 0x100 | 0x1_0000);
    Ok(())
}

/// rt_sigreturn: the frame at the stack pointer (the handler's `ret` took
/// its return address) gives back the registers, mask, FPU state and
/// alternate stack. A bad frame ends the program with SIGSEGV.
pub fn rt_sigreturn<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs) {
    let start = regs.rsp.wrapping_sub(8);
    let mut f = [0u8; frame::SIZE as usize];
    if p.read_user(start, &mut f).is_err() {
        terminate(proc, p, abi::linux::sig::SIGSEGV, None);
    }
    let get = |at: u64| u64::from_le_bytes(f[at as usize..at as usize + 8].try_into().unwrap_or([0; 8]));
    let r: [u64; 18] = core::array::from_fn(|i| get(frame::MCONTEXT + 8 * i as u64));
    let flags = (regs.rflags & !USER_RFLAGS) | (r[17] & USER_RFLAGS);
    // A return address outside the user half would fault in the kernel's
    // return path: the program dies of SIGSEGV, as it would at that address.
    if r[16] >= abi::layout::USER_END {
        terminate(proc, p, abi::linux::sig::SIGSEGV, None);
    }
    *regs = Regs { rflags: flags, ..Regs::from_words(r) };
    proc.thread.sig.mask = get(frame::SIGMASK) & !UNBLOCKABLE;
    let fp = get(frame::FPSTATE);
    if fp != 0 && p.restore_fpu(fp).is_err() {
        terminate(proc, p, abi::linux::sig::SIGSEGV, None);
    }
    // The alternate stack as it was (SS_AUTODISARM took it away for the handler).
    let st: StackT = abi::pod::read_from(&f[frame::UC_STACK as usize..]).unwrap_or_default();
    if st.ss_flags & SS_AUTODISARM != 0 {
        proc.thread.sig.altstack = StackT { ss_flags: SS_AUTODISARM, ..st };
    }
}

/// The signal and siginfo of a CPU fault in the program.
pub fn fault_info(f: &FaultInfo) -> (u32, SigInfo, Trap) {
    use abi::linux::sig::*;
    let (signal, code, addr) = match f.vector {
        0 => (SIGFPE, si::FPE_INTDIV, f.rip),
        16 | 19 => (SIGFPE, si::FPE_FLTDIV, f.rip),
        1 | 3 => (SIGTRAP, si::SI_KERNEL, 0),
        6 => (SIGILL, si::ILL_ILLOPN, f.rip),
        17 => (SIGBUS, si::BUS_ADRALN, f.addr),
        14 => (SIGSEGV, if f.error_code & 1 != 0 { si::SEGV_ACCERR } else { si::SEGV_MAPERR }, f.addr),
        _ => (SIGSEGV, si::SI_KERNEL, 0),
    };
    let mut info = SigInfo { signo: signal as i32, code, ..SigInfo::default() };
    info.fields[0] = addr;
    let trap = Trap { trapno: f.vector as u64, err: f.error_code, cr2: if f.vector == 14 { f.addr } else { 0 } };
    (signal, info, trap)
}

/// A CPU fault in the program: its handler runs (the fault's signal is
/// taken even when blocked or ignored: then it kills, as on Linux).
pub fn fault<P: Platform>(proc: &mut Process, p: &mut P, regs: &mut Regs, f: FaultInfo) {
    let (s, mut info, trap) = fault_info(&f);
    // A page fault outside every mapping of the program is SEGV_MAPERR even
    // where the kernel has pages of its own (the trampoline at address 0).
    let page = f.addr & !0xfff;
    if f.vector == 14 && !proc.mm.overlapping(page, page.saturating_add(0x1000)).any(|(_, v)| v.kind != crate::mm::Kind::Trampoline) {
        info.code = si::SEGV_MAPERR;
    }
    let a = *proc.signals.action(s);
    let blocked = proc.thread.sig.mask & bit(s) != 0;
    if a.handler == SIG_IGN || a.handler == SIG_DFL || blocked {
        terminate(proc, p, s, Some(f));
    }
    proc.thread.sig.pending.add(info);
    deliver(proc, p, regs, Restart::None, trap, Some(f));
}
