//! Guest RAM: one private anonymous mapping, 2 MiB aligned and advised for
//! transparent huge pages (first touches cost ~30x less on these hosts).
//! Every access by a guest-physical address is bounds-checked here, the
//! one place that turns guest addresses into host memory.

use abi::pod::{as_bytes, as_bytes_mut, Pod};
use abi::GuestPhys;
use thiserror::Error;

const HUGE: usize = 2 << 20;

#[derive(Debug, Error)]
#[error("guest address {addr:#x}+{len:#x} is outside guest memory ({size:#x} bytes)")]
pub struct BadAccess {
    pub addr: u64,
    pub len: u64,
    pub size: u64,
}

pub struct GuestMemory {
    raw: *mut libc::c_void,
    base: *mut u8,
    size: usize,
    map_len: usize,
}

impl GuestMemory {
    pub fn new(size: usize) -> std::io::Result<GuestMemory> {
        let map_len = size + HUGE;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = ((raw as usize).div_ceil(HUGE) * HUGE) as *mut u8;
        // SAFETY: base..base+size lies inside the mapping just made.
        unsafe { libc::madvise(base as *mut libc::c_void, size, libc::MADV_HUGEPAGE) };
        Ok(GuestMemory { raw, base, size, map_len })
    }

    /// Backs [addr, addr+len) (2 MiB aligned) with small host pages, for
    /// memory used sparsely, and faults in its first `populate` bytes at
    /// once (one call instead of a fault per page, ~5 us each here). Best effort.
    pub fn small_pages(&self, addr: u64, len: u64, populate: u64) {
        if self.check(addr, len).is_ok() {
            // SAFETY: the range is inside our mapping; the advice changes no contents.
            unsafe {
                let p = self.base.add(addr as usize) as *mut libc::c_void;
                libc::madvise(p, len as usize, libc::MADV_NOHUGEPAGE);
                libc::madvise(p, populate.min(len) as usize, libc::MADV_POPULATE_WRITE);
            }
        }
    }

    /// How many 2 MiB chunks of guest memory the host has backed, for --stats.
    pub fn resident_chunks(&self) -> usize {
        let mut vec = vec![0u8; self.size / 4096];
        // SAFETY: base..base+size is our mapping; vec has one byte per page.
        if unsafe { libc::mincore(self.base as *mut libc::c_void, self.size, vec.as_mut_ptr()) } != 0 {
            return 0;
        }
        vec.chunks(HUGE / 4096).filter(|c| c.iter().any(|&b| b & 1 != 0)).count()
    }

    pub fn size(&self) -> u64 {
        self.size as u64
    }

    pub fn host_addr(&self) -> u64 {
        self.base as u64
    }

    fn check(&self, addr: u64, len: u64) -> Result<usize, BadAccess> {
        match addr.checked_add(len) {
            Some(end) if end <= self.size as u64 => Ok(addr as usize),
            _ => Err(BadAccess { addr, len, size: self.size as u64 }),
        }
    }

    pub fn slice(&self, addr: GuestPhys, len: u64) -> Result<&[u8], BadAccess> {
        let off = self.check(addr.0, len)?;
        // SAFETY: off..off+len is inside the mapping (checked); the guest may
        // change it concurrently only while the vCPU runs, and it does not
        // run while the monitor handles an exit.
        Ok(unsafe { std::slice::from_raw_parts(self.base.add(off), len as usize) })
    }

    pub fn slice_mut(&mut self, addr: GuestPhys, len: u64) -> Result<&mut [u8], BadAccess> {
        let off = self.check(addr.0, len)?;
        // SAFETY: as slice; &mut self makes this the only borrow.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.base.add(off), len as usize) })
    }

    pub fn read<T: Pod>(&self, addr: GuestPhys) -> Result<T, BadAccess> {
        let mut v = T::default();
        let n = std::mem::size_of::<T>() as u64;
        as_bytes_mut(&mut v).copy_from_slice(self.slice(addr, n)?);
        Ok(v)
    }

    pub fn write<T: Pod>(&mut self, addr: GuestPhys, v: &T) -> Result<(), BadAccess> {
        let n = std::mem::size_of::<T>() as u64;
        self.slice_mut(addr, n)?.copy_from_slice(as_bytes(v));
        Ok(())
    }

    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), BadAccess> {
        self.write(GuestPhys(addr), &v)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, BadAccess> {
        self.read(GuestPhys(addr))
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: raw..raw+map_len is the mapping made in new(); nothing borrows it now.
        unsafe { libc::munmap(self.raw, self.map_len) };
    }
}
