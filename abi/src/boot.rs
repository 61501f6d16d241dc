//! What the monitor tells the kernel at boot, at [`crate::layout::BOOT_INFO_PHYS`].

use crate::linux::{Stat, Termios, Utsname, Winsize};

/// Set in [`BootInfo::flags`]: print diagnostics (faults, warnings).
pub const FLAG_VERBOSE: u32 = 1;
/// Set in [`BootInfo::flags`]: print every syscall and its result (like strace).
pub const FLAG_TRACE: u32 = 2;

/// A region of the program's address space the monitor mapped at load.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct UserRegion {
    pub start: u64,
    pub end: u64,
    /// PROT_* bits.
    pub prot: u32,
    /// One of the REGION_* kinds.
    pub kind: u32,
}

pub const REGION_IMAGE: u32 = 1;
pub const REGION_STACK: u32 = 2;
pub const REGION_TRAMPOLINE: u32 = 3;
/// The vDSO ([`crate::layout::VDSO_BASE`]).
pub const REGION_VDSO: u32 = 4;
pub const MAX_REGIONS: usize = 16;

/// The host's view of one of the program's standard descriptors, taken once
/// at start so that `isatty`, `fstat` and `TCGETS` cost no exit.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StdioInfo {
    /// The host descriptor is open.
    pub open: u32,
    /// It is a terminal: `termios` and `winsize` are valid.
    pub is_tty: u32,
    /// The host's `fcntl(F_GETFL)` flags.
    pub status_flags: u32,
    pub _pad: u32,
    pub stat: Stat,
    pub termios: Termios,
    pub winsize: Winsize,
}

/// One row of the vCPU's CPUID table (as KVM's `kvm_cpuid_entry2`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuidEntry {
    pub function: u32,
    pub index: u32,
    /// Bit 0: `index` (ecx) selects the row.
    pub flags: u32,
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub _pad: u32,
}

pub const CPUID_FLAG_SIGNIFICANT_INDEX: u32 = 1;
pub const MAX_CPUID_ENTRIES: usize = 96;
pub const MAX_CPUID_SITES: usize = 128;

/// Most shared directories (`-v`, plus the current directory).
pub const MAX_SHARES: usize = 8;
/// Host files copied into the guest's /etc at start ([`BootInfo::etc`]).
pub const MAX_ETC_FILES: usize = 4;

/// One host file copied into the guest's /etc: its name there, and its
/// bytes in guest-physical memory in chunk 0, [at, at + len).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct EtcFile {
    pub name: [u8; 16],
    pub at: u64,
    pub len: u64,
}

/// A host directory shared with the program.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Share {
    /// Where the program sees it: an absolute, normalized guest path.
    pub guest_path: [u8; 512],
    pub guest_path_len: u32,
    /// Writes are refused with EROFS.
    pub read_only: u32,
    /// 1: the host's root under the private mounts (--host-root): paths in
    /// /tmp, /dev, /proc and /etc stay the guest's own.
    pub under: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BootInfo {
    pub version: u32,
    pub flags: u32,
    /// A signal sent to uk-run, for the program (written by the monitor
    /// while the vCPU is stopped, cleared by the kernel): see
    /// [`BootInfo::interrupted`].
    pub host_signal: u32,
    /// Set by the monitor when it stopped the program because
    /// [`BootInfo::wakeup_ns`] came (cleared by the kernel).
    pub kicked: u32,
    /// When the kernel wants the program stopped if it is still running its
    /// own code then (host CLOCK_MONOTONIC ns; 0: never): the end of a time
    /// slice while other threads wait to run, or a timer's deadline. The
    /// kernel writes it without an exit; the monitor's timer thread reads it.
    pub wakeup_ns: u64,
    /// The program's registers when the monitor stopped it in its own code
    /// (for a signal sent to uk-run, or at `wakeup_ns`), in the order of
    /// Linux's sigcontext (r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp,
    /// rip, rflags). The monitor then starts the kernel at its
    /// `uk_host_signal_entry`, which goes on from these registers (changed
    /// or not) with no exit.
    pub interrupted: [u64; 18],
    /// The signal mask uk-run was started with: the program's (exec keeps it).
    pub sigmask: u64,
    /// Bytes of guest RAM.
    pub mem_size: u64,
    /// Guest RAM usable so far, [0, mem_usable); see [`crate::hc::GrowMemory`].
    pub mem_usable: u64,
    /// First guest-physical byte the kernel may allocate (page aligned).
    pub free_start: u64,
    /// A free range of chunk 0 [start, end), used first: memory the host
    /// already backs, so small programs touch no further huge page.
    pub low_free: [u64; 2],
    /// The unused rest of the page-table chunk [start, end): the kernel's
    /// page tables come from here first (see [`crate::layout::TABLES_PHYS`]).
    pub tables_free: [u64; 2],
    /// Guest-physical address of the top-level page table.
    pub pml4: u64,
    /// Guest-physical address where the kernel image ([`crate::layout::KERNEL_BASE`]) starts.
    pub kernel_phys: u64,
    /// Lowest address the stack may grow down to.
    pub stack_limit: u64,

    /// The vDSO's base (AT_SYSINFO_EHDR; 0: none), and the guest-physical
    /// page of its clock data, which the kernel fills in at boot.
    pub vdso_base: u64,
    pub vdso_data_phys: u64,

    /// The program: entry point, initial stack pointer, start of its heap.
    pub entry: u64,
    pub sp: u64,
    pub brk_start: u64,
    pub regions: [UserRegion; MAX_REGIONS],
    pub nregions: u64,

    /// The TSC runs at `tsc_khz`; it read `tsc_ref` when the host clocks
    /// read `realtime_ref_ns` and `monotonic_ref_ns`.
    pub tsc_khz: u64,
    pub tsc_ref: u64,
    pub realtime_ref_ns: u64,
    pub monotonic_ref_ns: u64,

    /// `cpuid` instructions rewritten to `call *%rax` (sorted), and the
    /// table the kernel answers them from.
    pub ncpuid_sites: u64,
    pub cpuid_sites: [u64; MAX_CPUID_SITES],
    pub ncpuid: u64,
    pub cpuid: [CpuidEntry; MAX_CPUID_ENTRIES],

    /// Seed for the guest's random number generator (AT_RANDOM used 16 other bytes).
    pub random: [u8; 32],

    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// RLIMIT_STACK and RLIMIT_NOFILE of the monitor, (soft, hard).
    pub rlimit_stack: [u64; 2],
    pub rlimit_nofile: [u64; 2],

    pub stdio: [StdioInfo; 3],
    pub uts: Utsname,

    /// Host files for the guest's /etc (localtime, hostname, resolv.conf,
    /// os-release, those the host has), `netc` of them.
    pub netc: u64,
    pub etc: [EtcFile; MAX_ETC_FILES],

    /// The working directory the program starts in (absolute).
    pub cwd_len: u64,
    pub cwd: [u8; 4096],

    /// Host directories shared with the program, in the order the monitor
    /// numbers them ([`crate::hc::File::share`]).
    pub nshares: u64,
    pub shares: [Share; MAX_SHARES],

    /// A File handle on the program's own file, read-only (for execve of
    /// /proc/self/exe when the program is not in a share), or u32::MAX.
    pub exe_handle: u32,
    pub _pad_exe: u32,

    /// The program's absolute host path (for /proc/self/exe).
    pub exe_len: u64,
    pub exe: [u8; 4096],
}

const _: () = assert!(core::mem::size_of::<BootInfo>() as u64 <= crate::layout::BOOT_INFO_SIZE);

/// Where [`BootInfo::host_signal`] is, for the monitor's writes.
pub const HOST_SIGNAL_OFFSET: u64 = core::mem::offset_of!(BootInfo, host_signal) as u64;
pub const KICKED_OFFSET: u64 = core::mem::offset_of!(BootInfo, kicked) as u64;
pub const WAKEUP_OFFSET: u64 = core::mem::offset_of!(BootInfo, wakeup_ns) as u64;
pub const INTERRUPTED_OFFSET: u64 = core::mem::offset_of!(BootInfo, interrupted) as u64;
