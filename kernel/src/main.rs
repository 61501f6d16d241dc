//! The uk-run guest kernel.
//!
//! It shares one address space with the program and runs, like it, at CPL3
//! (see ../shared/DESIGN.md): the monitor has already set up page tables,
//! GDT, IDT, TSS and MSRs and loaded the program; `kmain` fills in the
//! exception gates, builds the kernel's state from the boot information and
//! jumps to the program. From then on the kernel runs only when the program
//! calls it: syscalls (as function calls through the trampoline at address
//! 0) and exceptions.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod console;
mod cpuid;
mod hypercall;
mod machine;
mod mem;
mod task;
mod trap;

use abi::boot::BootInfo;
use abi::layout::{low_virt, IDT_PHYS, SEL_USER_CODE, TSS_PHYS};
use arch::SyscallFrame;
use core::mem::MaybeUninit;
use linked_list_allocator::LockedHeap;
use machine::{Clock, Machine};
use shim::Process;

pub struct Kernel {
    /// The running process (the others are in its `world`).
    pub proc: alloc::boxed::Box<Process>,
    pub machine: Machine,
    pub stack_limit: u64,
    pub rewritten_sites: u64,
    pub syscalls: u64,
    /// The time slice: when the running thread's ends, and the switch
    /// count it began at.
    pub slice_end: u64,
    pub slice_of: u64,
    pub published_wakeup: u64,
    pub wakeups_started: bool,
    pub preemptions: u64,
}

static mut KERNEL: MaybeUninit<Kernel> = MaybeUninit::uninit();
static PROGRAM_STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// The kernel's state.
///
/// One vCPU, no interrupts, and the kernel is entered only from the program
/// (syscall, exception) or by the monitor when the program runs its own code
/// (uk_interrupted), never from itself, except by a fault in kernel code,
/// which only reports and ends the VM. Threads switch only where the caller
/// holds no reference from an earlier call (uk_syscall, uk_interrupted): so
/// one `&mut` is live at a time.
pub fn kernel() -> &'static mut Kernel {
    // SAFETY: initialised in kmain before the program (the only caller of
    // syscalls and exceptions) first runs; exclusive as argued above.
    unsafe { (*core::ptr::addr_of_mut!(KERNEL)).assume_init_mut() }
}

/// The kernel's heap; with the rest of the image it must fit in 1 MiB.
const HEAP_SIZE: usize = 384 << 10;
static mut HEAP: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

#[global_allocator]
static ALLOCATOR: KernelHeap = KernelHeap { small: LockedHeap::empty(), big: LockedHeap::empty() };

/// The kernel's heap: a small one in the kernel image (always there, and
/// on the image's large page), and behind it a big one in guest RAM for
/// what grows with the program (in-memory files, listings), reserved at
/// boot and touched only when used.
struct KernelHeap {
    small: LockedHeap,
    big: LockedHeap,
}

/// The big heap's range, set at boot and taken into use at the first
/// allocation the small heap cannot serve (setting a heap up writes to its
/// memory: a 2 MiB page more for every run if done at boot).
static BIG_AT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
static BIG_LEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Bytes of guest RAM set aside for the big heap (part of --memory).
const BIG_HEAP: u64 = 8 << 20;

// SAFETY: both heaps hand out disjoint blocks of memory only they own; a
// block is given back to the heap whose range holds it.
unsafe impl core::alloc::GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract, passed on.
        let p = unsafe { self.small.alloc(layout) };
        if !p.is_null() {
            return p;
        }
        {
            let mut big = self.big.lock();
            let len = BIG_LEN.swap(0, core::sync::atomic::Ordering::Relaxed);
            if len != 0 {
                // SAFETY: the range was reserved for this heap at boot and is used by nothing else.
                unsafe { big.init(BIG_AT.load(core::sync::atomic::Ordering::Relaxed) as *mut u8, len) };
            }
        }
        // SAFETY: as above.
        unsafe { self.big.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: core::alloc::Layout) {
        let small = {
            let h = self.small.lock();
            (h.bottom() as usize..h.top() as usize).contains(&(ptr as usize))
        };
        // SAFETY: ptr came from the heap whose range holds it, with this layout.
        unsafe {
            if small {
                self.small.dealloc(ptr, layout)
            } else {
                self.big.dealloc(ptr, layout)
            }
        }
    }
}

/// Called by `_start` on the kernel stack with the boot information.
pub extern "C" fn kmain(boot: &'static BootInfo) -> ! {
    // SAFETY: HEAP is used by nothing but the allocator, set up once here.
    unsafe { ALLOCATOR.small.lock().init(core::ptr::addr_of_mut!(HEAP) as *mut u8, HEAP_SIZE) };
    hypercall::init(boot.kernel_phys);
    BOOT.store(boot as *const BootInfo as u64, core::sync::atomic::Ordering::Relaxed);
    arch::set_kstack_top(arch::boot_kstack_top());
    if boot.version != abi::hc::ABI_VERSION {
        kernel_panic("the monitor speaks another hypercall ABI version");
    }
    install_exception_gates();

    let tty = [boot.stdio[0].is_tty != 0, boot.stdio[1].is_tty != 0, boot.stdio[2].is_tty != 0];
    let clock = Clock::new(boot.tsc_khz, boot.tsc_ref, boot.realtime_ref_ns, boot.monotonic_ref_ns);
    let mut mem = mem::Memory::new(boot.pml4, boot.low_free, boot.tables_free, boot.free_start, boot.mem_size, boot.mem_usable);
    let big = BIG_HEAP.min(boot.mem_size / 8) & !(abi::layout::PAGE_SIZE - 1);
    if let Some(at) = mem.reserve(big) {
        // Guest RAM nothing else uses (taken from the frame allocator for
        // good), seen through the direct map; set up when first needed.
        BIG_AT.store(abi::layout::phys_to_virt(at) as usize, core::sync::atomic::Ordering::Relaxed);
        BIG_LEN.store(big as usize, core::sync::atomic::Ordering::Relaxed);
    }
    fill_vdso_data(boot);
    let mut machine = Machine::new(mem, console::Console::new(tty), clock, boot.random, cpuid::Cpuid::new(boot), boot.pid);
    let start = shim::Platform::clock_ns(&mut machine, false);
    let etc = boot.etc[..(boot.netc as usize).min(boot.etc.len())]
        .iter()
        .filter(|f| f.at != 0 && f.at.checked_add(f.len).is_some_and(|e| e <= abi::layout::HUGE_PAGE_SIZE))
        .map(|f| {
            let name = f.name.split(|&c| c == 0).next().unwrap_or(&[]).to_vec();
            // SAFETY: the monitor copied the bytes into chunk 0 (checked above
            // to lie in it), which the kernel window maps; nothing writes them.
            let bytes = unsafe { core::slice::from_raw_parts(abi::layout::low_virt(f.at) as *const u8, f.len as usize) }.to_vec();
            (name, bytes)
        })
        .collect();
    let mut proc = alloc::boxed::Box::new(Process::from_boot(boot, start, etc));
    proc.space = shim::Platform::space(&machine);
    let k = Kernel { proc, machine, stack_limit: boot.stack_limit, rewritten_sites: 0, syscalls: 0, slice_end: 0, slice_of: 0, published_wakeup: 0, wakeups_started: false, preemptions: 0 };
    // SAFETY: the program has not run yet: nothing else refers to KERNEL.
    unsafe { (*core::ptr::addr_of_mut!(KERNEL)).write(k) };
    PROGRAM_STARTED.store(true, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: entry and sp are the program's, as the monitor loaded it.
    unsafe { arch::enter_user(boot.entry, boot.sp) }
}

/// The vDSO's clock data (kernel/vdso/vdso.c, struct vvar): the
/// parameters of the clock the kernel keeps, so both read the same time.
#[repr(C)]
struct VdsoData {
    tsc_ref: u64,
    mult: u64,
    realtime_ref: u64,
    monotonic_ref: u64,
}

fn fill_vdso_data(boot: &BootInfo) {
    let at = boot.vdso_data_phys;
    if boot.vdso_base == 0 || at == 0 || at + abi::layout::PAGE_SIZE > abi::layout::HUGE_PAGE_SIZE {
        return;
    }
    let c = Clock::new(boot.tsc_khz, boot.tsc_ref, boot.realtime_ref_ns, boot.monotonic_ref_ns);
    let d = VdsoData { tsc_ref: c.tsc_ref(), mult: c.mult(), realtime_ref: boot.realtime_ref_ns, monotonic_ref: boot.monotonic_ref_ns };
    // SAFETY: the monitor reserved this page of chunk 0 (checked above to
    // lie in it, which the kernel window maps) for the vDSO's data.
    unsafe { (low_virt(at) as *mut VdsoData).write_volatile(d) };
}

/// Points the 32 exception vectors at their CPL3 stubs, on IST1.
fn install_exception_gates() {
    let base = arch::addr_of_fn(arch::uk_exception_entries);
    let idt = low_virt(IDT_PHYS) as *mut u64;
    for v in 0..32u64 {
        let h = base + 16 * v;
        let low = (h & 0xffff) | ((SEL_USER_CODE as u64) << 16) | (1 << 32) | (0xee << 40) | (((h >> 16) & 0xffff) << 48);
        // SAFETY: the IDT page is guest RAM reserved for it, in the direct map.
        unsafe {
            idt.add(2 * v as usize).write_volatile(low);
            idt.add(2 * v as usize + 1).write_volatile(h >> 32);
        }
    }
    let ist_top = core::ptr::addr_of_mut!(arch::IST_STACK) as u64 + core::mem::size_of::<arch::Stack<32768>>() as u64;
    // SAFETY: the TSS is guest RAM reserved for it; IST1 is at offset 0x24 (unaligned).
    unsafe { ((low_virt(TSS_PHYS) + 0x24) as *mut u64).write_unaligned(ist_top) };

}

/// The boot information, for the words the monitor and the kernel share
/// while the program runs (kicked, wakeup_ns, interrupted).
static BOOT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Takes a signal the monitor left for the program, if any.
pub fn take_host_signal() -> u32 {
    let b = boot_info();
    if b.is_null() {
        return 0;
    }
    // SAFETY: the boot information lives for the whole run.
    let at = unsafe { core::ptr::addr_of_mut!((*b).host_signal) };
    // SAFETY: the boot information lives for the whole run; the monitor
    // writes the word only while the vCPU is stopped.
    unsafe {
        let s = at.read_volatile();
        if s != 0 {
            at.write_volatile(0);
        }
        s
    }
}

fn boot_info() -> *mut BootInfo {
    BOOT.load(core::sync::atomic::Ordering::Relaxed) as *mut BootInfo
}

/// A time slice, when other threads wait to run.
const TIME_SLICE_NS: u64 = 10_000_000;

/// Tells the monitor when to stop the program if it is still running its
/// own code: at the end of the time slice when others wait to run, or at
/// the first timer's deadline. A plain write to shared memory, no exit;
/// nothing when one thread runs and no timer is armed.
fn publish_wakeup(k: &mut Kernel) {
    let mut at = shim::sched::wakeup(&k.proc, &mut k.machine);
    if k.proc.others_runnable() {
        let now = shim::Platform::clock_ns(&mut k.machine, false);
        let end = if k.slice_of == k.proc.threads.switches && k.slice_end != 0 {
            k.slice_end
        } else {
            k.slice_of = k.proc.threads.switches;
            k.slice_end = now + TIME_SLICE_NS;
            k.slice_end
        };
        at = Some(at.map_or(end, |a| a.min(end)));
    }
    set_wakeup(k, at.unwrap_or(0));
}

fn set_wakeup(k: &mut Kernel, v: u64) {
    if v != 0 && !k.wakeups_started {
        k.wakeups_started = true;
        hypercall::start_wakeups();
    }
    if v != k.published_wakeup {
        k.published_wakeup = v;
        // SAFETY: the boot information lives for the whole run; the monitor only reads this word.
        unsafe { core::ptr::addr_of_mut!((*boot_info()).wakeup_ns).write_volatile(v) };
    }
}

/// A new thread's first step, before it enters the program: its wake-up time.
pub extern "C" fn uk_thread_first() {
    let k = kernel();
    shim::sched::first_run(&mut k.proc, &mut k.machine);
    publish_wakeup(k);
}

/// Lets another thread run: the shim picks it (waiting in the monitor if
/// none can run yet), this switches to it. Returns when this thread runs again.
fn reschedule(requeue: bool) {
    let k = kernel();
    // While the kernel decides (and perhaps waits in the monitor) the
    // program's own code does not run: nothing to stop it for.
    set_wakeup(k, 0);
    let (pid, next) = shim::sched::next(&mut k.proc, &mut k.machine, requeue);
    if pid != k.proc.pid {
        shim::procs::switch(&mut k.proc, &mut k.machine, pid);
    }
    let now = shim::Platform::clock_ns(&mut k.machine, false);
    shim::sched::make_current(&mut k.proc, next, now);
    task::switch_to(&mut k.machine.tasks, next);
}

/// The running thread has ended with its process (shim::procs): the others
/// run; this one never does again.
pub fn leave() -> ! {
    reschedule(false);
    kernel_panic("a thread whose process ended ran again")
}

/// Called by `uk_syscall_entry` for every syscall (and rewritten `cpuid`);
/// returns how to go back.
pub extern "C" fn uk_syscall(f: &mut SyscallFrame) -> u64 {
    let k = kernel();
    if k.machine.cpuid.is_site(f.rip) {
        let r = k.machine.cpuid.query(f.rax as u32, f.rcx as u32);
        (f.rax, f.rbx, f.rcx, f.rdx) = (r[0] as u64, r[1] as u64, r[2] as u64, r[3] as u64);
        return arch::RETURN_FULL;
    }
    k.syscalls += 1;
    let mut out = shim::syscall(&mut k.proc, &mut k.machine, f);
    while out == shim::Outcome::Block {
        reschedule(false);
        let k = kernel();
        out = shim::resumed(&mut k.proc, &mut k.machine, f);
    }
    publish_wakeup(kernel());
    if out == shim::Outcome::ReturnFull {
        arch::RETURN_FULL
    } else {
        arch::RETURN_SYSCALL
    }
}

/// Entered by the monitor (see `uk_host_signal_entry`) when it stopped the
/// program in its own code: for a signal sent to uk-run, or at the wake-up
/// time the kernel published (a time slice's end, a timer). `f` gets the
/// program's registers; the program goes on from it.
pub extern "C" fn uk_interrupted(f: &mut SyscallFrame) {
    let b = boot_info();
    // SAFETY: the monitor wrote the registers before entering; the boot
    // information lives for the whole run.
    let (regs, kicked) = unsafe {
        let r = core::ptr::addr_of!((*b).interrupted).read_volatile();
        let kicked = core::ptr::addr_of!((*b).kicked).read_volatile();
        core::ptr::addr_of_mut!((*b).kicked).write_volatile(0);
        (r, kicked)
    };
    *f = shim::Regs::from_words(regs);
    let k = kernel();
    let sig = take_host_signal();
    if sig != 0 {
        shim::host_signal(&mut k.proc, &mut k.machine, sig as u64);
    }
    shim::sched::tick(&mut k.proc, &mut k.machine);
    if kicked != 0 && k.proc.others_runnable() {
        // The time slice is over, or a thread whose wait ended (its deadline)
        // was waiting for a slice to start.
        let now = shim::Platform::clock_ns(&mut k.machine, false);
        if k.slice_end == 0 || now >= k.slice_end || k.slice_of != k.proc.threads.switches {
            k.preemptions += 1;
            k.slice_end = 0;
            reschedule(true);
        }
    }
    let k = kernel();
    shim::deliver(&mut k.proc, &mut k.machine, f, shim::Restart::None, shim::Trap::default(), None);
    publish_wakeup(k);
    k.machine.console.flush();
}

/// Reports a kernel failure to the monitor, after the program's output.
pub fn kernel_panic(msg: &str) -> ! {
    if PROGRAM_STARTED.load(core::sync::atomic::Ordering::Relaxed) {
        kernel().machine.console.flush();
    }
    hypercall::panic(msg.as_bytes())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    struct Buf([u8; 1024], usize);
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.0.len() - self.1);
            self.0[self.1..self.1 + n].copy_from_slice(&s.as_bytes()[..n]);
            self.1 += n;
            Ok(())
        }
    }
    static mut PANIC_BUF: Buf = Buf([0; 1024], 0);
    // SAFETY: a panic ends the VM; this buffer is used once.
    let b = unsafe { &mut *core::ptr::addr_of_mut!(PANIC_BUF) };
    let _ = write!(b, "{info}");
    // Nothing the program wrote is lost, even now (KERNEL is set up before
    // the program runs, which is the only time its console holds output).
    if PROGRAM_STARTED.load(core::sync::atomic::Ordering::Relaxed) {
        kernel().machine.console.flush();
    }
    hypercall::panic(&b.0[..b.1])
}
