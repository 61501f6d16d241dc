//! `cpuid` without an exit. Every `cpuid` exits to the host on machines
//! like ours (~50 us); glibc runs dozens at start. The loader rewrites them to
//! `call *%rax` like syscalls (rax holds the leaf), and the entry tells them
//! apart by their return address; the answer comes from the vCPU's own
//! CPUID table, which the monitor read back from KVM after setting the vCPU up.

use abi::boot::{BootInfo, CpuidEntry, CPUID_FLAG_SIGNIFICANT_INDEX};

pub struct Cpuid {
    /// Return addresses (site + 2) of rewritten `cpuid`s, sorted.
    returns: [u64; abi::boot::MAX_CPUID_SITES],
    n: usize,
    /// A one-word filter on return addresses: a syscall pays one test.
    filter: u64,
    table: &'static [CpuidEntry],
}

fn filter_bit(ret: u64) -> u64 {
    1 << ((ret ^ (ret >> 6)) & 63)
}

impl Cpuid {
    pub fn new(boot: &'static BootInfo) -> Cpuid {
        let n = (boot.ncpuid_sites as usize).min(boot.cpuid_sites.len());
        let t = (boot.ncpuid as usize).min(boot.cpuid.len());
        let mut c = Cpuid { returns: [0; abi::boot::MAX_CPUID_SITES], n: 0, filter: 0, table: &boot.cpuid[..t] };
        c.set_sites(&boot.cpuid_sites[..n]);
        c
    }

    /// The rewritten sites of the program now running (sorted; execve changes them).
    pub fn set_sites(&mut self, sites: &[u64]) {
        self.n = sites.len().min(self.returns.len());
        self.filter = 0;
        for (r, s) in self.returns.iter_mut().zip(&sites[..self.n]) {
            *r = s + 2;
            self.filter |= filter_bit(*r);
        }
    }

    /// Whether a call that returns to `ret` came from a rewritten `cpuid`.
    #[inline]
    pub fn is_site(&self, ret: u64) -> bool {
        self.filter & filter_bit(ret) != 0 && self.returns[..self.n].binary_search(&ret).is_ok()
    }

    /// AT_HWCAP: leaf 1's edx.
    pub fn hwcap(&self) -> u64 {
        self.query(1, 0)[3] as u64
    }

    /// eax, ebx, ecx, edx for a leaf and subleaf, as KVM would answer.
    pub fn query(&self, leaf: u32, subleaf: u32) -> [u32; 4] {
        let hit = self.table.iter().find(|e| {
            e.function == leaf && (e.flags & CPUID_FLAG_SIGNIFICANT_INDEX == 0 || e.index == subleaf)
        });
        hit.map_or([0; 4], |e| [e.eax, e.ebx, e.ecx, e.edx])
    }
}
