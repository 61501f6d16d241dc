//! Entry points and CPU instructions: the kernel's assembly and most of its
//! `unsafe`. Everything here runs at CPL3 except `uk_lstar_entry`, the stub
//! `syscall` reaches (at CPL0), which runs once per unrewritten syscall site
//! and only turns itself back into CPL3 code with iretq. It uses no
//! privileged instruction, so it works whatever CPL the host's KVM gives it.
//!
//! The fast path: the program's `call *%rax` lands in the trampoline sled at
//! address `rax`, which jumps to `uk_syscall_entry`. That takes the return
//! address off the program's stack *before* anything writes user memory
//! (glibc keeps syscall buffers in the red zone), switches to the kernel
//! stack, saves a full [`SyscallFrame`], calls `uk_syscall`, and returns by
//! a jump, with rcx = return address and r11 = rflags as `sysret` leaves them.

use core::arch::{asm, global_asm};

/// The registers of the program at a syscall, as `uk_syscall_entry` saves
/// them: the shim's [`shim::Regs`], in sigcontext order, so a signal frame
/// or a new thread is a copy of it.
pub type SyscallFrame = shim::Regs;

/// What `uk_syscall` asks the entry to return with.
pub const RETURN_SYSCALL: u64 = 0;
/// Every register from the frame, rcx and r11 included (a rewritten
/// `cpuid`, rt_sigreturn).
pub const RETURN_FULL: u64 = 1;

/// The registers at a CPU exception taken at CPL3 through an IST gate.
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// The program's registers at the exception.
    pub fn regs(&self) -> shim::Regs {
        let f = self;
        shim::Regs::from_words([
            f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx, f.rax, f.rcx, f.rsp, f.rip,
            f.rflags,
        ])
    }

    /// Returns from the exception with `r` (a signal handler's frame).
    pub fn set_regs(&mut self, r: &shim::Regs) {
        let w = r.words();
        [self.r8, self.r9, self.r10, self.r11, self.r12, self.r13, self.r14, self.r15] = w[..8].try_into().unwrap_or([0; 8]);
        [self.rdi, self.rsi, self.rbp, self.rbx, self.rdx, self.rax, self.rcx, self.rsp, self.rip, self.rflags] =
            w[8..].try_into().unwrap_or([0; 10]);
    }
}

global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    lea rsp, [rip + {kstack} + {kstack_size}]
    xor ebp, ebp
    call {kmain}
    ud2

    .global uk_syscall_entry
uk_syscall_entry:
    mov [rip + {r11_scratch}], r11
    pop r11
    mov [rip + {scratch}], rsp
    mov rsp, [rip + {kstack_top}]
    pushfq
    push r11
    push qword ptr [rip + {scratch}]
    push rcx
    push rax
    push rdx
    push rbx
    push rbp
    push rsi
    push rdi
    push r15
    push r14
    push r13
    push r12
    push qword ptr [rip + {r11_scratch}]
    push r10
    push r9
    push r8
    cld
    mov rdi, rsp
    call {syscall}
    test eax, eax
    jnz uk_return_full
    // As `sysret` leaves them: rcx = rip, r11 = rflags.
    pop r8
    pop r9
    pop r10
    add rsp, 8
    pop r12
    pop r13
    pop r14
    pop r15
    pop rdi
    pop rsi
    pop rbp
    pop rbx
    pop rdx
    pop rax
    mov rcx, [rsp + 16]
    mov r11, [rsp + 24]
    add rsp, 24
    popfq
    mov rsp, [rsp - 24]
    jmp rcx

    // rsp = a frame (shim::Regs): back to the program with every register from it.
    .global uk_return_full
uk_return_full:
    mov rax, [rsp + 16 * 8]
    mov [rip + {scratch}], rax
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    pop rdi
    pop rsi
    pop rbp
    pop rbx
    pop rdx
    pop rax
    pop rcx
    add rsp, 16
    popfq
    mov rsp, [rsp - 24]
    jmp qword ptr [rip + {scratch}]

    // A new thread's first run: `uk_switch` returns here with rsp at its frame.
    .global uk_thread_start
uk_thread_start:
    call {thread_first}
    jmp uk_return_full

    // Saves the callee-saved registers and the stack pointer in *rdi and
    // goes on with the stack rsi (saved the same way, or made by
    // task::spawn to return to uk_thread_start).
    .global uk_switch
uk_switch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    // CPL0, from `syscall` at CPL3: rcx = return rip, r11 = rflags, rsp = caller's.
    // Leaves CPL0 at once by iretq to CPL3 code (sysret is not supported under PVM).
    .global uk_lstar_entry
uk_lstar_entry:
    mov [rip + {slow_rsp}], rsp
    lea rsp, [rip + {slow_stack} + 4096]
    push {user_ss}
    push rsp
    push r11
    push {user_cs}
    lea r11, [rip + uk_slow_syscall]
    push r11
    iretq

    // CPL3 again, on the slow stack: rcx = the address after the `syscall`,
    // rflags = the program's.
uk_slow_syscall:
    pushfq
    push qword ptr [rip + {slow_rsp}]
    push rcx
    push rax
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    sub rsp, 8
    cld
    lea rdi, [rcx - 2]
    call {rewrite}
    add rsp, 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rax
    pop rcx
    pop r11
    popfq
    lea rcx, [rcx - 2]
    // iretq (serializing: the rewritten bytes are fetched anew) back to the
    // site, which now holds `call *%rax`.
    push {user_ss}
    push r11
    pushfq
    push {user_cs}
    push rcx
    iretq

    .global uk_exception_entries
    .balign 16
uk_exception_entries:
    .set vec, 0
    .rept 32
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    push vec
    jmp {trap_common}
    .else
    push 0
    push vec
    jmp {trap_common}
    .endif
    .set vec, vec + 1
    .endr
"#,
    kmain = sym crate::kmain,
    syscall = sym crate::uk_syscall,
    rewrite = sym crate::trap::uk_rewrite_site,
    thread_first = sym crate::uk_thread_first,
    trap_common = sym uk_trap_common,
    kstack = sym KSTACK,
    kstack_size = const KSTACK_SIZE,
    kstack_top = sym KSTACK_TOP,
    scratch = sym USER_RSP_SCRATCH,
    r11_scratch = sym USER_R11_SCRATCH,
    slow_rsp = sym SLOW_USER_RSP,
    slow_stack = sym SLOW_STACK,
    user_ss = const abi::layout::SEL_USER_DATA as u64,
    user_cs = const abi::layout::SEL_USER_CODE as u64,
);

// The common exception path: the CPU pushed ss, rsp, rflags, cs, rip (and an
// error code, or the stub a 0), the stub the vector; we save the rest.
global_asm!(
    r#"
    .global uk_trap_common
uk_trap_common:
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    cld
    // A fault in the program's own code is handled on the thread's kernel
    // stack (free while it runs its own code), not on IST1: delivering it
    // writes a signal frame to user memory, which may fault in turn, and
    // that fault starts again at IST1's top.
    mov rax, [rsp + 17 * 8]
    mov rdx, {user_end}
    cmp rax, rdx
    jae 2f
    mov rsi, rsp
    mov rdi, [rip + {kstack_top}]
    sub rdi, 22 * 8
    mov rsp, rdi
    mov ecx, 22
    rep movsq
2:
    mov rdi, rsp
    call {handler}
    pop rax
    pop rbx
    pop rcx
    pop rdx
    pop rsi
    pop rdi
    pop rbp
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    add rsp, 16
    iretq
"#,
    handler = sym crate::trap::uk_exception,
    kstack_top = sym KSTACK_TOP,
    user_end = const abi::layout::USER_END,
);

// Copies between user memory and the kernel with the program's own page
// tables doing the checks: a page fault on the `rep movsb` resumes at the
// fault label (see copy_user_fixup), so the copy answers EFAULT instead.
// The shadow MMU makes the alternative, walking the page tables in
// software, cost a fault per page-table page the kernel reads.
global_asm!(
    r#"
    .global uk_copy_user
uk_copy_user:
    mov rcx, rdx
    .global uk_copy_user_insn
uk_copy_user_insn:
    rep movsb
    xor eax, eax
    ret
    .global uk_copy_user_fault
uk_copy_user_fault:
    mov eax, 1
    ret
"#
);

// The monitor's way in when it stopped the program in its own code (a
// signal sent to uk-run, a time slice's end, a timer): it has written the
// program's registers to BootInfo::interrupted. On the running thread's
// kernel stack, room for a frame; the handler fills it, and the program
// goes on from it (or another thread does first).
global_asm!(
    r#"
    .global uk_host_signal_entry
uk_host_signal_entry:
    mov rsp, [rip + {kstack_top}]
    sub rsp, 18 * 8
    mov rdi, rsp
    call {handler}
    jmp uk_return_full
"#,
    handler = sym crate::uk_interrupted,
    kstack_top = sym KSTACK_TOP,
);

// Entry points the monitor finds by name in the kernel ELF (nothing in the
// kernel calls them).
#[allow(dead_code)]
extern "C" {
    pub fn uk_host_signal_entry();
    fn uk_copy_user(dst: *mut u8, src: *const u8, n: usize) -> u64;
    fn uk_copy_user_insn();
    fn uk_copy_user_fault();
    fn uk_trap_common();
    pub fn uk_syscall_entry();
    pub fn uk_thread_start();
    fn uk_switch(save: *mut u64, to: u64);
    pub fn uk_lstar_entry();
    pub fn uk_exception_entries();
}

pub const KSTACK_SIZE: usize = 128 * 1024;

#[repr(C, align(16))]
pub struct Stack<const N: usize>(pub [u8; N]);

/// The kernel's stack for boot and syscalls.
#[no_mangle]
pub static mut KSTACK: Stack<KSTACK_SIZE> = Stack([0; KSTACK_SIZE]);
/// The exceptions' stack (IST1).
pub static mut IST_STACK: Stack<32768> = Stack([0; 32768]);
/// The slow path's small stack (CPL0 stub, then the rewriter).
pub static mut SLOW_STACK: Stack<4096> = Stack([0; 4096]);
/// The top of the running thread's kernel stack, where syscalls start.
#[no_mangle]
pub static mut KSTACK_TOP: u64 = 0;
static mut USER_RSP_SCRATCH: u64 = 0;
static mut USER_R11_SCRATCH: u64 = 0;
static mut SLOW_USER_RSP: u64 = 0;

/// Runs the program from its entry point with its initial stack, registers
/// zeroed as the ELF ABI asks (rdx = 0: no exit hook).
///
/// # Safety
/// `entry` and `sp` must be the loaded program's.
pub unsafe fn enter_user(entry: u64, sp: u64) -> ! {
    // SAFETY: the caller vouches for entry and sp; nothing of the kernel's
    // stack is needed again (syscalls start from its top).
    unsafe {
        asm!(
            "mov rsp, {sp}",
            "xor eax, eax", "xor ebx, ebx", "xor ecx, ecx", "xor edx, edx",
            "xor esi, esi", "xor edi, edi", "xor ebp, ebp",
            "xor r8d, r8d", "xor r9d, r9d", "xor r10d, r10d", "xor r11d, r11d",
            "xor r12d, r12d", "xor r13d, r13d", "xor r14d, r14d",
            "jmp r15",
            sp = in(reg) sp,
            in("r15") entry,
            options(noreturn)
        )
    }
}

/// Sets where the running thread's syscalls start their kernel stack.
pub fn set_kstack_top(top: u64) {
    // SAFETY: one vCPU; the entries read it only when entered from the program.
    unsafe { core::ptr::addr_of_mut!(KSTACK_TOP).write(top) }
}

/// The boot stack's top (the first thread's kernel stack).
pub fn boot_kstack_top() -> u64 {
    core::ptr::addr_of!(KSTACK) as u64 + KSTACK_SIZE as u64
}

/// Switches kernel stacks: saves this one's position in `*save` and goes
/// on with the one saved (or built) at `to`; returns when switched back.
///
/// # Safety
/// `to` must be a position saved by this function or built by task::spawn,
/// on a stack that is not the running one.
pub unsafe fn switch(save: *mut u64, to: u64) {
    // SAFETY: the caller's contract; uk_switch preserves what the C ABI asks.
    unsafe { uk_switch(save, to) }
}

/// Saves the FPU/SSE/AVX state in `area` (64-byte aligned, xsave size).
///
/// # Safety
/// `area` must be valid for the xsave size of the enabled features (512 bytes with fxsave).
pub unsafe fn fpu_save(area: *mut u8, xsave: bool) {
    // SAFETY: the caller's contract; CR4.OSXSAVE/OSFXSR are set by the monitor.
    unsafe {
        if xsave {
            asm!("xsave64 [{}]", in(reg) area, in("eax") u32::MAX, in("edx") u32::MAX, options(nostack, preserves_flags));
        } else {
            asm!("fxsave64 [{}]", in(reg) area, options(nostack, preserves_flags));
        }
    }
}

/// Loads the FPU state from `area`.
///
/// # Safety
/// `area` must hold an image `xrstor` accepts (a sane header, MXCSR bits the CPU has).
pub unsafe fn fpu_restore(area: *const u8, xsave: bool) {
    // SAFETY: the caller's contract.
    unsafe {
        if xsave {
            asm!("xrstor64 [{}]", in(reg) area, in("eax") u32::MAX, in("edx") u32::MAX, options(nostack, preserves_flags));
        } else {
            asm!("fxrstor64 [{}]", in(reg) area, options(nostack, preserves_flags));
        }
    }
}

/// XCR0: the state components xsave saves.
pub fn xcr0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: xgetbv with ecx = 0 reads XCR0; CR4.OSXSAVE is set when the caller asks.
    unsafe { asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nostack, nomem, preserves_flags)) };
    (hi as u64) << 32 | lo as u64
}

/// Rings a hypercall doorbell with the argument struct's guest-physical address.
pub fn ring(doorbell_virt: u64, gpa: u32) {
    // SAFETY: the doorbell page is mapped to unbacked guest-physical memory:
    // the write exits to the monitor, which reads/writes only the struct at
    // gpa; the asm has no `nomem`, so memory accesses stay ordered around it.
    unsafe { asm!("mov dword ptr [{}], {:e}", in(reg) doorbell_virt, in(reg) gpa, options(nostack, preserves_flags)) }
}

pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc reads the time-stamp counter; CR4.TSD is clear so CPL3 may.
    unsafe { core::arch::x86_64::_rdtsc() }
}

pub fn set_fs_base(v: u64) {
    // SAFETY: the monitor enables CR4.FSGSBASE; the kernel never uses FS itself.
    unsafe { asm!("wrfsbase {}", in(reg) v, options(nostack, preserves_flags)) }
}

pub fn fs_base() -> u64 {
    let v: u64;
    // SAFETY: as for set_fs_base.
    unsafe { asm!("rdfsbase {}", out(reg) v, options(nostack, preserves_flags)) }
    v
}

/// Copies `n` bytes from `src` to `dst`, one of which is user memory;
/// false if a page fault stopped it part-way.
///
/// # Safety
/// The kernel side must be valid for `n` bytes; the user side must lie in
/// the user half (its faults are caught, the kernel's would not be). Not for
/// use inside an exception handler: a fault there would reuse the IST stack.
pub unsafe fn copy_user(dst: *mut u8, src: *const u8, n: usize) -> bool {
    // SAFETY: the caller's contract; the routine touches only the two ranges.
    unsafe { uk_copy_user(dst, src, n) == 0 }
}

/// Where a page fault at `rip` resumes, if it interrupted copy_user.
pub fn copy_user_fixup(rip: u64) -> Option<u64> {
    (rip == addr_of_fn(uk_copy_user_insn)).then(|| addr_of_fn(uk_copy_user_fault))
}

/// The address of a kernel symbol as an integer.
pub fn addr_of_fn(f: unsafe extern "C" fn()) -> u64 {
    f as usize as u64
}
