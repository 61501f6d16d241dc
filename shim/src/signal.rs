//! Signal state: the dispositions a thread group shares, the pending sets
//! (one per thread, one for the group), and the user frames handlers run
//! on (Linux's `rt_sigframe` on x86-64: return address, ucontext, siginfo,
//! then the xsave image of the FPU state).

use abi::linux::{sa, sig, KSigaction, SigInfo, StackT, NSIG, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};
use alloc::vec::Vec;

pub fn bit(signal: u32) -> u64 {
    1u64 << (signal - 1)
}

/// Signals that can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: u64 = (1 << (sig::SIGKILL - 1)) | (1 << (sig::SIGSTOP - 1));

/// Signals a CPU fault raises: delivered before any other pending signal.
pub const SYNCHRONOUS: u64 = (1 << (sig::SIGSEGV - 1))
    | (1 << (sig::SIGBUS - 1))
    | (1 << (sig::SIGILL - 1))
    | (1 << (sig::SIGTRAP - 1))
    | (1 << (sig::SIGFPE - 1));

/// A set of pending signals with their siginfo: one per standard signal,
/// a queue for real-time ones (signal 32 and up).
#[derive(Debug, Default, Clone)]
pub struct Pending {
    pub set: u64,
    queue: Vec<SigInfo>,
}

/// Real-time signals queued per process at most (RLIMIT_SIGPENDING's
/// default scale); sigqueue answers EAGAIN past it.
pub const MAX_QUEUED: usize = 1024;

impl Pending {
    /// Adds a signal; a standard one already pending is not queued twice.
    /// False if the queue is full (the signal is not added).
    pub fn add(&mut self, info: SigInfo) -> bool {
        let s = info.signo as u32;
        if s < sig::SIGRTMIN && self.set & bit(s) != 0 {
            return true;
        }
        // Only real-time signals count against the limit (standard ones
        // are at most one each).
        if s >= sig::SIGRTMIN && self.queue.len() >= MAX_QUEUED {
            return false;
        }
        self.set |= bit(s);
        self.queue.push(info);
        true
    }

    /// Takes the first queued instance of `signal`.
    pub fn take(&mut self, signal: u32) -> Option<SigInfo> {
        let i = self.queue.iter().position(|q| q.signo as u32 == signal)?;
        let info = self.queue.remove(i);
        if !self.queue.iter().any(|q| q.signo as u32 == signal) {
            self.set &= !bit(signal);
        }
        Some(info)
    }

    /// Forgets every instance of the signals in `set` (SIG_IGN discards them).
    pub fn discard(&mut self, set: u64) {
        self.queue.retain(|q| bit(q.signo as u32) & set == 0);
        self.set &= !set;
    }

    /// The signal to take next from `ready` (a subset of `set`): faults
    /// first, then the lowest number.
    pub fn choose(ready: u64) -> Option<u32> {
        if ready == 0 {
            return None;
        }
        let sync = ready & SYNCHRONOUS;
        let pick = if sync != 0 { sync } else { ready };
        Some(pick.trailing_zeros() + 1)
    }
}

/// What the threads of a group share: the dispositions and the pending
/// set of signals sent to the group.
#[derive(Debug)]
pub struct Signals {
    pub actions: [KSigaction; NSIG],
    pub pending: Pending,
}

impl Default for Signals {
    fn default() -> Self {
        Signals { actions: [KSigaction::default(); NSIG], pending: Pending::default() }
    }
}

impl Signals {
    pub fn action(&self, signal: u32) -> &KSigaction {
        &self.actions[signal as usize - 1]
    }

    /// execve: caught signals go back to their default action; ignored ones
    /// stay ignored (the mask and pending sets are the thread's and are kept).
    pub fn reset_handlers(&mut self) {
        for a in self.actions.iter_mut() {
            if a.handler > abi::linux::SIG_IGN {
                *a = KSigaction::default();
            }
        }
    }

    /// Whether a signal sent now would be discarded (ignored, and not SIGKILL or SIGSTOP).
    pub fn ignores(&self, signal: u32) -> bool {
        let a = self.action(signal);
        bit(signal) & UNBLOCKABLE == 0
            && (a.handler == abi::linux::SIG_IGN
                || (a.handler == abi::linux::SIG_DFL
                    && abi::linux::default_action(signal) == abi::linux::DefaultAction::Ignore))
    }
}

/// A thread's own signal state.
#[derive(Debug, Clone)]
pub struct ThreadSignals {
    pub mask: u64,
    pub pending: Pending,
    pub altstack: StackT,
    /// The mask to put back once a handler's frame is built, set by the
    /// calls that wait with a temporary mask (sigsuspend, ppoll, pselect,
    /// epoll_pwait): the frame saves this one, so sigreturn restores it.
    pub saved_mask: Option<u64>,
}

impl Default for ThreadSignals {
    fn default() -> Self {
        ThreadSignals {
            mask: 0,
            pending: Pending::default(),
            altstack: StackT { ss_flags: SS_DISABLE, ..StackT::default() },
            saved_mask: None,
        }
    }
}

impl ThreadSignals {
    /// Whether `sp` lies on the alternate stack.
    pub fn on_altstack(&self, sp: u64) -> bool {
        self.altstack.ss_flags & SS_DISABLE == 0
            && sp.wrapping_sub(self.altstack.ss_sp) < self.altstack.ss_size
    }

    /// sigaltstack's view: SS_ONSTACK while running on it.
    pub fn altstack_view(&self, sp: u64) -> StackT {
        let mut s = self.altstack;
        if self.on_altstack(sp) {
            s.ss_flags = SS_ONSTACK;
        } else if s.ss_flags & SS_DISABLE != 0 {
            s = StackT { ss_flags: SS_DISABLE, ..StackT::default() };
        }
        s
    }
}

/// The registers of a thread in user mode, in the order of Linux's
/// `struct sigcontext` (so a signal frame is a copy of it).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub rflags: u64,
}

impl Regs {
    /// The registers as sigcontext's 18 words (r8 .. r15, rdi, rsi, rbp,
    /// rbx, rdx, rax, rcx, rsp, rip, rflags), as BootInfo::interrupted too.
    pub fn words(&self) -> [u64; 18] {
        [
            self.r8, self.r9, self.r10, self.r11, self.r12, self.r13, self.r14, self.r15, self.rdi, self.rsi, self.rbp,
            self.rbx, self.rdx, self.rax, self.rcx, self.rsp, self.rip, self.rflags,
        ]
    }

    pub fn from_words(r: [u64; 18]) -> Regs {
        Regs {
            r8: r[0], r9: r[1], r10: r[2], r11: r[3], r12: r[4], r13: r[5], r14: r[6], r15: r[7], rdi: r[8], rsi: r[9],
            rbp: r[10], rbx: r[11], rdx: r[12], rax: r[13], rcx: r[14], rsp: r[15], rip: r[16], rflags: r[17],
        }
    }

    /// The six syscall arguments.
    pub fn args(&self) -> [u64; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9]
    }
}

/// The flags a program may set through sigreturn (CF PF AF ZF SF DF OF AC
/// RF ID: not IF or IOPL, not NT (as Linux's FIX_EFLAGS), and not TF,
/// which would trap in the kernel's own return path: uk-run does not
/// single-step programs).
pub const USER_RFLAGS: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800 | 0x4_0000 | 0x1_0000 | 0x20_0000;

/// Layout of the frame (offsets from the frame's start, where the
/// handler's return address lies).
pub mod frame {
    /// ucontext: uc_flags, uc_link, uc_stack (24 bytes), uc_mcontext
    /// (sigcontext, 256 bytes), uc_sigmask (8 bytes).
    pub const UC: u64 = 8;
    pub const UC_STACK: u64 = UC + 16;
    pub const MCONTEXT: u64 = UC + 40;
    /// In sigcontext after the 18 registers: cs, gs, fs, ss (u16 each), err,
    /// trapno, oldmask, cr2, fpstate, reserved[8].
    pub const CSGSFS: u64 = MCONTEXT + 18 * 8;
    pub const ERR: u64 = MCONTEXT + 19 * 8;
    pub const TRAPNO: u64 = MCONTEXT + 20 * 8;
    pub const OLDMASK: u64 = MCONTEXT + 21 * 8;
    pub const CR2: u64 = MCONTEXT + 22 * 8;
    pub const FPSTATE: u64 = MCONTEXT + 23 * 8;
    pub const SIGMASK: u64 = MCONTEXT + 256;
    pub const INFO: u64 = SIGMASK + 8;
    pub const SIZE: u64 = INFO + 128;
    /// uc_flags: the FPU image is xsave format; ss is saved (and restored strictly).
    pub const UC_FP_XSTATE: u64 = 1;
    pub const UC_SIGCONTEXT_SS: u64 = 2;
    pub const UC_STRICT_RESTORE_SS: u64 = 4;
    /// _fpx_sw_bytes magic in the fxsave image's software area (offset 464),
    /// and the second magic after the xsave image.
    pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
    pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
}

/// Details of a fault for the frame's sigcontext.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trap {
    pub trapno: u64,
    pub err: u64,
    pub cr2: u64,
}

/// Where a handler's frame goes: below the red zone of the stack in use,
/// or on top of the alternate stack (SA_ONSTACK, when not already on it).
/// `fpu` bytes of FPU image sit above the frame, 64-byte aligned; the
/// frame's start is 16-byte aligned minus 8, as after a `call`.
pub fn frame_place(ts: &ThreadSignals, flags: u64, sp: u64, fpu: u64) -> (u64, u64) {
    let top = if flags & sa::SA_ONSTACK != 0 && ts.altstack.ss_flags & SS_DISABLE == 0 && !ts.on_altstack(sp) {
        ts.altstack.ss_sp.wrapping_add(ts.altstack.ss_size)
    } else {
        sp.wrapping_sub(128)
    };
    let fp = top.wrapping_sub(fpu) & !63;
    let start = (fp.wrapping_sub(frame::SIZE) & !15).wrapping_sub(8);
    (start, fp)
}

/// SS_AUTODISARM: the alternate stack is forgotten while a handler runs on it.
pub fn autodisarm(ts: &mut ThreadSignals) -> Option<StackT> {
    (ts.altstack.ss_flags & SS_AUTODISARM != 0).then(|| {
        let old = ts.altstack;
        ts.altstack = StackT { ss_flags: SS_DISABLE, ..StackT::default() };
        old
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(s: u32) -> SigInfo {
        SigInfo { signo: s as i32, ..SigInfo::default() }
    }

    #[test]
    fn standard_signals_coalesce_realtime_ones_queue() {
        let mut p = Pending::default();
        p.add(info(10));
        p.add(info(10));
        p.add(info(40));
        p.add(info(40));
        assert!(p.take(10).is_some());
        assert!(p.take(10).is_none());
        assert!(p.take(40).is_some());
        assert_eq!(p.set & bit(40), bit(40));
        assert!(p.take(40).is_some());
        assert_eq!(p.set, 0);
    }

    #[test]
    fn faults_are_chosen_first() {
        assert_eq!(Pending::choose(bit(2) | bit(11)), Some(11));
        assert_eq!(Pending::choose(bit(2) | bit(10)), Some(2));
        assert_eq!(Pending::choose(0), None);
    }

    #[test]
    fn frames_are_aligned_as_after_a_call() {
        let ts = ThreadSignals::default();
        let (start, fp) = frame_place(&ts, 0, 0x7fff_0000_1234, 1000);
        assert_eq!(fp % 64, 0);
        assert_eq!((start + 8) % 16, 0);
        assert!(start + frame::SIZE <= fp && fp + 1000 <= 0x7fff_0000_1234 - 128);
    }

    #[test]
    fn onstack_uses_the_alternate_stack_once() {
        let mut ts = ThreadSignals::default();
        ts.altstack = StackT { ss_sp: 0x10000, ss_flags: 0, ss_size: 0x4000, ..StackT::default() };
        let (start, _) = frame_place(&ts, sa::SA_ONSTACK, 0x7000_0000, 512);
        assert!((0x10000..0x14000).contains(&start));
        // Already on it: the frame goes below the current stack pointer.
        let (nested, _) = frame_place(&ts, sa::SA_ONSTACK, 0x13000, 512);
        assert!(nested < 0x13000 - 128);
        assert_eq!(ts.altstack_view(0x13000).ss_flags, SS_ONSTACK);
    }
}
