//! The guest's memory layout.
//!
//! Virtual: the program keeps Linux's user half untouched, except page 0,
//! which holds the syscall trampoline (readable and executable, never
//! writable). The kernel lives in the higher half, and all of guest RAM is
//! mapped once more at [`DIRECT_MAP`] for the kernel's own use. Everything is
//! mapped user-accessible: kernel and program both run at CPL3.
//!
//! Physical: fixed system pages at the bottom, then whatever the monitor
//! allocated at load (page tables, kernel image, trampoline, program), then
//! free frames from [`crate::boot::BootInfo::free_start`] up.

pub const PAGE_SIZE: u64 = 4096;
pub const HUGE_PAGE_SIZE: u64 = 2 << 20;

/// The trampoline page: `call *%rax` with rax = syscall number lands here.
pub const TRAMPOLINE: u64 = 0;
/// Length of the landing sled: syscall numbers below this reach the entry.
pub const TRAMPOLINE_SLED: u64 = 512;
/// More trampoline pages, for rewritten `cpuid` sites whose leaf (in rax)
/// is a hypervisor (0x4000_0000..) or extended (0x8000_0000..) leaf.
pub const CPUID_TRAMPOLINES: [u64; 2] = [0x4000_0000, 0x8000_0000];

/// Top of the program's initial stack (exclusive).
pub const USER_STACK_TOP: u64 = 0x7fff_ffff_f000;
/// Bytes of stack mapped at start; the rest grows on demand.
pub const USER_STACK_INITIAL: u64 = 256 << 10;
/// Where `mmap` without a hint starts placing mappings, growing down.
pub const USER_MMAP_TOP: u64 = 0x7fff_f000_0000 - (8 << 30);
/// Where the vDSO is mapped (two pages: code, then the clock data), above
/// every mapping mmap places without a hint.
pub const VDSO_BASE: u64 = USER_MMAP_TOP;
/// Load address of a static-pie program.
pub const PIE_BASE: u64 = 0x5555_5555_4000;
/// The end of the user half.
pub const USER_END: u64 = 0x8000_0000_0000;

/// All of guest RAM, mapped writable for the kernel (2 MiB pages).
pub const DIRECT_MAP: u64 = 0xffff_8880_0000_0000;
/// The kernel's 2 MiB window: one large page onto guest-physical chunk 0
/// (system pages, trampolines, initial stack frames and the kernel image),
/// so everything the kernel touches costs one fault.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;
/// Where the kernel image is linked and loaded: KERNEL_BASE + this.
pub const KERNEL_IMAGE_OFFSET: u64 = 0x8_0000;

/// Physical: GDT (0x1000), TSS (0x1800), IDT (0x2000, 256 gates).
pub const GDT_PHYS: u64 = 0x1000;
pub const TSS_PHYS: u64 = 0x1800;
pub const IDT_PHYS: u64 = 0x2000;
/// Physical: the boot information, [`BOOT_INFO_SIZE`] bytes.
pub const BOOT_INFO_PHYS: u64 = 0x3000;
pub const BOOT_INFO_SIZE: u64 = 0x5000;
/// Physical: the monitor's small allocations (trampolines, initial stack)
/// come from [ALLOC_START_PHYS, KERNEL_IMAGE_OFFSET).
pub const ALLOC_START_PHYS: u64 = 0x8000;
/// Physical: page tables live in chunk 1, [TABLES_PHYS, TABLES_END), and
/// nothing else does. A shadow MMU write-protects the guest's page tables
/// and cannot map a 2 MiB region holding one with a large page: with
/// tables in chunk 0, each 4 KiB page of the kernel cost its own fault
/// (~10 us each on PVM; 22 of them for `busybox true`). The monitor backs
/// this chunk with small host pages: only the tables written are touched.
pub const TABLES_PHYS: u64 = 0x20_0000;
pub const TABLES_END: u64 = 0x40_0000;
/// Physical: the program image and free memory start here.
pub const FREE_START_PHYS: u64 = TABLES_END;

/// GDT selectors (index << 3 | RPL).
pub const SEL_KERNEL_CODE: u16 = 0x08;
pub const SEL_KERNEL_DATA: u16 = 0x10;
pub const SEL_USER_DATA: u16 = 0x1b;
pub const SEL_USER_CODE: u16 = 0x23;
pub const SEL_TSS: u16 = 0x28;

/// Page-table entry bits.
pub mod pte {
    pub const PRESENT: u64 = 1 << 0;
    pub const WRITABLE: u64 = 1 << 1;
    pub const USER: u64 = 1 << 2;
    pub const ACCESSED: u64 = 1 << 5;
    pub const DIRTY: u64 = 1 << 6;
    pub const HUGE: u64 = 1 << 7;
    /// Set in every entry made: a shadow MMU (PVM) emulates the accessed and
    /// dirty bits with extra faults, one for the first access and one for
    /// the first write to each page; nothing here reads them.
    pub const SET_AD: u64 = ACCESSED | DIRTY;
    pub const NO_EXECUTE: u64 = 1 << 63;
    pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
}

/// Guest-physical to the kernel's direct-mapped virtual address.
pub const fn phys_to_virt(phys: u64) -> u64 {
    DIRECT_MAP + phys
}

/// Where the kernel reaches chunk 0 (system pages, boot information):
/// through its own window, which it touches anyway, rather than through the
/// direct map, whose view of chunk 0 would cost one more shadow-MMU fault.
pub const fn low_virt(phys: u64) -> u64 {
    KERNEL_BASE + phys
}

pub const fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

pub const fn page_up(x: u64) -> u64 {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}
