//! The KVM virtual machine: creation, the vCPU's initial 64-bit CPL3
//! state, and the run loop, which serves hypercalls until the guest ends.

use crate::files::Files;
use crate::guest_mem::{BadAccess, GuestMemory};
use crate::host;
use abi::hc::{self, Port};
use abi::layout::*;
use abi::GuestPhys;
use kvm_bindings::{kvm_cpuid_entry2, kvm_msr_entry, CpuId, kvm_regs, kvm_segment, kvm_userspace_memory_region, kvm_xcrs, Msrs, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum VmError {
    #[error("cannot open /dev/kvm ({0}): uk-run needs KVM; check that the module is loaded and you may use /dev/kvm")]
    NoKvm(kvm_ioctls::Error),
    #[error("KVM refused {0}: {1}")]
    Kvm(&'static str, kvm_ioctls::Error),
    #[error("the guest made a bad hypercall: {0}")]
    BadHypercall(String),
    #[error("the guest stopped unexpectedly: {0}")]
    Crashed(String),
    #[error("guest kernel panic: {0}")]
    KernelPanic(String),
}

impl From<BadAccess> for VmError {
    fn from(e: BadAccess) -> Self {
        VmError::BadHypercall(e.to_string())
    }
}

/// How the guest ended.
pub enum Outcome {
    Exited(hc::Exit),
    Killed(hc::Killed),
}

/// Exits to the monitor, by cause, for --stats and the benchmark.
#[derive(Default, Debug)]
pub struct ExitCounts {
    pub by_port: [u64; Port::ALL.len()],
    pub other: u64,
    /// Stops of the program in its own code at the guest's wake-up time
    /// (time slices, timers): each is an exit too.
    pub kicks: u64,
}

impl ExitCounts {
    pub fn total(&self) -> u64 {
        self.by_port.iter().sum::<u64>() + self.other + self.kicks
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for p in Port::ALL {
            let n = self.by_port[(p as u16 - Port::ConsoleWrite as u16) as usize];
            if n > 0 {
                parts.push(format!("{p:?}={n}"));
            }
        }
        if self.other > 0 {
            parts.push(format!("other={}", self.other));
        }
        if self.kicks > 0 {
            parts.push(format!("stops={}", self.kicks));
        }
        format!("exits={} ({})", self.total(), parts.join(" "))
    }
}

pub struct Vm {
    vm: VmFd,
    pub ram: Ram,
    pub vcpu: VcpuFd,
    pub tsc_khz: u64,
    /// Where the kernel is entered when the program is stopped in its own
    /// code (see abi::boot::BootInfo::interrupted), and a stack for it.
    pub signal_entry: (u64, u64),
    /// The wake-up thread, once the guest asked for it (hc::Wakeups).
    ticker: Option<std::thread::JoinHandle<()>>,
}

const CR0_PE: u64 = 1;
const CR0_MP: u64 = 1 << 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_PGE: u64 = 1 << 7;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_FSGSBASE: u64 = 1 << 16;
const CR4_OSXSAVE: u64 = 1 << 18;
const EFER_SCE: u64 = 1;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_FMASK: u32 = 0xc000_0084;
const MSR_TSC: u32 = 0x10;

/// KVM_GET_SUPPORTED_CPUID costs ~360 us here and its answer only changes
/// when the host boots (or KVM is reloaded): cache it under the boot id.
fn cpuid_cache_name() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(format!("cpuid-{}-{}", env!("CARGO_PKG_VERSION"), id.trim()))
}

const CPUID_ENTRY_WORDS: usize = 7;

fn cached_supported_cpuid() -> Option<CpuId> {
    let bytes = std::fs::read(crate::cache::cache_dir()?.join(cpuid_cache_name()?)).ok()?;
    let words: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    if bytes.len() % (4 * CPUID_ENTRY_WORDS) != 0 || words.is_empty() {
        return None;
    }
    let entries: Vec<kvm_cpuid_entry2> = words
        .chunks_exact(CPUID_ENTRY_WORDS)
        .map(|w| kvm_cpuid_entry2 { function: w[0], index: w[1], flags: w[2], eax: w[3], ebx: w[4], ecx: w[5], edx: w[6], ..Default::default() })
        .collect();
    CpuId::from_entries(&entries).ok()
}

fn store_supported_cpuid(c: &CpuId) {
    let (Some(dir), Some(name)) = (crate::cache::cache_dir(), cpuid_cache_name()) else { return };
    let bytes: Vec<u8> = c
        .as_slice()
        .iter()
        .flat_map(|e| [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx])
        .flat_map(|w| w.to_le_bytes())
        .collect();
    // Best effort, like every cache entry.
    let _ = crate::cache::store(&dir, &name, &bytes);
}

fn seg(selector: u16, code: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 11 } else { 3 },
        present: 1,
        dpl: 3,
        db: if code { 0 } else { 1 },
        s: 1,
        l: if code { 1 } else { 0 },
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// Guest RAM as registered with KVM: [0, usable), one slot per step.
pub struct Ram {
    pub usable: u64,
    slots: u32,
    size: u64,
    host_addr: u64,
}

impl Ram {
    /// Makes [0, end) usable (rounded up to 2 MiB, at most all of RAM).
    fn grow_to(&mut self, vm: &VmFd, end: u64) -> Result<(), VmError> {
        let end = end.next_multiple_of(HUGE_PAGE_SIZE).min(self.size);
        if end <= self.usable {
            return Ok(());
        }
        let region = kvm_userspace_memory_region {
            slot: self.slots,
            flags: 0,
            guest_phys_addr: self.usable,
            memory_size: end - self.usable,
            userspace_addr: self.host_addr + self.usable,
        };
        // SAFETY: the region is part of the guest memory, which outlives the
        // VM (run() borrows it); it overlaps no earlier slot.
        unsafe { vm.set_user_memory_region(region) }.map_err(|e| VmError::Kvm("KVM_SET_USER_MEMORY_REGION", e))?;
        self.slots += 1;
        self.usable = end;
        Ok(())
    }
}

impl Vm {
    /// Creates the VM and its vCPU over `mem`, entering the kernel at `entry`
    /// (CPL3, 64-bit) with rdi = the boot information's virtual address.
    /// RAM usable from the start (see [`hc::GrowMemory`]): enough for
    /// small programs, ~15 us to register instead of ~0.2 ms for 256 MiB.
    pub const INITIAL_RAM: u64 = 16 << 20;

    /// `usable`: the guest RAM to register now, [0, usable).
    pub fn new(mem: &GuestMemory, usable: u64, pml4: u64, entry: u64, lstar: u64) -> Result<Vm, VmError> {
        let kvm = Kvm::new().map_err(VmError::NoKvm)?;
        let vm = kvm.create_vm().map_err(|e| VmError::Kvm("KVM_CREATE_VM", e))?;
        let mut ram = Ram { usable: 0, slots: 0, size: mem.size(), host_addr: mem.host_addr() };
        ram.grow_to(&vm, usable)?;
        let vcpu = vm.create_vcpu(0).map_err(|e| VmError::Kvm("KVM_CREATE_VCPU", e))?;
        let cpuid = match cached_supported_cpuid().filter(|c| vcpu.set_cpuid2(c).is_ok()) {
            Some(c) => c,
            None => {
                let c = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(|e| VmError::Kvm("KVM_GET_SUPPORTED_CPUID", e))?;
                vcpu.set_cpuid2(&c).map_err(|e| VmError::Kvm("KVM_SET_CPUID2", e))?;
                store_supported_cpuid(&c);
                c
            }
        };
        let leaf = |f: u32| cpuid.as_slice().iter().find(|e| e.function == f && e.index == 0).copied();
        let xsave = leaf(1).is_some_and(|e| e.ecx & (1 << 26) != 0);

        let mut s = vcpu.get_sregs().map_err(|e| VmError::Kvm("KVM_GET_SREGS", e))?;
        s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
        s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE | if xsave { CR4_OSXSAVE } else { 0 };
        s.cr3 = pml4;
        s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
        s.cs = seg(SEL_USER_CODE, true);
        let data = seg(SEL_USER_DATA, false);
        (s.ds, s.es, s.fs, s.gs, s.ss) = (data, data, data, data, data);
        s.tr = kvm_segment { base: low_virt(TSS_PHYS), limit: 0x67, selector: SEL_TSS, type_: 11, present: 1, ..Default::default() };
        s.gdt.base = low_virt(GDT_PHYS);
        s.gdt.limit = 7 * 8 - 1;
        s.idt.base = low_virt(IDT_PHYS);
        s.idt.limit = 32 * 16 - 1;
        vcpu.set_sregs(&s).map_err(|e| VmError::Kvm("KVM_SET_SREGS", e))?;

        if xsave {
            // x87, SSE, AVX, and AVX-512 state if the host offers it.
            let supported = leaf(0xd).map_or(3, |e| e.eax as u64) & 0xe7;
            let mut x = kvm_xcrs { nr_xcrs: 1, ..Default::default() };
            x.xcrs[0].xcr = 0;
            x.xcrs[0].value = supported | 3;
            vcpu.set_xcrs(&x).map_err(|e| VmError::Kvm("KVM_SET_XCRS", e))?;
        }

        let msr = |index, data| kvm_msr_entry { index, data, ..Default::default() };
        let msrs = Msrs::from_entries(&[
            msr(MSR_STAR, ((SEL_KERNEL_DATA as u64) << 48) | ((SEL_KERNEL_CODE as u64) << 32)),
            msr(MSR_LSTAR, lstar),
            // TF, DF, IF, IOPL, AC, NT cleared on entry to the CPL0 stub.
            msr(MSR_FMASK, 0x47700),
        ])
        .expect("three MSRs fit");
        vcpu.set_msrs(&msrs).map_err(|e| VmError::Kvm("KVM_SET_MSRS", e))?;

        let boot_info = low_virt(BOOT_INFO_PHYS);
        let regs = kvm_regs { rip: entry, rdi: boot_info, rflags: 0x2 | (3 << 12), ..Default::default() };
        vcpu.set_regs(&regs).map_err(|e| VmError::Kvm("KVM_SET_REGS", e))?;
        let tsc_khz = vcpu.get_tsc_khz().map_err(|e| VmError::Kvm("KVM_GET_TSC_KHZ", e))? as u64;
        Ok(Vm { vm, ram, vcpu, tsc_khz, signal_entry: (0, 0), ticker: None })
    }

    /// The vCPU's CPUID table as KVM now answers it (with the bits that
    /// depend on CR4 and XCR0 already updated), for the kernel to answer
    /// rewritten `cpuid` instructions without an exit.
    pub fn cpuid_table(&self) -> Result<Vec<abi::boot::CpuidEntry>, VmError> {
        let c = self.vcpu.get_cpuid2(KVM_MAX_CPUID_ENTRIES).map_err(|e| VmError::Kvm("KVM_GET_CPUID2", e))?;
        Ok(c.as_slice()
            .iter()
            .map(|e| abi::boot::CpuidEntry {
                function: e.function,
                index: e.index,
                flags: e.flags & abi::boot::CPUID_FLAG_SIGNIFICANT_INDEX,
                eax: e.eax,
                ebx: e.ebx,
                ecx: e.ecx,
                edx: e.edx,
                _pad: 0,
            })
            .collect())
    }

    /// KVM's own counters for the vCPU (the exits KVM handles without us,
    /// page faults, emulated instructions), nonzero scalars only, for --stats.
    pub fn kvm_counters(&self) -> Vec<(String, u64)> {
        use std::os::fd::{AsRawFd, FromRawFd};
        use std::os::unix::fs::FileExt;
        const KVM_GET_STATS_FD: libc::c_ulong = 0xaece; // _IO(KVMIO, 0xce)
        // SAFETY: the ioctl takes no argument and returns a new descriptor or -1.
        let fd = unsafe { libc::ioctl(self.vcpu.as_raw_fd(), KVM_GET_STATS_FD as _) };
        if fd < 0 {
            return Vec::new();
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let f = unsafe { std::fs::File::from_raw_fd(fd) };
        let word = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize;
        let mut h = [0u8; 24];
        if f.read_exact_at(&mut h, 0).is_err() {
            return Vec::new();
        }
        let (name_size, n, desc_at, data_at) = (word(&h, 4), word(&h, 8), word(&h, 16), word(&h, 20));
        let stride = 16 + name_size;
        let mut descs = vec![0u8; n.saturating_mul(stride).min(1 << 20)];
        if f.read_exact_at(&mut descs, desc_at as u64).is_err() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for d in descs.chunks_exact(stride) {
            let size = u16::from_le_bytes([d[6], d[7]]);
            let mut v = [0u8; 8];
            if size != 1 || f.read_exact_at(&mut v, (data_at + word(d, 8)) as u64).is_err() {
                continue;
            }
            let name = d[16..].split(|&b| b == 0).next().unwrap_or_default();
            let v = u64::from_le_bytes(v);
            if v != 0 {
                out.push((String::from_utf8_lossy(name).into_owned(), v));
            }
        }
        out
    }

    /// Whether a signal sent to uk-run still waits in guest memory for the kernel.
    fn signal_waiting(&self, mem: &GuestMemory) -> bool {
        mem.read::<u32>(GuestPhys(BOOT_INFO_PHYS + abi::boot::HOST_SIGNAL_OFFSET)).is_ok_and(|s| s != 0)
    }

    /// The program was stopped with a signal waiting, or at its wake-up
    /// time (`kicked`): if it is running its own code (not the kernel's,
    /// not a trampoline), write its registers for the kernel and start the
    /// kernel's entry for it; else look again a little later (a signal;
    /// the wake-up thread asks again by itself).
    fn enter_for_signal(&mut self, mem: &mut GuestMemory, kicked: bool) -> Result<(), VmError> {
        let r = self.vcpu.get_regs().map_err(|e| VmError::Kvm("KVM_GET_REGS", e))?;
        let in_trampoline = r.rip < PAGE_SIZE || CPUID_TRAMPOLINES.iter().any(|&t| (t..t + PAGE_SIZE).contains(&r.rip));
        // An exception KVM is about to deliver (the program's page fault)
        // would hit the kernel's entry instead: let it be delivered first.
        let ev = self.vcpu.get_vcpu_events().map_err(|e| VmError::Kvm("KVM_GET_VCPU_EVENTS", e))?;
        let exception_queued = ev.exception.injected != 0 || ev.exception.pending != 0 || ev.nmi.injected != 0;
        if r.rip >= USER_END || in_trampoline || self.signal_entry.0 == 0 || exception_queued {
            if self.signal_waiting(mem) {
                host::recheck_soon();
            }
            return Ok(());
        }
        let regs: [u64; 18] = [
            r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp,
            r.rip, r.rflags,
        ];
        for (i, v) in regs.iter().enumerate() {
            mem.write(GuestPhys(BOOT_INFO_PHYS + abi::boot::INTERRUPTED_OFFSET + 8 * i as u64), v)?;
        }
        if kicked {
            mem.write(GuestPhys(BOOT_INFO_PHYS + abi::boot::KICKED_OFFSET), &1u32)?;
        }
        let (entry, stack) = self.signal_entry;
        // The flags the kernel starts with (IOPL 3, no DF, no TF), not the program's.
        let k = kvm_regs { rip: entry, rsp: stack, rflags: 0x2 | (3 << 12), ..Default::default() };
        self.vcpu.set_regs(&k).map_err(|e| VmError::Kvm("KVM_SET_REGS", e))?;
        Ok(())
    }

    /// Ends the wake-up thread, if any: it reads guest memory, which is
    /// about to go.
    pub fn stop_ticker(&mut self) {
        if let Some(t) = self.ticker.take() {
            host::stop_ticker(t);
        }
    }

    /// The guest's TSC now (it runs at tsc_khz).
    pub fn guest_tsc(&self) -> Result<u64, VmError> {
        let mut m = Msrs::from_entries(&[kvm_msr_entry { index: MSR_TSC, ..Default::default() }]).expect("one MSR");
        self.vcpu.get_msrs(&mut m).map_err(|e| VmError::Kvm("KVM_GET_MSRS", e))?;
        Ok(m.as_slice()[0].data)
    }

    /// Runs the guest until it ends, serving its hypercalls (`files`: the
    /// shared directories and the host files the guest opened).
    pub fn run(&mut self, mem: &mut GuestMemory, files: &mut Files, exits: &mut ExitCounts) -> Result<Outcome, VmError> {
        loop {
            // A signal sent to uk-run goes to the program: the kernel takes
            // it at the end of a syscall, or is started for it below.
            let sig = host::take_signal();
            if sig != 0 {
                mem.write(GuestPhys(BOOT_INFO_PHYS + abi::boot::HOST_SIGNAL_OFFSET), &(sig as u32))?;
                host::recheck_soon();
            }
            let step = match self.vcpu.run() {
                Ok(e) => Some(e),
                // Stopped by a signal sent to uk-run (or the timer that looks
                // whether the guest has taken it): see below.
                Err(e) if e.errno() == libc::EINTR && !host::debug_timeout_fired() => None,
                Err(e) if e.errno() == libc::EINTR => {
                    let r = self.vcpu.get_regs().ok();
                    if let Some(r) = r {
                        if let Ok(b) = mem.slice(GuestPhys(r.rdi), 200) {
                            eprintln!("debug: bytes at rdi: {:?}", String::from_utf8_lossy(b));
                        }
                    }
                    let s = self.vcpu.get_sregs().ok();
                    return Err(VmError::Crashed(format!(
                        "interrupted: {:x?} cr2 {:#x}",
                        r,
                        s.map_or(0, |s| s.cr2)
                    )));
                }
                Err(e) => return Err(VmError::Kvm("KVM_RUN", e)),
            };
            let Some(exit) = step else {
                let kicked = host::take_kick();
                if kicked {
                    exits.kicks += 1;
                }
                if self.signal_waiting(mem) || kicked {
                    self.enter_for_signal(mem, kicked)?;
                }
                continue;
            };
            match exit {
                VcpuExit::MmioWrite(addr, data) if Port::from_doorbell(addr).is_some() => {
                    let p = Port::from_doorbell(addr).expect("checked");
                    let gpa = match data.len() {
                        4 => u32::from_le_bytes(data.try_into().expect("4 bytes")) as u64,
                        n => return Err(VmError::BadHypercall(format!("{p:?} doorbell written with {n} bytes, not 4"))),
                    };
                    exits.by_port[(p as u16 - Port::ConsoleWrite as u16) as usize] += 1;
                    if let Some(outcome) = self.hypercall(p, GuestPhys(gpa), mem, files)? {
                        return Ok(outcome);
                    }
                }
                VcpuExit::Hlt => return Err(VmError::Crashed("halted".into())),
                VcpuExit::Shutdown => {
                    let r = self.vcpu.get_regs().ok();
                    return Err(VmError::Crashed(format!("triple fault (rip {:#x})", r.map_or(0, |r| r.rip))));
                }
                VcpuExit::MmioRead(a, _) | VcpuExit::MmioWrite(a, _) => {
                    return Err(VmError::Crashed(format!("access to unbacked guest-physical address {a:#x}")))
                }
                other => {
                    exits.other += 1;
                    let what = format!("{other:?}");
                    let r = self.vcpu.get_regs().ok();
                    return Err(VmError::Crashed(format!("{what} at rip {:#x}", r.map_or(0, |r| r.rip))));
                }
            }
        }
    }

    fn hypercall(&mut self, p: Port, gpa: GuestPhys, mem: &mut GuestMemory, files: &mut Files) -> Result<Option<Outcome>, VmError> {
        match p {
            Port::ConsoleWrite => {
                let mut a: hc::ConsoleWrite = mem.read(gpa)?;
                a.error = console_write(mem, a.buf, a.len)?;
                mem.write(gpa, &a)?;
            }
            Port::Exit => {
                return Ok(Some(Outcome::Exited(mem.read(gpa)?)));
            }
            Port::Killed => return Ok(Some(Outcome::Killed(mem.read(gpa)?))),
            Port::Sleep => {
                let a: hc::Sleep = mem.read(gpa)?;
                host::sleep_ns(a.ns);
            }
            Port::Read => {
                let mut a: hc::Read = mem.read(gpa)?;
                if a.fd != 0 {
                    return Err(VmError::BadHypercall(format!("read from host descriptor {}", a.fd)));
                }
                let len = a.len.min(1 << 24);
                a.ret = host::read(0, mem.slice_mut(a.buf, len)?);
                mem.write(gpa, &a)?;
            }
            Port::Panic => {
                let a: hc::Panic = mem.read(gpa)?;
                let msg = mem.slice(a.msg, a.len.min(4096))?;
                return Err(VmError::KernelPanic(String::from_utf8_lossy(msg).into_owned()));
            }
            Port::Clock => {
                let a = hc::Clock {
                    realtime_ns: host::clock_ns(libc::CLOCK_REALTIME),
                    monotonic_ns: host::clock_ns(libc::CLOCK_MONOTONIC),
                };
                mem.write(gpa, &a)?;
            }
            Port::Wakeups => {
                if self.ticker.is_none() {
                    let word = mem.slice(GuestPhys(BOOT_INFO_PHYS + abi::boot::WAKEUP_OFFSET), 8)?.as_ptr() as usize;
                    self.ticker = Some(host::start_ticker(word));
                }
            }
            Port::Tty => {
                let mut a: hc::Tty = mem.read(gpa)?;
                a.ret = host::tty_ioctl(&a);
                mem.write(gpa, &a)?;
            }
            Port::File => {
                let mut a: hc::File = mem.read(gpa)?;
                files.serve(mem, &mut a)?;
                mem.write(gpa, &a)?;
            }
            Port::Poll => {
                let mut a: hc::Poll = mem.read(gpa)?;
                a.revents = host::poll(a.events, a.timeout_ms);
                mem.write(gpa, &a)?;
            }
            Port::FlushTlb => {
                // Changing CR4.PGE flushes all translations (and makes KVM
                // reset the guest's MMU context); the guest uses no global pages.
                let mut s = self.vcpu.get_sregs().map_err(|e| VmError::Kvm("KVM_GET_SREGS", e))?;
                s.cr4 ^= CR4_PGE;
                self.vcpu.set_sregs(&s).map_err(|e| VmError::Kvm("KVM_SET_SREGS", e))?;
            }
            Port::SwitchSpace => {
                let a: hc::SwitchSpace = mem.read(gpa)?;
                if a.root % abi::layout::PAGE_SIZE != 0 || a.root.checked_add(abi::layout::PAGE_SIZE).is_none_or(|e| e > self.ram.usable) {
                    return Err(VmError::BadHypercall(format!("SwitchSpace to {:#x}, which is not a page of guest RAM", a.root)));
                }
                let mut s = self.vcpu.get_sregs().map_err(|e| VmError::Kvm("KVM_GET_SREGS", e))?;
                s.cr3 = a.root;
                self.vcpu.set_sregs(&s).map_err(|e| VmError::Kvm("KVM_SET_SREGS", e))?;
            }
            Port::GrowMemory => {
                let mut a: hc::GrowMemory = mem.read(gpa)?;
                // Doubling: a program that keeps allocating makes log2(RAM) of these calls.
                let want = a.want_end.max(2 * self.ram.usable);
                self.ram.grow_to(&self.vm, want)?;
                a.end = self.ram.usable;
                mem.write(gpa, &a)?;
            }
            Port::FaultAddr => {
                let s = self.vcpu.get_sregs().map_err(|e| VmError::Kvm("KVM_GET_SREGS", e))?;
                mem.write(gpa, &hc::FaultAddr { cr2: s.cr2 })?;
            }
        }
        Ok(None)
    }
}

/// Writes the console records of buf[..len] to the host; 0 or the first errno.
fn console_write(mem: &GuestMemory, buf: GuestPhys, len: u64) -> Result<i32, VmError> {
    let bytes = mem.slice(buf, len)?;
    let mut at = 0usize;
    let mut error = 0;
    while at < bytes.len() {
        let rec: hc::ConsoleRecord = abi::pod::read_from(&bytes[at..])
            .ok_or_else(|| VmError::BadHypercall("console record header past the buffer".into()))?;
        at += std::mem::size_of::<hc::ConsoleRecord>();
        let data = bytes
            .get(at..at + rec.len as usize)
            .ok_or_else(|| VmError::BadHypercall("console record past the buffer".into()))?;
        if rec.fd > 2 {
            return Err(VmError::BadHypercall(format!("console record for descriptor {}", rec.fd)));
        }
        if error == 0 {
            error = host::write_all(rec.fd as i32, data);
        }
        at += rec.len as usize;
    }
    Ok(error)
}
