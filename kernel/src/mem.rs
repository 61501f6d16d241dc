//! Physical frames and the page tables, reached through the direct map.
//!
//! The TLB cannot be flushed from CPL3, only by the monitor (a hypercall,
//! tens of microseconds here), so flushes are deferred: an unmapped
//! page keeps, in its cleared PTE, the flush generation it was unmapped in,
//! and its frame waits on a dirty list. Mapping over a page unmapped in the
//! current generation, or running out of clean frames flushes once and
//! starts a new generation.

use abi::layout::{phys_to_virt, pte, PAGE_SIZE};
use abi::linux::{Errno, PROT_EXEC, PROT_WRITE};

/// Software bits of a non-present PTE (bits 52..62 are ignored by the CPU).
const SW_STALE: u64 = 1 << 9;
/// A PROT_NONE page that keeps its frame.
const SW_NONE: u64 = 1 << 10;
/// A frame kept for a page whose contents were discarded (MADV_DONTNEED):
/// not present; the first touch zeroes the frame and maps it with the
/// rights in the entry's other bits (see `zero_fill`).
const SW_ZERO: u64 = 1 << 11;
/// A frame another owns (a SysV shared memory segment): unmapping the
/// page does not free it. An ignored bit of an entry that holds a frame
/// (in a stale entry, the bits from 52 up hold its generation).
const SW_ALIAS: u64 = 1 << 52;
/// A 2 MiB page of program memory mapped on first touch (not the image):
/// lowering its rights splits it, as Linux would apply them. An ignored bit.
const USER_HUGE: u64 = 1 << 53;
/// Entries that hold a frame.
const HAS_FRAME: u64 = pte::PRESENT | SW_NONE | SW_ZERO;
/// Discards of at least this many pages zero on first touch, after one
/// flush; smaller ones zero in place at once.
const LAZY_DISCARD_PAGES: u64 = 32;
const GEN_SHIFT: u32 = 52;
const GEN_MASK: u64 = 0x7ff << GEN_SHIFT;

pub struct Memory {
    pml4: u64,
    low: [u64; 2],
    /// Free frames of the page-table chunk (abi::layout::TABLES_PHYS).
    tables: [u64; 2],
    next: u64,
    end: u64,
    /// RAM registered with KVM so far, [0, usable); grown on demand.
    usable: u64,
    /// Free frames, as a list threaded through the frames themselves
    /// (first 8 bytes: the next frame, 0 ends it): no heap, any size.
    free: u64,
    /// Frames released since the last flush: (head, tail).
    dirty: (u64, u64),
    gen: u64,
    pub flushes: u64,
    /// 2 MiB blocks dead address spaces gave back, and those unmapped
    /// whole (free at the next flush).
    free_huge: alloc::vec::Vec<u64>,
    dirty_huge: alloc::vec::Vec<u64>,
    /// Page-table frames of dead address spaces, for page tables again.
    free_tables: alloc::vec::Vec<u64>,
}

fn table(phys: u64) -> *mut u64 {
    phys_to_virt(phys) as *mut u64
}

fn read_entry(t: u64, i: usize) -> u64 {
    // SAFETY: t is the physical address of a page table frame inside guest
    // RAM, which the direct map covers; i < 512.
    unsafe { table(t).add(i).read_volatile() }
}

fn write_entry(t: u64, i: usize, v: u64) {
    // SAFETY: as read_entry; page tables are only written by this module.
    unsafe { table(t).add(i).write_volatile(v) }
}

fn zero_frame(phys: u64) {
    // SAFETY: phys is a whole frame of guest RAM owned by the allocator.
    unsafe { core::ptr::write_bytes(phys_to_virt(phys) as *mut u8, 0, PAGE_SIZE as usize) }
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

pub fn leaf_flags(prot: u32) -> u64 {
    let mut f = pte::PRESENT | pte::USER | pte::SET_AD;
    if prot & PROT_WRITE != 0 {
        f |= pte::WRITABLE;
    }
    if prot & PROT_EXEC == 0 {
        f |= pte::NO_EXECUTE;
    }
    f
}

impl Memory {
    pub fn new(pml4: u64, low: [u64; 2], tables: [u64; 2], free_start: u64, mem_size: u64, usable: u64) -> Memory {
        Memory { pml4, low, tables, next: free_start, end: mem_size, usable, free: 0, dirty: (0, 0), gen: 0, flushes: 0, free_huge: alloc::vec::Vec::new(), dirty_huge: alloc::vec::Vec::new(), free_tables: alloc::vec::Vec::new() }
    }

    pub fn flush(&mut self) {
        crate::hypercall::flush_tlb();
        self.flushes += 1;
        self.gen = (self.gen + 1) & 0x7ff;
        let (head, tail) = core::mem::take(&mut self.dirty);
        if head != 0 {
            write_entry(tail, 0, self.free);
            self.free = head;
        }
        let blocks = core::mem::take(&mut self.dirty_huge);
        self.free_huge.extend(blocks);
    }

    /// `bytes` of never-used, physically contiguous RAM (zero from the
    /// host), for the kernel's big heap. Taken at boot, before frames are.
    pub fn reserve(&mut self, bytes: u64) -> Option<u64> {
        let Some(end) = self.next.checked_add(bytes).filter(|&e| e <= self.end) else {
            // All RAM has been handed out once: a free 2 MiB block serves
            // (its rest becomes free frames), for a thread's kernel stack.
            const HUGE: u64 = abi::layout::HUGE_PAGE_SIZE;
            if bytes > HUGE {
                return None;
            }
            if self.free_huge.is_empty() && !self.dirty_huge.is_empty() {
                self.flush();
            }
            let at = self.free_huge.pop()?;
            self.free_frames_from(at + abi::layout::page_up(bytes), at + HUGE);
            // SAFETY: the block is free guest RAM in the direct map.
            unsafe { core::ptr::write_bytes(phys_to_virt(at) as *mut u8, 0, bytes as usize) };
            return Some(at);
        };
        if end > self.usable {
            self.usable = crate::hypercall::grow_memory(end);
            if end > self.usable {
                return None;
            }
        }
        let at = self.next;
        self.next = end;
        Some(at)
    }

    /// A zeroed frame.
    pub fn alloc_frame(&mut self) -> Result<u64, Errno> {
        if self.free != 0 {
            let f = self.free;
            self.free = read_entry(f, 0);
            zero_frame(f);
            return Ok(f);
        }
        if self.low[0] + PAGE_SIZE <= self.low[1] {
            let f = self.low[0];
            self.low[0] += PAGE_SIZE;
            return Ok(f);
        }
        if self.next + PAGE_SIZE > self.usable && self.next + PAGE_SIZE <= self.end {
            self.usable = crate::hypercall::grow_memory(self.next + PAGE_SIZE);
        }
        if self.next + PAGE_SIZE <= self.usable {
            // Never handed out before: still zero from the host.
            let f = self.next;
            self.next += PAGE_SIZE;
            return Ok(f);
        }
        if self.dirty.0 != 0 || !self.dirty_huge.is_empty() {
            self.flush();
            if self.free != 0 || !self.free_huge.is_empty() {
                return self.alloc_frame();
            }
        }
        // A free 2 MiB block becomes 4 KiB frames.
        if let Some(at) = self.free_huge.pop() {
            self.free_frames_from(at, at + abi::layout::HUGE_PAGE_SIZE);
            return self.alloc_frame();
        }
        Err(Errno::ENOMEM)
    }

    /// A zeroed frame for a page table: from the page-table chunk while it lasts.
    fn alloc_table(&mut self) -> Result<u64, Errno> {
        if let Some(t) = self.free_tables.pop() {
            zero_frame(t);
            return Ok(t);
        }
        if self.tables[0] + PAGE_SIZE <= self.tables[1] {
            self.tables[0] += PAGE_SIZE;
            return Ok(self.tables[0] - PAGE_SIZE);
        }
        self.alloc_frame()
    }

    /// The leaf PTE slot of `va`: (table phys, index). Creates tables if asked.
    fn slot(&mut self, va: u64, create: bool) -> Result<Option<(u64, usize)>, Errno> {
        let mut t = self.pml4;
        for level in (1..4).rev() {
            let i = index(va, level);
            let e = read_entry(t, i);
            if e & pte::PRESENT == 0 {
                if !create {
                    return Ok(None);
                }
                let f = self.alloc_table()?;
                write_entry(t, i, f | pte::PRESENT | pte::WRITABLE | pte::USER | pte::SET_AD);
                t = f;
            } else if e & pte::HUGE != 0 {
                if level != 1 || !create {
                    return Ok(None);
                }
                t = self.split(t, i, e)?;
            } else {
                t = e & pte::ADDR_MASK;
            }
        }
        Ok(Some((t, index(va, 0))))
    }

    /// Replaces the 2 MiB page in slot i of table t by a page table of 512
    /// 4 KiB pages with the same frames and rights: translations do not
    /// change, so no flush is needed. Returns the new table.
    fn split(&mut self, t: u64, i: usize, e: u64) -> Result<u64, Errno> {
        let pt = self.alloc_table()?;
        let base = e & pte::ADDR_MASK & !(abi::layout::HUGE_PAGE_SIZE - 1);
        let flags = e & !pte::ADDR_MASK & !pte::HUGE;
        for j in 0..512 {
            write_entry(pt, j, (base + j as u64 * PAGE_SIZE) | flags);
        }
        write_entry(t, i, pt | pte::PRESENT | pte::WRITABLE | pte::USER | pte::SET_AD);
        Ok(pt)
    }

    /// The 2 MiB page mapping `va`, if one does.
    fn huge_entry(&self, va: u64) -> Option<u64> {
        let mut t = self.pml4;
        for level in (1..4).rev() {
            let e = read_entry(t, index(va, level));
            if e & pte::PRESENT == 0 {
                return None;
            }
            if e & pte::HUGE != 0 {
                return (level == 1).then_some(e);
            }
            t = e & pte::ADDR_MASK;
        }
        None
    }

    /// Whether a page's flags grant at least what `prot` asks.
    fn grants(e: u64, prot: u32) -> bool {
        let want = leaf_flags(prot);
        (want & pte::WRITABLE == 0 || e & pte::WRITABLE != 0) && (want & pte::NO_EXECUTE != 0 || e & pte::NO_EXECUTE == 0)
    }

    /// The PTE of a user page, or 0.
    pub fn pte(&self, va: u64) -> u64 {
        let mut t = self.pml4;
        for level in (1..4).rev() {
            let e = read_entry(t, index(va, level));
            if e & pte::PRESENT == 0 {
                return 0;
            }
            if e & pte::HUGE != 0 {
                if level != 1 {
                    return 0;
                }
                // A 4 KiB view of the 2 MiB page.
                let base = e & pte::ADDR_MASK & !(abi::layout::HUGE_PAGE_SIZE - 1);
                let off = va & (abi::layout::HUGE_PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
                return (e & !pte::ADDR_MASK & !pte::HUGE) | (base + off);
            }
            t = e & pte::ADDR_MASK;
        }
        read_entry(t, index(va, 0))
    }

    fn needs_flush_before_reuse(&self, e: u64) -> bool {
        e & SW_STALE != 0 && (e & GEN_MASK) >> GEN_SHIFT == self.gen
    }

    /// Maps fresh zeroed frames at [va, va+len) with `prot` (none for PROT_NONE).
    pub fn map(&mut self, va: u64, len: u64, prot: u32) -> Result<(), Errno> {
        if prot == 0 {
            return Ok(());
        }
        for page in (va..va + len).step_by(PAGE_SIZE as usize) {
            // Inside a 2 MiB page that already grants the rights (brk growing
            // into the program image's last chunk): zero it, keep the large
            // page. Splitting it would make every later first touch of the
            // image a 4 KiB shadow fault (~30 us each here, against ~0.2 us).
            if let Some(h) = self.huge_entry(page).filter(|&h| Self::grants(h, prot)) {
                let base = h & pte::ADDR_MASK & !(abi::layout::HUGE_PAGE_SIZE - 1);
                zero_frame(base + (page & (abi::layout::HUGE_PAGE_SIZE - 1)));
                continue;
            }
            let (t, i) = self.slot(page, true)?.ok_or(Errno::ENOMEM)?;
            let e = read_entry(t, i);
            if self.needs_flush_before_reuse(e) {
                self.flush();
            }
            let f = if e & HAS_FRAME != 0 {
                // A page that has a frame keeps it, zeroed: its translation
                // (perhaps cached, perhaps as part of a 2 MiB page) stays right.
                let f = e & pte::ADDR_MASK;
                zero_frame(f);
                f
            } else {
                match self.alloc_frame() {
                    Ok(f) => f,
                    Err(err) => {
                        self.unmap(va, page - va);
                        return Err(err);
                    }
                }
            };
            write_entry(t, i, f | leaf_flags(prot));
        }
        Ok(())
    }

    fn release(&mut self, frame: u64) {
        write_entry(frame, 0, self.dirty.0);
        if self.dirty.0 == 0 {
            self.dirty.1 = frame;
        }
        self.dirty.0 = frame;
    }

    pub fn unmap(&mut self, va: u64, len: u64) {
        const HUGE: u64 = abi::layout::HUGE_PAGE_SIZE;
        let mut page = va;
        while page < va + len {
            // A whole 2 MiB page: its entries go stale one by one (the TLB
            // may hold them), but its RAM goes back whole, for the next
            // 2 MiB mapping, after the next flush.
            if page % HUGE == 0 && page + HUGE <= va + len {
                if let Some(h) = self.huge_entry(page).filter(|h| h & SW_ALIAS == 0) {
                    let base = h & pte::ADDR_MASK & !(HUGE - 1);
                    if let Ok(Some((t, _))) = self.slot(page, true) {
                        for j in 0..512 {
                            write_entry(t, j, SW_STALE | (self.gen << GEN_SHIFT));
                        }
                        if base >= HUGE {
                            self.dirty_huge.push(base);
                        }
                        page += HUGE;
                        continue;
                    }
                }
            }
            self.unmap_page(page);
            page += PAGE_SIZE;
        }
    }

    fn unmap_page(&mut self, page: u64) {
        // A 2 MiB page (the program image) is split first.
        let create = self.huge_entry(page).is_some();
        if let Ok(Some((t, i))) = self.slot(page, create) {
            let e = read_entry(t, i);
            if e & HAS_FRAME != 0 {
                // A segment's frame stays the segment's.
                if e & SW_ALIAS == 0 {
                    self.release(e & pte::ADDR_MASK);
                }
                write_entry(t, i, SW_STALE | (self.gen << GEN_SHIFT));
            }
        }
    }

    /// Maps fresh zeroed memory at [va, va+len) read-write: the whole,
    /// aligned 2 MiB blocks in it as 2 MiB pages where nothing is mapped
    /// yet (a program's image, loaded by execve: one shadow fault per block
    /// instead of 512), the rest as 4 KiB pages. A block grants every
    /// right, and lowering them later keeps it whole, as for the image the
    /// monitor loads.
    pub fn map_large(&mut self, va: u64, len: u64) -> Result<(), Errno> {
        const HUGE: u64 = abi::layout::HUGE_PAGE_SIZE;
        let rw = abi::linux::PROT_READ | PROT_WRITE;
        let mut page = va;
        while page < va + len {
            let all = abi::linux::PROT_READ | PROT_WRITE | PROT_EXEC;
            if page % HUGE == 0 && page + HUGE <= va + len && self.map_block(page, leaf_flags(all)) {
                page += HUGE;
                continue;
            }
            self.map(page, PAGE_SIZE, rw)?;
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// One 2 MiB page of zeroed RAM at `va` (2 MiB aligned) with leaf
    /// `flags`, if its directory slot is empty (or holds a table of only
    /// unmapped pages). False when it cannot: the caller maps 4 KiB pages.
    fn map_block(&mut self, va: u64, flags: u64) -> bool {
        let mut t = self.pml4;
        for level in (2..4).rev() {
            let i = index(va, level);
            let e = read_entry(t, i);
            if e & pte::PRESENT == 0 {
                let Ok(f) = self.alloc_table() else { return false };
                write_entry(t, i, f | pte::PRESENT | pte::WRITABLE | pte::USER | pte::SET_AD);
                t = f;
            } else if e & pte::HUGE != 0 {
                return false;
            } else {
                t = e & pte::ADDR_MASK;
            }
        }
        let i = index(va, 1);
        let e = read_entry(t, i);
        if e & pte::PRESENT != 0 && e & pte::HUGE == 0 {
            // A page table of nothing but unmapped pages (the program
            // execve replaces) gives way, once nothing cached reaches them.
            let pt = e & pte::ADDR_MASK;
            if (0..512).any(|j| read_entry(pt, j) & HAS_FRAME != 0) {
                return false;
            }
            if (0..512).any(|j| self.needs_flush_before_reuse(read_entry(pt, j))) {
                self.flush();
            }
            write_entry(t, i, 0);
            self.release(pt);
        } else if e != 0 {
            return false;
        }
        let Some((at, recycled)) = self.alloc_huge() else { return false };
        if recycled {
            // SAFETY: a whole 2 MiB block of guest RAM that nothing maps.
            unsafe { core::ptr::write_bytes(phys_to_virt(at) as *mut u8, 0, abi::layout::HUGE_PAGE_SIZE as usize) };
        }
        write_entry(t, i, at | flags | pte::HUGE);
        true
    }

    /// Frees the frames [from, to) at once (nothing maps them).
    fn free_frames_from(&mut self, from: u64, to: u64) {
        for f in (from..to).step_by(PAGE_SIZE as usize) {
            self.free_now(f);
        }
    }

    /// Changes rights. Lowering them is not flushed at once: cached
    /// translations may allow the old access until the next flush, and inside
    /// a 2 MiB page (the program image) the page keeps its wider rights. (A
    /// flush is an exit and resets the host's shadow page tables; glibc
    /// lowers RELRO at every start.)
    pub fn protect(&mut self, va: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.protect_pages(va, len, prot, true)
    }

    /// protect, leaving pages without frames without them (`fill` false:
    /// for memory whose frames come on first touch).
    pub fn protect_pages(&mut self, va: u64, len: u64, prot: u32, fill: bool) -> Result<(), Errno> {
        for page in (va..va + len).step_by(PAGE_SIZE as usize) {
            // Lowering rights inside a 2 MiB page (glibc's RELRO) keeps the
            // large page, for the reason given in map(); raising them splits it.
            if prot != 0 && self.huge_entry(page).is_some_and(|h| Self::grants(h, prot) && h & USER_HUGE == 0) {
                continue;
            }
            let (t, i) = self.slot(page, true)?.ok_or(Errno::ENOMEM)?;
            let e = read_entry(t, i);
            let frame = if e & HAS_FRAME != 0 {
                if e & SW_ZERO != 0 {
                    zero_frame(e & pte::ADDR_MASK);
                }
                e & pte::ADDR_MASK
            } else if prot == 0 || !fill {
                continue;
            } else {
                if self.needs_flush_before_reuse(e) {
                    self.flush();
                }
                self.alloc_frame()?
            };
            let alias = if e & HAS_FRAME != 0 { e & SW_ALIAS } else { 0 };
            let new = alias | if prot == 0 { frame | SW_NONE } else { frame | leaf_flags(prot) };
            write_entry(t, i, new);
        }
        Ok(())
    }

    /// Moves the frames of [old, old+len) to [new, new+len), which is unmapped.
    pub fn remap(&mut self, old: u64, new: u64, len: u64) -> Result<(), Errno> {
        for off in (0..len).step_by(PAGE_SIZE as usize) {
            let Some((ot, oi)) = self.slot(old + off, false)? else { continue };
            let e = read_entry(ot, oi);
            if e & HAS_FRAME == 0 {
                continue;
            }
            let (nt, ni) = self.slot(new + off, true)?.ok_or(Errno::ENOMEM)?;
            if self.needs_flush_before_reuse(read_entry(nt, ni)) {
                self.flush();
            }
            write_entry(nt, ni, e);
            // The old address must not reach the frame again: stale until flushed.
            write_entry(ot, oi, SW_STALE | (self.gen << GEN_SHIFT));
        }
        Ok(())
    }

    /// Zeroes the mapped frames of a range (MADV_DONTNEED). A large range
    /// is not zeroed now (8 MiB of a thread's stack would cost ~0.4 ms): its
    /// pages become not-present with their frames kept, one flush makes
    /// that take effect, and each page is zeroed when next touched.
    pub fn discard(&mut self, va: u64, len: u64) {
        let lazy = len / PAGE_SIZE >= LAZY_DISCARD_PAGES;
        let mut changed = false;
        for page in (va..va + len).step_by(PAGE_SIZE as usize) {
            if self.pte(page) & SW_ALIAS != 0 && self.pte(page) & HAS_FRAME != 0 {
                // Shared memory keeps its contents, as on Linux.
                continue;
            }
            if !lazy || self.huge_entry(page).is_some() {
                let e = self.pte(page);
                if e & (pte::PRESENT | SW_NONE) != 0 {
                    zero_frame(e & pte::ADDR_MASK);
                }
                continue;
            }
            let Ok(Some((t, i))) = self.slot(page, false) else { continue };
            let e = read_entry(t, i);
            if e & pte::PRESENT != 0 {
                write_entry(t, i, (e & !pte::PRESENT) | SW_ZERO);
                changed = true;
            } else if e & SW_NONE != 0 {
                zero_frame(e & pte::ADDR_MASK);
            }
        }
        if changed {
            self.flush();
        }
    }

    /// Memory at [va, va+len) will get its frames on first touch: no stale
    /// translation may remain there (a page unmapped since the last flush,
    /// whose old frame a cached translation would still reach, so that the
    /// first touch would not fault). Flushes if one is found.
    pub fn forget_stale(&mut self, va: u64, len: u64) {
        let mut page = va;
        let end = va.saturating_add(len);
        while page < end {
            match self.slot(page, false) {
                Ok(Some((t, i))) => {
                    if self.needs_flush_before_reuse(read_entry(t, i)) {
                        self.flush();
                        return;
                    }
                    page += PAGE_SIZE;
                }
                // No page table here: skip to the next 2 MiB.
                _ => page = (page | (abi::layout::HUGE_PAGE_SIZE - 1)) + 1,
            }
        }
    }

    /// Maps a whole 2 MiB page of zeroed memory at `va` (2 MiB aligned)
    /// with `prot` (memory whose frames come on first touch), if nothing is
    /// mapped in it yet. One shadow fault then covers it, where 4 KiB pages
    /// cost one each (~5 us). False when it cannot: the caller maps 4 KiB pages.
    pub fn map_huge(&mut self, va: u64, prot: u32) -> bool {
        prot != 0 && va % abi::layout::HUGE_PAGE_SIZE == 0 && self.map_block(va, leaf_flags(prot) | USER_HUGE)
    }

    /// Maps frames someone else owns at `va` (see SW_ALIAS).
    pub fn map_frames(&mut self, va: u64, frames: &[u64], prot: u32) -> Result<(), Errno> {
        for (k, &f) in frames.iter().enumerate() {
            let page = va + k as u64 * PAGE_SIZE;
            let (t, i) = self.slot(page, true)?.ok_or(Errno::ENOMEM)?;
            let e = read_entry(t, i);
            if self.needs_flush_before_reuse(e) {
                self.flush();
            }
            if e & HAS_FRAME != 0 && e & SW_ALIAS == 0 {
                self.release(e & pte::ADDR_MASK);
            }
            write_entry(t, i, SW_ALIAS | f | leaf_flags(prot));
        }
        Ok(())
    }

    /// Frees frames that map_frames mapped, once no entry maps them (the
    /// next flush makes them reusable).
    pub fn free_frames(&mut self, frames: &[u64]) {
        for &f in frames {
            self.release(f);
        }
    }

    /// A fault at `va` on a discarded page: zero its frame and map it again.
    pub fn zero_fill(&mut self, va: u64) -> bool {
        if va >= abi::layout::USER_END {
            return false;
        }
        let Ok(Some((t, i))) = self.slot(va, false) else { return false };
        let e = read_entry(t, i);
        if e & SW_ZERO == 0 {
            return false;
        }
        zero_frame(e & pte::ADDR_MASK);
        // Not-present entries are not cached: no flush is needed.
        write_entry(t, i, (e & !SW_ZERO) | pte::PRESENT);
        true
    }

    /// The direct-map address of user byte `va` if the page allows the access.
    pub fn translate(&self, va: u64, write: bool) -> Option<u64> {
        if va >= abi::layout::USER_END {
            return None;
        }
        let e = self.pte(va);
        if e & pte::PRESENT == 0 || e & pte::USER == 0 || (write && e & pte::WRITABLE == 0) {
            return None;
        }
        Some(phys_to_virt(e & pte::ADDR_MASK) + (va & (PAGE_SIZE - 1)))
    }

    /// The guest-physical address of user byte `va` and how many bytes
    /// from it (at most `max`) are contiguous in guest RAM and allow the access.
    pub fn phys_run(&self, va: u64, max: u64, write: bool) -> Option<(u64, u64)> {
        let start = self.translate(va, write)? - abi::layout::DIRECT_MAP;
        let mut run = PAGE_SIZE - (va & (PAGE_SIZE - 1));
        while run < max {
            match self.translate(va + run, write) {
                Some(v) if v - abi::layout::DIRECT_MAP == start + run => run += PAGE_SIZE,
                _ => break,
            }
        }
        Some((start, run.min(max)))
    }

    /// Physical frames handed out so far (bytes), for diagnostics.
    pub fn used(&self) -> u64 {
        self.next
    }
}

/// Address spaces: one page-table root per process. The kernel half (PML4
/// slots 256..512) is the same table in all; the user half is each one's.
impl Memory {
    /// The running address space's root.
    pub fn space(&self) -> u64 {
        self.pml4
    }

    /// A new address space. Its kernel half is the running one's; its user
    /// half is a copy of the running one's (`copy`: fork, every page with a
    /// frame of its own), or holds only what every program is given: the
    /// read-only pages of chunk 0 (trampolines, vDSO), which all share.
    pub fn new_space(&mut self, copy: bool) -> Result<u64, Errno> {
        let root = self.alloc_table()?;
        for i in 256..512 {
            write_entry(root, i, read_entry(self.pml4, i));
        }
        for i in 0..256 {
            let e = read_entry(self.pml4, i);
            if e & pte::PRESENT == 0 {
                continue;
            }
            match self.copy_table(e & pte::ADDR_MASK, 2, copy) {
                Ok(Some(t)) => write_entry(root, i, t | (e & !pte::ADDR_MASK)),
                Ok(None) => {}
                Err(err) => {
                    self.free_space(root);
                    return Err(err);
                }
            }
        }
        Ok(root)
    }

    /// A copy of the table `t` at `level` (0: page table), or None if
    /// nothing in it is carried over.
    fn copy_table(&mut self, t: u64, level: u32, copy: bool) -> Result<Option<u64>, Errno> {
        let mut new = 0;
        for i in 0..512 {
            let e = read_entry(t, i);
            let out = if level == 0 {
                match self.copy_leaf(e, copy)? {
                    Some(v) => v,
                    None => continue,
                }
            } else if e & pte::PRESENT == 0 {
                continue;
            } else if e & pte::HUGE != 0 {
                if !copy || level != 1 {
                    continue;
                }
                match self.copy_huge(e)? {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                match self.copy_table(e & pte::ADDR_MASK, level - 1, copy)? {
                    Some(n) => n | (e & !pte::ADDR_MASK),
                    None => continue,
                }
            };
            if new == 0 {
                new = self.alloc_table()?;
            }
            write_entry(new, i, out);
        }
        Ok((new != 0).then_some(new))
    }

    /// The entry a new space gets for page entry `e`.
    fn copy_leaf(&mut self, e: u64, copy: bool) -> Result<Option<u64>, Errno> {
        if e & HAS_FRAME == 0 {
            return Ok(None);
        }
        let frame = e & pte::ADDR_MASK;
        if frame < abi::layout::HUGE_PAGE_SIZE && e & pte::WRITABLE == 0 {
            // A trampoline or the vDSO: the same frame, which no space frees.
            return Ok(Some(e | SW_ALIAS));
        }
        if !copy {
            return Ok(None);
        }
        if e & SW_ALIAS != 0 {
            // Shared memory stays shared.
            return Ok(Some(e));
        }
        let f = self.alloc_frame()?;
        if e & SW_ZERO == 0 {
            copy_frames(f, frame, PAGE_SIZE);
        }
        Ok(Some(f | (e & !pte::ADDR_MASK)))
    }

    /// The entry a new space gets for 2 MiB page entry `e`: a 2 MiB copy,
    /// or a page table of 4 KiB copies when no 2 MiB of RAM is free.
    fn copy_huge(&mut self, e: u64) -> Result<Option<u64>, Errno> {
        const HUGE: u64 = abi::layout::HUGE_PAGE_SIZE;
        let base = e & pte::ADDR_MASK & !(HUGE - 1);
        if let Some((at, _)) = self.alloc_huge() {
            copy_frames(at, base, HUGE);
            return Ok(Some(at | (e & !pte::ADDR_MASK)));
        }
        let pt = self.alloc_table()?;
        let flags = e & !pte::ADDR_MASK & !pte::HUGE & !USER_HUGE;
        for j in 0..512u64 {
            let f = self.alloc_frame()?;
            copy_frames(f, base + j * PAGE_SIZE, PAGE_SIZE);
            write_entry(pt, j as usize, f | flags);
        }
        Ok(Some(pt | pte::PRESENT | pte::WRITABLE | pte::USER | pte::SET_AD))
    }

    /// 2 MiB of aligned RAM: one a dead space gave back (true: it holds
    /// old bytes), or never-used RAM (zero from the host).
    fn alloc_huge(&mut self) -> Option<(u64, bool)> {
        const HUGE: u64 = abi::layout::HUGE_PAGE_SIZE;
        if self.free_huge.is_empty() && !self.dirty_huge.is_empty() {
            // Blocks unmapped whole wait only for a flush: cheaper than fresh RAM.
            self.flush();
        }
        if let Some(at) = self.free_huge.pop() {
            return Some((at, true));
        }
        let at = (self.next + HUGE - 1) & !(HUGE - 1);
        let end = at.checked_add(HUGE).filter(|&e| e <= self.end)?;
        if end > self.usable {
            self.usable = crate::hypercall::grow_memory(end);
            if end > self.usable {
                return None;
            }
        }
        for f in (self.next..at).step_by(PAGE_SIZE as usize) {
            write_entry(f, 0, self.free);
            self.free = f;
        }
        self.next = end;
        Some((at, false))
    }

    /// Frees a space that is not running (its translations went with the
    /// CR3 load that left it): its frames, 2 MiB pages and tables.
    pub fn free_space(&mut self, root: u64) {
        if root == self.pml4 {
            return;
        }
        for i in 0..256 {
            let e = read_entry(root, i);
            if e & pte::PRESENT != 0 {
                self.free_table(e & pte::ADDR_MASK, 2);
            }
        }
        self.free_tables.push(root);
    }

    fn free_table(&mut self, t: u64, level: u32) {
        self.free_table_entries(t, level);
        // Kept for page tables: KVM may still shadow it (write-protected,
        // every write emulated), which a page table pays for anyway.
        self.free_tables.push(t);
    }

    fn free_table_entries(&mut self, t: u64, level: u32) {
        for i in 0..512 {
            let e = read_entry(t, i);
            if level == 0 {
                let f = e & pte::ADDR_MASK;
                if e & HAS_FRAME != 0 && e & SW_ALIAS == 0 && f >= abi::layout::HUGE_PAGE_SIZE {
                    self.free_now(f);
                }
            } else if e & pte::PRESENT == 0 {
            } else if e & pte::HUGE != 0 {
                let base = e & pte::ADDR_MASK & !(abi::layout::HUGE_PAGE_SIZE - 1);
                if base >= abi::layout::HUGE_PAGE_SIZE {
                    self.free_huge.push(base);
                }
            } else {
                self.free_table(e & pte::ADDR_MASK, level - 1);
            }
        }
    }

    /// A frame no translation reaches: free at once.
    fn free_now(&mut self, f: u64) {
        write_entry(f, 0, self.free);
        self.free = f;
    }

    /// Runs address space `root` from now on (a CR3 load: the monitor's, as
    /// CPL3 cannot, and this KVM gives the kernel no real CPL0).
    pub fn switch_space(&mut self, root: u64) {
        if root != self.pml4 {
            self.pml4 = root;
            crate::hypercall::switch_space(root);
        }
    }
}

fn copy_frames(dst: u64, src: u64, len: u64) {
    // SAFETY: both are whole frames of guest RAM in the direct map; dst is
    // freshly allocated and does not overlap src.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(src) as *const u8, phys_to_virt(dst) as *mut u8, len as usize) }
}
