//! Threads: clone and clone3 with the thread flags, exit of one thread
//! and of all, set_tid_address, robust lists, and futex.

use crate::sched::{self, Thread, Tid, Wait, WaitOn};
use crate::signal::Regs;
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::Errno;

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_FS: u64 = 0x200;
pub const CLONE_FILES: u64 = 0x400;
pub const CLONE_SIGHAND: u64 = 0x800;
pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_THREAD: u64 = 0x1_0000;
pub const CLONE_SYSVSEM: u64 = 0x4_0000;
pub const CLONE_SETTLS: u64 = 0x8_0000;
pub const CLONE_PARENT_SETTID: u64 = 0x10_0000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
pub const CLONE_DETACHED: u64 = 0x40_0000;
pub const CLONE_CHILD_SETTID: u64 = 0x100_0000;
pub const CLONE_IO: u64 = 0x8000_0000;

/// Flags a thread's clone may carry besides the required ones.
const THREAD_OPTIONAL: u64 = CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_CHILD_SETTID
    | CLONE_DETACHED
    | CLONE_IO
    | CLONE_FS
    | CLONE_FILES;
const THREAD_REQUIRED: u64 = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;

/// clone (and clone3, with its arguments unpacked): a thread of this
/// process. A new process (fork's flags) answers ENOSYS, with a warning.
pub fn clone<P: Platform>(proc: &mut Process, p: &mut P, regs: &Regs, flags: u64, stack: u64, ptid: u64, ctid: u64, tls: u64) -> SysResult {
    // Flag checks as Linux makes them.
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 || flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_THREAD == 0 {
        return crate::procs::fork(proc, p, regs, flags, stack, ptid, ctid, tls);
    }
    if flags & THREAD_REQUIRED != THREAD_REQUIRED || flags & !(THREAD_REQUIRED | THREAD_OPTIONAL | 0xff) != 0 {
        return Err(Errno::EINVAL);
    }
    // An exit signal is for a child process: a thread's is ignored (clone3 refuses one).
    let tid = crate::procs::new_id(proc);
    let mut child = regs.clone();
    child.rax = 0;
    if stack != 0 {
        child.rsp = stack;
    }
    let fs = if flags & CLONE_SETTLS != 0 { tls } else { p.fs_base() };
    if flags & CLONE_PARENT_SETTID != 0 {
        UserPtr(ptid).write(p, &tid)?;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        UserPtr(ctid).write(p, &tid)?;
    }
    p.spawn_thread(tid, &child, fs)?;
    let now = p.clock_ns(false);
    let mut t = Thread::new(tid, proc.thread.comm, now);
    t.sig.mask = proc.thread.sig.mask;
    if flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_child_tid = ctid;
    }
    proc.threads.others.insert(tid, t);
    proc.threads.runq.push_back(tid);
    Ok(tid as u64)
}

/// clone3: `struct clone_args` (at least 64 bytes: up to tls).
pub fn clone3<P: Platform>(proc: &mut Process, p: &mut P, regs: &Regs, args: u64, size: u64) -> SysResult {
    if !(64..=4096).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let mut a = [0u64; 11];
    let n = (size as usize).min(88);
    let mut b = [0u8; 88];
    p.read_user(args, &mut b[..n])?;
    for (i, w) in a.iter_mut().enumerate() {
        *w = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
    }
    let [flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, _cgroup] = a;
    if flags & CLONE_PIDFD != 0 || set_tid != 0 || set_tid_size != 0 || exit_signal > 64 || flags & 0xff != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_THREAD != 0 && exit_signal != 0 {
        return Err(Errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let sp = if stack != 0 { stack.wrapping_add(stack_size) } else { 0 };
    clone(proc, p, regs, flags | exit_signal, sp, parent_tid, child_tid, tls)
}

/// exit: this thread ends; the process ends with the last one.
pub fn exit_thread<P: Platform>(proc: &mut Process, p: &mut P, status: i32) -> SysResult {
    if proc.nthreads() == 1 {
        crate::procs::exit(proc, p, status)
    }
    thread_gone(proc, p);
    proc.thread.exited = true;
    p.thread_exit(proc.thread.tid);
    Err(Errno::EBLOCK)
}

/// What the end of a thread does for the others: its robust futexes are
/// marked FUTEX_OWNER_DIED, and its CLEARTID word is zeroed and woken.
fn thread_gone<P: Platform>(proc: &mut Process, p: &mut P) {
    walk_robust_list(proc, p);
    let ctid = proc.thread.clear_child_tid;
    if ctid != 0 && UserPtr(ctid).write(p, &0u32).is_ok() {
        futex_wake(proc, ctid, 1, u32::MAX);
    }
}

/// The bitset a PI lock waiter waits with: FUTEX_WAKE does not wake it
/// (only UNLOCK_PI, or its owner's death, hands it the lock).
const PI_BITSET: u32 = 0;
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// The robust list: { next, futex_offset, list_op_pending }.
fn walk_robust_list<P: Platform>(proc: &mut Process, p: &mut P) {
    let (head, _) = proc.thread.robust_list;
    if head == 0 {
        return;
    }
    let Ok([mut entry, offset, pending]) = UserPtr(head).read::<[u64; 3], _>(p) else { return };
    let tid = proc.thread.tid;
    let release = |proc: &mut Process, p: &mut P, e: u64| {
        // Bit 0 of an entry marks a PI mutex (glibc).
        let addr = (e & !1).wrapping_add(offset);
        if let Ok(w) = UserPtr(addr).read::<u32, _>(p) {
            if w & FUTEX_TID_MASK == tid {
                if !pi_handover(proc, p, addr, FUTEX_OWNER_DIED) {
                    let _ = UserPtr(addr).write(p, &((w & FUTEX_WAITERS) | FUTEX_OWNER_DIED));
                    if w & FUTEX_WAITERS != 0 {
                        futex_wake(proc, addr, 1, u32::MAX);
                    }
                }
            }
        }
    };
    // At most ROBUST_LIST_LIMIT entries, as Linux walks (a loop in the list ends it).
    for _ in 0..2048 {
        if entry == head || entry == 0 {
            break;
        }
        let next = UserPtr(entry & !1).read::<u64, _>(p).unwrap_or(head);
        if entry != pending {
            release(proc, p, entry);
        }
        entry = next;
    }
    if pending != 0 {
        release(proc, p, pending);
    }
}

pub fn set_robust_list(proc: &mut Process, head: u64, len: u64) -> SysResult {
    if len != 24 {
        return Err(Errno::EINVAL);
    }
    proc.thread.robust_list = (head, len);
    Ok(0)
}

pub fn get_robust_list<P: Platform>(proc: &mut Process, p: &mut P, tid: u64, head: u64, len: u64) -> SysResult {
    let t = if tid == 0 { proc.thread.tid } else { tid as Tid };
    let (h, l) = proc.thread_mut(t).ok_or(Errno::ESRCH)?.robust_list;
    UserPtr(head).write(p, &h)?;
    UserPtr(len).write(p, &l).map(|_| 0)
}

pub const FUTEX_WAIT: u64 = 0;
pub const FUTEX_WAKE: u64 = 1;
pub const FUTEX_REQUEUE: u64 = 3;
pub const FUTEX_CMP_REQUEUE: u64 = 4;
pub const FUTEX_WAKE_OP: u64 = 5;
pub const FUTEX_LOCK_PI: u64 = 6;
pub const FUTEX_UNLOCK_PI: u64 = 7;
pub const FUTEX_TRYLOCK_PI: u64 = 8;
pub const FUTEX_WAIT_BITSET: u64 = 9;
pub const FUTEX_WAKE_BITSET: u64 = 10;
pub const FUTEX_LOCK_PI2: u64 = 13;
const FUTEX_PRIVATE: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

/// Gives a PI futex at `addr` to its first waiter, if one waits (the word
/// becomes its tid, with FUTEX_WAITERS if more wait, and `extra`); false
/// when none waits.
fn pi_handover<P: Platform>(proc: &mut Process, p: &mut P, addr: u64, extra: u32) -> bool {
    let pi = |proc: &mut Process, tid: Tid| matches!(proc.thread_mut(tid).and_then(|t| t.wait), Some(Wait { on: WaitOn::Futex { bitset: PI_BITSET, .. }, .. }));
    let waiters: alloc::vec::Vec<Tid> = proc.threads.futex_queue.iter().filter(|q| q.0 == addr).map(|q| q.1).collect();
    let Some(&next) = waiters.iter().find(|&&t| pi(proc, t)) else { return false };
    let more = if waiters.len() > 1 { FUTEX_WAITERS } else { 0 };
    let _ = UserPtr(addr).write(p, &(next | more | extra));
    sched::wake(proc, next, Some(Ok(0)));
    true
}

/// Wakes up to `n` waiters on `addr` whose bitset meets `bitset`; returns how many.
pub fn futex_wake(proc: &mut Process, addr: u64, n: u64, bitset: u32) -> u64 {
    let mut woken = 0;
    let mut i = 0;
    while woken < n && i < proc.threads.futex_queue.len() {
        let (a, tid) = proc.threads.futex_queue[i];
        let meets = match proc.thread_mut(tid).and_then(|t| t.wait) {
            Some(Wait { on: WaitOn::Futex { bitset: b, .. }, .. }) => b & bitset != 0,
            _ => false,
        };
        if a == addr && meets {
            sched::wake(proc, tid, Some(Ok(0)));
            woken += 1;
        } else {
            i += 1;
        }
    }
    woken
}

/// Moves up to `n` waiters from `from` to `to`; returns how many.
fn futex_requeue(proc: &mut Process, from: u64, to: u64, n: u64) -> u64 {
    let mut moved = 0;
    let mut tids = alloc::vec::Vec::new();
    for q in proc.threads.futex_queue.iter_mut() {
        if moved < n && q.0 == from {
            q.0 = to;
            tids.push(q.1);
            moved += 1;
        }
    }
    for tid in tids {
        if let Some(Some(Wait { on: WaitOn::Futex { addr, .. }, .. })) = proc.thread_mut(tid).map(|t| t.wait.as_mut()) {
            *addr = to;
        }
    }
    moved
}

fn timeout_deadline<P: Platform>(p: &mut P, uts: u64, absolute: bool, realtime: bool) -> Result<Option<u64>, Errno> {
    if uts == 0 {
        return Ok(None);
    }
    let ns = crate::time::from_timespec(&UserPtr(uts).read(p)?)?;
    let mono = p.clock_ns(false);
    Ok(Some(if absolute {
        // Deadlines are kept on the monotonic clock.
        let now = p.clock_ns(realtime);
        mono.saturating_add(ns.saturating_sub(now))
    } else {
        mono.saturating_add(ns)
    }))
}

pub fn futex<P: Platform>(proc: &mut Process, p: &mut P, a: [u64; 6]) -> SysResult {
    let [uaddr, op, val, uts, uaddr2, val3] = a;
    let cmd = op & !(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI2) {
        return Err(Errno::ENOSYS);
    }
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    let word = |p: &P| UserPtr(uaddr).read::<u32, _>(p);
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { u32::MAX } else { val3 as u32 };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let deadline = timeout_deadline(p, uts, cmd == FUTEX_WAIT_BITSET, realtime)?;
            if word(p)? != val as u32 {
                return Err(Errno::EAGAIN);
            }
            if deadline.is_some_and(|d| d <= p.clock_ns(false)) {
                return Err(Errno::ETIMEDOUT);
            }
            let w = Wait::new(WaitOn::Futex { addr: uaddr, bitset }, deadline, Some(Err(Errno::ETIMEDOUT)), Errno::ERESTARTSYS);
            sched::block(proc, w)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { u32::MAX } else { val3 as u32 };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            Ok(futex_wake(proc, uaddr, val.min(i32::MAX as u64), bitset))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if (val as i32) < 0 || (uts as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            if cmd == FUTEX_CMP_REQUEUE && word(p)? != val3 as u32 {
                return Err(Errno::EAGAIN);
            }
            let woken = futex_wake(proc, uaddr, val, u32::MAX);
            let moved = futex_requeue(proc, uaddr, uaddr2, uts & 0x7fff_ffff);
            Ok(woken + if cmd == FUTEX_CMP_REQUEUE { moved } else { 0 })
        }
        FUTEX_WAKE_OP => {
            let old: u32 = UserPtr(uaddr2).read(p)?;
            let opcode = (val3 >> 28) & 7;
            let shift = val3 & (8 << 28) != 0;
            // oparg and cmparg are signed 12-bit fields.
            let sext = |v: u64| (((v & 0xfff) as i32) << 20) >> 20;
            let mut oparg = sext(val3 >> 12) as u32;
            if shift {
                oparg = 1u32 << (oparg & 31);
            }
            let cmp = (val3 >> 24) & 15;
            let cmparg = sext(val3);
            if cmp > 5 {
                return Err(Errno::ENOSYS);
            }
            let new = match opcode {
                0 => oparg,
                1 => old.wrapping_add(oparg),
                2 => old | oparg,
                3 => old & !oparg,
                4 => old ^ oparg,
                _ => return Err(Errno::ENOSYS),
            };
            UserPtr(uaddr2).write(p, &new)?;
            let mut n = futex_wake(proc, uaddr, val, u32::MAX);
            let o = old as i32;
            let hit = match cmp {
                0 => o == cmparg,
                1 => o != cmparg,
                2 => o < cmparg,
                3 => o <= cmparg,
                4 => o > cmparg,
                5 => o >= cmparg,
                _ => return Err(Errno::ENOSYS),
            };
            if hit {
                n += futex_wake(proc, uaddr2, uts & 0x7fff_ffff, u32::MAX);
            }
            Ok(n)
        }
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            let me = proc.thread.tid;
            // A lock this thread just got by an unlock (see UNLOCK_PI) is taken.
            let w = word(p)?;
            let owner = w & FUTEX_TID_MASK;
            if owner == me {
                return Err(Errno::EDEADLK);
            }
            if owner == 0 || proc.thread_mut(owner).is_none() {
                // Free, or its owner is gone: take it (OWNER_DIED tells a robust caller).
                let died = if owner != 0 { FUTEX_OWNER_DIED } else { w & FUTEX_OWNER_DIED };
                let waiters = if proc.threads.futex_queue.iter().any(|q| q.0 == uaddr) { FUTEX_WAITERS } else { 0 };
                UserPtr(uaddr).write(p, &(me | died | waiters))?;
                return Ok(0);
            }
            if cmd == FUTEX_TRYLOCK_PI {
                return Err(Errno::EAGAIN);
            }
            let deadline = timeout_deadline(p, uts, true, cmd == FUTEX_LOCK_PI || realtime)?;
            UserPtr(uaddr).write(p, &(w | FUTEX_WAITERS))?;
            let wait = Wait::new(WaitOn::Futex { addr: uaddr, bitset: PI_BITSET }, deadline, Some(Err(Errno::ETIMEDOUT)), Errno::ERESTARTNOINTR);
            sched::block(proc, wait)
        }
        FUTEX_UNLOCK_PI => {
            let me = proc.thread.tid;
            let w = word(p)?;
            if w & FUTEX_TID_MASK != me {
                return Err(Errno::EPERM);
            }
            // The lock goes straight to the first waiter.
            if !pi_handover(proc, p, uaddr, 0) {
                UserPtr(uaddr).write(p, &0u32)?;
            }
            Ok(0)
        }
        _ => Err(Errno::ENOSYS),
    }
}
