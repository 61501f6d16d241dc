//! CPU exceptions (taken at CPL3 through IST gates) and the slow path that
//! rewrites a `syscall` the loader missed.

use crate::arch::TrapFrame;
use crate::{hypercall, kernel};
use abi::layout::{page_down, phys_to_virt, pte, PAGE_SIZE, TRAMPOLINE_SLED};
use abi::linux::Errno;
use shim::mm::{Kind, Vma};
use shim::{FaultInfo, Platform};

const BP: u64 = 3;
const PF: u64 = 14;

/// Bytes of stack mapped per growth step.
const STACK_STEP: u64 = 128 << 10;

/// Called by `uk_trap_common` for every exception.
pub extern "C" fn uk_exception(f: &mut TrapFrame) {
    if f.vector == PF {
        if let Some(resume) = crate::arch::copy_user_fixup(f.rip) {
            // A syscall's copy to or from the program: the stack grows for
            // it as for the program itself (the copy then resumes where it
            // stopped), anything else answers EFAULT.
            let cr2 = if f.error_code & 1 == 0 { hypercall::fault_addr() } else { 0 };
            let lazy = |cr2| {
                let k = kernel();
                k.machine.mem.zero_fill(cr2) || shim::fault_in(&mut k.proc, &mut k.machine, cr2)
            };
            if f.error_code & 1 != 0 || !(grow_stack(cr2) || lazy(cr2)) {
                f.rip = resume;
            }
            return;
        }
    }
    let k = kernel();
    let cr2 = if f.vector == PF { hypercall::fault_addr() } else { 0 };
    if f.rip >= abi::layout::KERNEL_BASE {
        let msg = alloc::format!(
            "exception {} in the kernel at rip {:#x} (address {:#x}, error {:#x})",
            f.vector, f.rip, cr2, f.error_code
        );
        crate::kernel_panic(&msg);
    }
    // `call *%rax` with a number past the sled: int3 fill or an unmapped page.
    let bad_nr = (f.vector == BP && f.rip <= abi::layout::PAGE_SIZE && f.rax >= TRAMPOLINE_SLED)
        || (f.vector == PF && f.rip == f.rax && cr2 == f.rax && f.rax >= TRAMPOLINE_SLED);
    if bad_nr {
        let mut ret = [0u8; 8];
        if k.machine.read_user_walked(f.rsp, &mut ret).is_ok() {
            if k.proc.first_warning(511) {
                k.machine.warn(format_args!("unsupported syscall {}: answering ENOSYS", f.rax));
            }
            f.rip = u64::from_le_bytes(ret);
            f.rsp += 8;
            f.rcx = f.rip;
            f.r11 = f.rflags;
            f.rax = Errno::ENOSYS.ret() as u64;
            return;
        }
    }
    if f.vector == PF && f.error_code & 1 == 0 && (k.machine.mem.zero_fill(cr2) || grow_stack(cr2) || shim::fault_in(&mut k.proc, &mut k.machine, cr2)) {
        return;
    }
    let info = FaultInfo { vector: f.vector as u32, addr: cr2, rip: f.rip, error_code: f.error_code };
    // The fault's signal: its handler runs on a frame (and may return,
    // or longjmp out), or the default action ends the program, after what
    // it wrote to shared file mappings reaches the files.
    let mut regs = f.regs();
    shim::fault(&mut k.proc, &mut k.machine, &mut regs, info);
    f.set_regs(&regs);
}

/// Maps more stack when a fault lands just below it, within the limit.
fn grow_stack(addr: u64) -> bool {
    let k = kernel();
    let Some((&start, &vma)) = k.proc.mm.vmas.iter().find(|(_, v)| v.kind == Kind::Stack) else {
        return false;
    };
    // RLIMIT_STACK as the program has set it, within what was reserved at start.
    let rlimit = k.proc.rlimits[shim::process::RLIMIT_STACK].rlim_cur;
    let limit = k.stack_limit.max(vma.end.saturating_sub(rlimit));
    if addr >= start || addr < limit {
        return false;
    }
    let new_start = page_down(addr).saturating_sub(STACK_STEP).max(limit);
    if !k.proc.mm.is_free(new_start, start) {
        return false;
    }
    if k.machine.mem.map(new_start, start - new_start, vma.prot).is_err() {
        shim::out_of_memory(&mut k.proc, &mut k.machine);
    }
    k.proc.mm.vmas.remove(&start);
    k.proc.mm.vmas.insert(new_start, Vma { end: vma.end, ..vma });
    true
}

/// Called (at CPL3, on the slow stack) for a `syscall` instruction at
/// `site` that reached the CPL0 stub: rewrites it to `call *%rax` so that it
/// takes the fast path from now on, this time included.
pub extern "C" fn uk_rewrite_site(site: u64) {
    let k = kernel();
    let e = k.machine.mem.pte(site);
    let end = k.machine.mem.pte(site + 1);
    let ok = e & pte::PRESENT != 0 && end & pte::PRESENT != 0 && e & pte::USER != 0;
    let mut bytes = [0u8; 2];
    if !ok || k.machine.read_user_walked(site, &mut bytes).is_err() || bytes != loader::SYSCALL {
        crate::kernel_panic(&alloc::format!("syscall trap from {site:#x}, which holds no syscall instruction"));
    }
    for (i, b) in loader::CALL_RAX.iter().enumerate() {
        let va = site + i as u64;
        let e = k.machine.mem.pte(va);
        let p = phys_to_virt(e & pte::ADDR_MASK) + (va & (PAGE_SIZE - 1));
        // SAFETY: the page is present (checked above); its frame is guest RAM,
        // written through the kernel's direct map, even if the program maps it read-only.
        unsafe { (p as *mut u8).write_volatile(*b) }
    }
    k.rewritten_sites += 1;
}
