//! Typed hypercalls. Each passes the guest-physical address of its
//! argument struct, which lives in the kernel image (or the direct map).

use crate::arch;
use abi::hc::{self, Port};
use abi::layout::{DIRECT_MAP, KERNEL_BASE};
use core::sync::atomic::{AtomicU64, Ordering};

static KERNEL_PHYS: AtomicU64 = AtomicU64::new(0);
/// Hypercalls made so far (exits to the monitor), for the diagnostics.
pub static COUNT: AtomicU64 = AtomicU64::new(0);

pub fn init(kernel_phys: u64) {
    KERNEL_PHYS.store(kernel_phys, Ordering::Relaxed);
}

/// Guest-physical address of a kernel virtual address.
pub fn virt_to_phys(v: u64) -> u64 {
    if v >= KERNEL_BASE {
        v - KERNEL_BASE + KERNEL_PHYS.load(Ordering::Relaxed)
    } else {
        v - DIRECT_MAP
    }
}

fn call<T>(port: Port, arg: &mut T) {
    COUNT.fetch_add(1, Ordering::Relaxed);
    let doorbell = hc::doorbell(port) - hc::DOORBELL_PHYS + hc::DOORBELL_VIRT;
    arch::ring(doorbell, virt_to_phys(arg as *mut T as u64) as u32);
}

/// Sends console records; returns 0 or the host errno of a failed write.
pub fn console_write(records: &[u8]) -> i32 {
    let mut a = hc::ConsoleWrite {
        buf: abi::GuestPhys(virt_to_phys(records.as_ptr() as u64)),
        len: records.len() as u64,
        ..Default::default()
    };
    call(Port::ConsoleWrite, &mut a);
    a.error
}

pub fn exit(status: i32, syscalls: u64, slow_sites: u64, flushes: u64) -> ! {
    let mut a = hc::Exit { status, _pad: 0, syscalls, slow_sites, flushes };
    call(Port::Exit, &mut a);
    unreachable_halt()
}

pub fn killed(k: hc::Killed) -> ! {
    let mut a = k;
    call(Port::Killed, &mut a);
    unreachable_halt()
}

pub fn sleep(ns: u64) {
    let mut a = hc::Sleep { ns };
    call(Port::Sleep, &mut a);
}

pub fn read(fd: u32, buf: &mut [u8]) -> i64 {
    let mut a = hc::Read {
        fd,
        _pad: 0,
        buf: abi::GuestPhys(virt_to_phys(buf.as_mut_ptr() as u64)),
        len: buf.len() as u64,
        ret: 0,
    };
    call(Port::Read, &mut a);
    a.ret
}

pub fn panic(msg: &[u8]) -> ! {
    let mut a = hc::Panic { msg: abi::GuestPhys(virt_to_phys(msg.as_ptr() as u64)), len: msg.len() as u64 };
    call(Port::Panic, &mut a);
    unreachable_halt()
}

pub fn fault_addr() -> u64 {
    let mut a = hc::FaultAddr::default();
    call(Port::FaultAddr, &mut a);
    a.cr2
}

pub fn poll(events: [u16; 3], timeout_ms: i32) -> [u16; 3] {
    let mut a = hc::Poll { events, timeout_ms, ..Default::default() };
    call(Port::Poll, &mut a);
    a.revents
}

/// Asks the monitor to stop the program at BootInfo::wakeup_ns from now on.
pub fn start_wakeups() {
    let mut a = hc::Wakeups::default();
    call(Port::Wakeups, &mut a);
}

pub fn tty(a: &mut hc::Tty) {
    call(Port::Tty, a);
}

/// A File call: the caller filled `a`, whose addresses are guest-physical.
pub fn file(a: &mut hc::File) {
    call(Port::File, a);
}

/// Makes guest RAM up to at least `want_end` usable; returns the new end
/// (short of `want_end` only when RAM is full).
pub fn grow_memory(want_end: u64) -> u64 {
    let mut a = hc::GrowMemory { want_end, end: 0 };
    call(Port::GrowMemory, &mut a);
    a.end
}

/// Runs the page tables at `root` (a CR3 load by the monitor).
pub fn switch_space(root: u64) {
    let mut a = hc::SwitchSpace { root };
    call(Port::SwitchSpace, &mut a);
}

pub fn flush_tlb() {
    let mut a = hc::FlushTlb::default();
    call(Port::FlushTlb, &mut a);
}

/// The monitor never resumes the guest after an ending hypercall.
fn unreachable_halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
