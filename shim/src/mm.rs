//! The program's address space: which ranges are mapped, with what
//! protection. Page tables are the platform's business; this module decides
//! where things go and keeps the bookkeeping consistent.

use abi::boot::UserRegion;
use abi::layout::{page_up, PAGE_SIZE, USER_END, USER_MMAP_TOP};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Trampoline,
    Image,
    Stack,
    Heap,
    Anon,
    /// Anonymous memory whose frames come on first touch (large
    /// MAP_NORESERVE mappings: a reservation, not a commitment).
    Lazy,
    /// The vDSO; like the trampolines, it stays across execve.
    Vdso,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub prot: u32,
    pub kind: Kind,
}

/// The frames of a MAP_SHARED mapping (the platform's, mapped as aliases).
#[derive(Debug)]
pub struct SharedFrames(pub Vec<u64>);

#[derive(Debug, Clone, Default)]
pub struct Mm {
    /// start -> area; areas never overlap.
    pub vmas: BTreeMap<u64, Vma>,
    pub brk_start: u64,
    pub brk: u64,
    /// MAP_SHARED file mappings: start -> (end, file, file offset). Their
    /// pages are written back on msync, munmap, exit and death.
    pub shared: BTreeMap<u64, (u64, alloc::rc::Rc<crate::fd::OpenFile>, u64)>,
    /// MAP_SHARED mappings' frames, which fork shares instead of copying:
    /// start -> (end, the frames, which the last process holding them frees).
    pub frames: BTreeMap<u64, (u64, alloc::rc::Rc<SharedFrames>)>,
    /// Ranges unmapped since the platform last flushed its cached
    /// translations (at generation `cooling_gen`): placing a new mapping
    /// there would cost a flush (an exit), so mmap places it elsewhere while
    /// there is room (musl frees and maps a thread's stack at every thread).
    pub cooling: Vec<(u64, u64)>,
    pub cooling_gen: u64,
}

/// Cooling ranges kept at most; older ones may be reused (and flushed).
const MAX_COOLING: usize = 256;

impl Mm {
    pub fn new(regions: &[UserRegion], brk_start: u64) -> Mm {
        let mut vmas = BTreeMap::new();
        for r in regions {
            let kind = match r.kind {
                abi::boot::REGION_STACK => Kind::Stack,
                abi::boot::REGION_TRAMPOLINE => Kind::Trampoline,
                abi::boot::REGION_VDSO => Kind::Vdso,
                _ => Kind::Image,
            };
            vmas.insert(r.start, Vma { end: r.end, prot: r.prot, kind });
        }
        Mm { vmas, brk_start, brk: brk_start, shared: BTreeMap::new(), frames: BTreeMap::new(), cooling: Vec::new(), cooling_gen: 0 }
    }

    /// [start, end) was unmapped; `gen` is the platform's flush count.
    pub fn cool(&mut self, start: u64, end: u64, gen: u64) {
        self.forget_cooled(gen);
        if self.cooling.len() >= MAX_COOLING {
            self.cooling.remove(0);
        }
        self.cooling.push((start, end));
    }

    /// After a flush nothing is stale any more.
    pub fn forget_cooled(&mut self, gen: u64) {
        if gen != self.cooling_gen {
            self.cooling.clear();
            self.cooling_gen = gen;
        }
    }

    /// [`Mm::find_free`], avoiding the cooling ranges while another gap has room.
    pub fn find_free_cool(&mut self, len: u64, gen: u64) -> Option<u64> {
        self.forget_cooled(gen);
        if self.cooling.is_empty() {
            return self.find_free(len);
        }
        let mut busy: Vec<(u64, u64)> = self.vmas.range(..USER_MMAP_TOP).map(|(s, v)| (*s, v.end)).chain(self.cooling.iter().copied()).collect();
        busy.sort_unstable();
        let mut top = USER_MMAP_TOP;
        for &(s, e) in busy.iter().rev() {
            if e <= top && top - e >= len {
                return Some(top - len);
            }
            top = top.min(s);
        }
        (top >= len + 0x10000).then(|| top - len).or_else(|| self.find_free(len))
    }

    /// The areas overlapping [start, end).
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, Vma)> + '_ {
        let first = self.vmas.range(..start).next_back().filter(|(_, v)| v.end > start).map(|(s, v)| (*s, *v));
        first.into_iter().chain(self.vmas.range(start..end).map(|(s, v)| (*s, *v)))
    }

    pub fn is_free(&self, start: u64, end: u64) -> bool {
        self.overlapping(start, end).next().is_none()
    }

    /// Bytes mapped in [start, end) (all of the address space: `mapped(0, u64::MAX)`).
    pub fn mapped(&self, start: u64, end: u64) -> u64 {
        self.overlapping(start, end).map(|(s, v)| v.end.min(end) - s.max(start)).sum()
    }

    /// Whether [start, end) is covered by areas with no hole.
    pub fn is_covered(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for (s, v) in self.overlapping(start, end) {
            if s > at {
                return false;
            }
            at = at.max(v.end);
        }
        at >= end
    }

    /// Removes [start, end) from the bookkeeping, splitting areas at the
    /// edges; returns the removed pieces.
    pub fn carve(&mut self, start: u64, end: u64) -> Vec<(u64, Vma)> {
        let hits: Vec<(u64, Vma)> = self.overlapping(start, end).collect();
        let mut removed = Vec::new();
        for (s, v) in hits {
            self.vmas.remove(&s);
            if s < start {
                self.vmas.insert(s, Vma { end: start, ..v });
            }
            if v.end > end {
                self.vmas.insert(end, v);
            }
            removed.push((s.max(start), Vma { end: v.end.min(end), ..v }));
        }
        removed
    }

    pub fn insert(&mut self, start: u64, vma: Vma) {
        debug_assert!(self.is_free(start, vma.end));
        self.vmas.insert(start, vma);
    }

    /// The highest free gap of `len` bytes below the mmap top.
    pub fn find_free(&self, len: u64) -> Option<u64> {
        let mut top = USER_MMAP_TOP;
        for (s, v) in self.vmas.range(..USER_MMAP_TOP).rev() {
            if v.end <= top && top - v.end >= len {
                return Some(top - len);
            }
            top = top.min(*s);
        }
        // Below every area, above the first 64 KiB (like vm.mmap_min_addr).
        (top >= len + 0x10000).then(|| top - len)
    }

    /// Whether a user range is well formed.
    pub fn valid_range(start: u64, len: u64) -> bool {
        start.is_multiple_of(PAGE_SIZE) && len > 0 && page_up(len) >= len && start.checked_add(page_up(len)).is_some_and(|e| e <= USER_END)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(end: u64) -> Vma {
        Vma { end, prot: 3, kind: Kind::Anon }
    }

    #[test]
    fn carve_splits_edges() {
        let mut mm = Mm::new(&[], 0x10000);
        mm.insert(0x1000, anon(0x5000));
        let removed = mm.carve(0x2000, 0x3000);
        assert_eq!(removed, [(0x2000, anon(0x3000))]);
        assert_eq!(mm.vmas.get(&0x1000), Some(&anon(0x2000)));
        assert_eq!(mm.vmas.get(&0x3000), Some(&anon(0x5000)));
        assert!(mm.is_free(0x2000, 0x3000));
        assert!(!mm.is_covered(0x1000, 0x5000));
        assert!(mm.is_covered(0x3000, 0x5000));
    }

    #[test]
    fn find_free_goes_down_from_the_top() {
        let mut mm = Mm::new(&[], 0x10000);
        let a = mm.find_free(0x3000).unwrap();
        assert_eq!(a + 0x3000, USER_MMAP_TOP);
        mm.insert(a, anon(a + 0x3000));
        let b = mm.find_free(0x1000).unwrap();
        assert_eq!(b + 0x1000, a);
    }
}
