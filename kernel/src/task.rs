//! The kernel side of threads: a kernel stack, the saved stack position,
//! the FS base and the FPU/SSE/AVX state (xsave) of each. The shim decides
//! who runs (shim::sched); this switches to it, inside the guest, with no
//! exit: callee-saved registers and the stack pointer (arch::switch), FS
//! base by wrfsbase, FPU state by xsave/xrstor.

use crate::arch;
use abi::layout::phys_to_virt;
use abi::linux::Errno;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use shim::Regs;

/// Bytes of kernel stack per thread after the first (which has the boot stack).
pub const STACK_SIZE: u64 = 64 << 10;
/// Written at the bottom of each thread's kernel stack and checked at every
/// switch away from it: the stacks lie back to back with no guard page, so
/// an overflow would otherwise corrupt the neighbour silently.
const CANARY: u64 = 0x756b_2d72_756e_2121;

/// An FPU image, 64-byte aligned as xsave needs.
pub struct FpuArea {
    ptr: *mut u8,
    layout: core::alloc::Layout,
}

impl FpuArea {
    fn new(size: usize) -> FpuArea {
        let layout = core::alloc::Layout::from_size_align(size.max(512), 64).expect("an FPU area's layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            crate::kernel_panic("no kernel heap left for a thread's FPU state");
        }
        FpuArea { ptr, layout }
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: ptr holds layout.size() bytes this area owns.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for FpuArea {
    fn drop(&mut self) {
        // SAFETY: allocated in new with this layout.
        unsafe { alloc::alloc::dealloc(self.ptr, self.layout) }
    }
}

struct Task {
    /// The stack position uk_switch saved (or spawn built).
    saved_rsp: u64,
    /// The kernel stack's base (virtual), None for the boot stack.
    stack: Option<u64>,
    fs: u64,
    fpu: FpuArea,
}

pub struct Tasks {
    map: BTreeMap<u32, Box<Task>>,
    current: u32,
    dead: Vec<u32>,
    free_stacks: Vec<u64>,
    pub xsave: bool,
    /// Bytes xsave writes for the features XCR0 enables (512 with fxsave).
    pub fpu_size: usize,
    pub xcr0: u64,
    pub mxcsr_mask: u32,
    /// For signal frames' FPU images.
    pub scratch: FpuArea,
    /// Where a dead thread's last stack position goes.
    graveyard: u64,
}

impl Tasks {
    pub fn new(first: u32, cpuid: &crate::cpuid::Cpuid) -> Tasks {
        let leaf1 = cpuid.query(1, 0);
        let xsave = leaf1[2] & (1 << 26) != 0 && leaf1[2] & (1 << 27) != 0;
        let (fpu_size, xcr0) = if xsave { (cpuid.query(0xd, 0)[1] as usize, arch::xcr0()) } else { (512, 3) };
        let mut scratch = FpuArea::new(fpu_size + 64);
        // SAFETY: the area is fpu_size bytes, 64-byte aligned.
        unsafe { arch::fpu_save(scratch.bytes().as_mut_ptr(), xsave) };
        let m = u32::from_le_bytes(scratch.bytes()[28..32].try_into().unwrap_or([0; 4]));
        let mut map = BTreeMap::new();
        map.insert(first, Box::new(Task { saved_rsp: 0, stack: None, fs: 0, fpu: FpuArea::new(fpu_size) }));
        Tasks {
            map,
            current: first,
            dead: Vec::new(),
            free_stacks: Vec::new(),
            xsave,
            fpu_size,
            xcr0,
            mxcsr_mask: if m == 0 { 0xffbf } else { m },
            scratch,
            graveyard: 0,
        }
    }

    /// A new thread that starts in user mode with `regs`, FS base `fs` and
    /// the running thread's FPU state.
    pub fn spawn(&mut self, mem: &mut crate::mem::Memory, tid: u32, regs: &Regs, fs: u64) -> Result<(), Errno> {
        let base = match self.free_stacks.pop() {
            Some(b) => b,
            None => phys_to_virt(mem.reserve(STACK_SIZE).ok_or(Errno::EAGAIN)?),
        };
        let top = base + STACK_SIZE;
        let frame = top - core::mem::size_of::<Regs>() as u64;
        // uk_switch pops six registers, then returns to uk_thread_start with rsp at the frame.
        let sp = frame - 7 * 8;
        // SAFETY: [base, top) is a kernel stack no thread uses, in the direct map.
        unsafe {
            (base as *mut u64).write(CANARY);
            (frame as *mut Regs).write(*regs);
            for i in 0..6 {
                ((sp + 8 * i) as *mut u64).write(0);
            }
            ((sp + 48) as *mut u64).write(arch::addr_of_fn(arch::uk_thread_start));
        }
        let mut fpu = FpuArea::new(self.fpu_size);
        // SAFETY: the area has fpu_size bytes, 64-byte aligned.
        unsafe { arch::fpu_save(fpu.bytes().as_mut_ptr(), self.xsave) };
        self.map.insert(tid, Box::new(Task { saved_rsp: sp, stack: Some(base), fs, fpu }));
        Ok(())
    }

    /// Thread `tid` has ended; its stack goes once it is not the running one.
    pub fn exit(&mut self, tid: u32) {
        if self.map.contains_key(&tid) && !self.dead.contains(&tid) {
            self.dead.push(tid);
        }
    }

    /// The running thread `old` takes the id `new` (execve from a thread
    /// other than the first: the first, ended, had that id).
    pub fn rename(&mut self, old: u32, new: u32) {
        self.dead.retain(|&d| d != old && d != new);
        if let Some(t) = self.map.remove(&old) {
            if let Some(replaced) = self.map.insert(new, t) {
                if let Some(s) = replaced.stack {
                    self.free_stacks.push(s);
                }
            }
        }
        if self.current == old {
            self.current = new;
        }
    }

    fn reap(&mut self) {
        let cur = self.current;
        let mut i = 0;
        while i < self.dead.len() {
            let tid = self.dead[i];
            if tid == cur {
                i += 1;
                continue;
            }
            self.dead.swap_remove(i);
            if let Some(t) = self.map.remove(&tid) {
                if let Some(s) = t.stack {
                    self.free_stacks.push(s);
                }
            }
        }
    }
}

/// Runs thread `next` (the shim has made it the current one); returns when
/// the running thread is switched back to.
pub fn switch_to(tasks: *mut Tasks, next: u32) {
    // SAFETY: one vCPU; the Tasks live in the kernel's state for the whole
    // run, and no other reference to them is used across this call.
    let t = unsafe { &mut *tasks };
    t.reap();
    let cur = t.current;
    if next == cur {
        return;
    }
    let xsave = t.xsave;
    let cur_dead = t.dead.contains(&cur);
    let save: *mut u64 = match t.map.get_mut(&cur) {
        Some(c) if !cur_dead => {
            // SAFETY: the stack's lowest word, written by spawn.
            if c.stack.is_some_and(|b| unsafe { (b as *const u64).read() } != CANARY) {
                crate::kernel_panic("a thread's kernel stack overflowed");
            }
            c.fs = arch::fs_base();
            // SAFETY: the area has fpu_size bytes, 64-byte aligned.
            unsafe { arch::fpu_save(c.fpu.bytes().as_mut_ptr(), xsave) };
            &mut c.saved_rsp
        }
        _ => &mut t.graveyard,
    };
    let Some(n) = t.map.get_mut(&next) else {
        crate::kernel_panic("switch to a thread with no kernel state");
    };
    // SAFETY: the image was saved by fpu_save (spawn or an earlier switch).
    unsafe { arch::fpu_restore(n.fpu.bytes().as_ptr(), xsave) };
    arch::set_fs_base(n.fs);
    arch::set_kstack_top(n.stack.map_or_else(arch::boot_kstack_top, |b| b + STACK_SIZE));
    let to = n.saved_rsp;
    t.current = next;
    // SAFETY: `to` was saved by uk_switch or built by spawn, on next's
    // stack; `save` points into a boxed Task (or the graveyard), which
    // stays where it is while this thread is switched out.
    unsafe { arch::switch(save, to) };
    // SAFETY: as above: back on this thread, the Tasks are as the others left them.
    unsafe { &mut *tasks }.reap();
}
