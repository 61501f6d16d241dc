//! `cpuid` without an exit. Every `cpuid` exits to the host on machines
//! like ours (~50 us); glibc runs dozens at start. The loader rewrites them to
//! `call *%rax` like syscalls (rax holds the leaf), and the entry tells them
//! apart by their return address; the answer comes from the vCPU's own
//! CPUID table, which the monitor read back from KVM after setting the vCPU up.

use abi::boot::{BootInfo, CpuidEntry, CPUID_FLAG_SIGNIFICANT_INDEX};

pub struct Cpuid {
    /// Return addresses (site + 2) of rewritten `cpuid`s, sorted.
    returns: &'static [u64],
    /// A one-word filter on return addresses: a syscall pays one test.
    filter: u64,
    table: &'static [CpuidEntry],
}

fn filter_bit(ret: u64) -> u64 {
    1 << ((ret ^ (ret >> 6)) & 63)
}

static mut RETURNS: [u64; abi::boot::MAX_CPUID_SITES] = [0; abi::boot::MAX_CPUID_SITES];

impl Cpuid {
    pub fn new(boot: &'static BootInfo) -> Cpuid {
        let n = (boot.ncpuid_sites as usize).min(boot.cpuid_sites.len());
        // SAFETY: called once at boot, before anything reads RETURNS.
        let returns = unsafe { &mut *core::ptr::addr_of_mut!(RETURNS) };
        let mut filter = 0;
        for (r, s) in returns.iter_mut().zip(&boot.cpuid_sites[..n]) {
            *r = s + 2;
            filter |= filter_bit(*r);
        }
        let t = (boot.ncpuid as usize).min(boot.cpuid.len());
        Cpuid { returns: &returns[..n], filter, table: &boot.cpuid[..t] }
    }

    /// Whether a call that returns to `ret` came from a rewritten `cpuid`.
    #[inline]
    pub fn is_site(&self, ret: u64) -> bool {
        self.filter & filter_bit(ret) != 0 && self.returns.binary_search(&ret).is_ok()
    }

    /// eax, ebx, ecx, edx for a leaf and subleaf, as KVM would answer.
    pub fn query(&self, leaf: u32, subleaf: u32) -> [u32; 4] {
        let hit = self.table.iter().find(|e| {
            e.function == leaf && (e.flags & CPUID_FLAG_SIGNIFICANT_INDEX == 0 || e.index == subleaf)
        });
        hit.map_or([0; 4], |e| [e.eax, e.ebx, e.ecx, e.edx])
    }
}
