//! brk and anonymous mmap, munmap, mprotect, mremap, madvise.

use crate::fd::{FileKind, Object, O_ACCMODE, O_RDWR, O_WRONLY};
use crate::mm::{Kind, Mm, Vma};
use crate::sys_fs;
use crate::{Platform, Process, SysResult};
use abi::layout::{page_up, PAGE_SIZE, USER_END};
use crate::process::{RLIMIT_AS, RLIMIT_DATA, RLIM_INFINITY};
use abi::linux::{Errno, PROT_EXEC, PROT_READ, PROT_WRITE};

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
/// Anonymous mappings this large get their frames on first touch: a page
/// fault each 2 MiB (an exit for the faulting address) instead of frames
/// for all of it at once, zeroed at once, which guest RAM may not even
/// hold. Go's runtime maps 32 MiB at start and touches little of it (that
/// cost ~10 ms a start); glibc's 8 MiB thread stacks are touched at the top.
const LAZY_MIN: u64 = 4 << 20;
/// MAP_POPULATE and MAP_LOCKED: frames at once, as asked.
const MAP_POPULATE: u64 = 0x8000;
const MAP_LOCKED: u64 = 0x2000;
const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MREMAP_DONTUNMAP: u64 = 4;
const MADV_DONTNEED: u64 = 4;
const MADV_FREE: u64 = 8;
const ALL_PROT: u64 = (PROT_READ | PROT_WRITE | PROT_EXEC) as u64;

/// Bytes of private writable memory outside the stack (what RLIMIT_DATA
/// limits, as Linux's data_vm), the heap included.
fn data_vm(mm: &Mm) -> u64 {
    mm.vmas
        .iter()
        .filter(|(s, v)| matches!(v.kind, Kind::Heap | Kind::Anon | Kind::Lazy) && v.prot & PROT_WRITE != 0 && !mm.shared.contains_key(s))
        .map(|(s, v)| v.end - s)
        .sum()
}

/// Whether `more` bytes of address space (`data` of them private and
/// writable) fit under RLIMIT_AS and RLIMIT_DATA. Unlimited (the default)
/// costs no walk of the areas.
fn within_limits(proc: &Process, more: u64, data: u64) -> bool {
    let lim = |r: usize| proc.rlimits[r].rlim_cur;
    let as_ok = lim(RLIMIT_AS) == RLIM_INFINITY || proc.mm.mapped(0, u64::MAX).saturating_add(more) <= lim(RLIMIT_AS);
    let data_ok = data == 0 || lim(RLIMIT_DATA) == RLIM_INFINITY || data_vm(&proc.mm).saturating_add(data) <= lim(RLIMIT_DATA);
    as_ok && data_ok
}

pub fn brk<P: Platform>(proc: &mut Process, p: &mut P, addr: u64) -> u64 {
    if addr < proc.mm.brk_start || addr >= USER_END {
        return proc.mm.brk;
    }
    let (old_end, new_end) = (page_up(proc.mm.brk), page_up(addr));
    if new_end > old_end && !within_limits(proc, new_end - old_end, new_end - old_end) {
        return proc.mm.brk;
    }
    let mm = &mut proc.mm;
    if new_end > old_end {
        if !mm.is_free(old_end, new_end) || p.map(old_end, new_end - old_end, PROT_READ | PROT_WRITE).is_err() {
            return mm.brk;
        }
        extend_heap(mm, old_end, new_end);
    } else if new_end < old_end {
        mm.carve(new_end, old_end);
        p.unmap(new_end, old_end - new_end);
    }
    mm.brk = addr;
    addr
}

fn extend_heap(mm: &mut Mm, old_end: u64, new_end: u64) {
    let prev = mm.vmas.range(..old_end).next_back().map(|(s, v)| (*s, *v));
    match prev {
        Some((s, v)) if v.kind == Kind::Heap && v.end == old_end => {
            mm.vmas.insert(s, Vma { end: new_end, ..v });
        }
        _ => mm.insert(old_end, Vma { end: new_end, prot: PROT_READ | PROT_WRITE, kind: Kind::Heap }),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn mmap<P: Platform>(proc: &mut Process, p: &mut P, addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> SysResult {
    if len == 0 || prot & !ALL_PROT != 0 {
        return Err(Errno::EINVAL);
    }
    match flags & MAP_TYPE {
        MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    let len = page_up(len);
    if len == 0 || len >= USER_END {
        return Err(Errno::ENOMEM);
    }
    if !off.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let file = if flags & MAP_ANONYMOUS == 0 {
        let e = proc.fds.get(fd)?.clone();
        let Object::File(f) = e.object else { return Err(Errno::ENODEV) };
        let mappable = match &f.kind {
            FileKind::Host { seekable, .. } => *seekable,
            FileKind::Mem(ino) => matches!(proc.vfs.nodes[*ino].kind, crate::vfs::NodeKind::File(_)),
            _ => false,
        };
        if !mappable {
            return Err(Errno::ENODEV);
        }
        let acc = e.status & O_ACCMODE;
        if acc == O_WRONLY || (flags & MAP_TYPE != MAP_PRIVATE && prot & PROT_WRITE as u64 != 0 && acc != O_RDWR) {
            return Err(Errno::EACCES);
        }
        Some(f)
    } else {
        None
    };
    // Linux checks the limits before it unmaps anything MAP_FIXED replaces,
    // counting only what the mapping adds.
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let replaced = if fixed && addr.checked_add(len).is_some() { proc.mm.mapped(addr, addr + len) } else { 0 };
    let private_writable = flags & MAP_TYPE == MAP_PRIVATE && prot & PROT_WRITE as u64 != 0;
    if !within_limits(proc, len - replaced, if private_writable { len - replaced } else { 0 }) {
        return Err(Errno::ENOMEM);
    }
    let mm = &mut proc.mm;
    let start = if fixed {
        if !addr.is_multiple_of(PAGE_SIZE) || addr.checked_add(len).is_none_or(|e| e > USER_END) {
            return Err(Errno::EINVAL);
        }
        if !mm.is_free(addr, addr + len) {
            if flags & MAP_FIXED_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            unmap_range(proc, p, addr, addr + len);
        }
        addr
    } else {
        let hint = addr & !(PAGE_SIZE - 1);
        if hint >= 0x10000 && hint.checked_add(len).is_some_and(|e| e <= USER_END) && mm.is_free(hint, hint + len) {
            hint
        } else {
            mm.find_free_cool(len, p.tlb_generation()).ok_or(Errno::ENOMEM)?
        }
    };
    let mm = &mut proc.mm;
    if flags & MAP_TYPE != MAP_PRIVATE {
        // Frames of its own, which fork shares: every process that
        // inherits the mapping sees the others' writes at once. A file's
        // pages that another live mapping holds are those same frames.
        let id = match &file {
            Some(f) => Some(file_id(proc, p, f)?),
            None => None,
        };
        let known = id.and_then(|id| {
            proc.world.file_frames.iter().find_map(|(fid, at, w)| {
                let f = w.upgrade()?;
                let covers = *fid == id && *at <= off && off + len <= at + f.0.len() as u64 * PAGE_SIZE;
                covers.then(|| (f.clone(), ((off - at) / PAGE_SIZE) as usize))
            })
        });
        let (frames, first, fresh) = match known {
            Some((f, first)) => (f, first, false),
            None => (alloc::rc::Rc::new(crate::mm::SharedFrames(p.alloc_frames(len / PAGE_SIZE)?)), 0, true),
        };
        let n = (len / PAGE_SIZE) as usize;
        p.map_frames(start, &frames.0[first..first + n], (PROT_READ | PROT_WRITE) as u32)?;
        let mm = &mut proc.mm;
        mm.frames.insert(start, (start + len, frames.clone()));
        mm.insert(start, Vma { end: start + len, prot: prot as u32, kind: Kind::Anon });
        if let Some(file) = file {
            if fresh {
                if let Err(e) = sys_fs::read_into_map(proc, p, &file, off, start, len) {
                    unmap_range(proc, p, start, start + len);
                    return Err(e);
                }
                let w = &mut proc.world.file_frames;
                w.retain(|(_, _, f)| f.strong_count() > 0);
                w.push((id.unwrap_or_default(), off, alloc::rc::Rc::downgrade(&frames)));
            }
            proc.mm.shared.insert(start, (start + len, file, off));
        }
        p.protect(start, len, prot as u32)?;
        return Ok(start);
    }
    let Some(file) = file else {
        if flags & (MAP_POPULATE | MAP_LOCKED) == 0 && len >= LAZY_MIN {
            p.reserve_lazy(start, len);
            mm.insert(start, Vma { end: start + len, prot: prot as u32, kind: Kind::Lazy });
            return Ok(start);
        }
        p.map(start, len, prot as u32)?;
        mm.insert(start, Vma { end: start + len, prot: prot as u32, kind: Kind::Anon });
        return Ok(start);
    };
    // A private file mapping is a copy of the file's bytes (MAP_SHARED
    // ones, above, go back to the file on msync, munmap and exit).
    p.map(start, len, PROT_READ | PROT_WRITE)?;
    if let Err(e) = sys_fs::read_into_map(proc, p, &file, off, start, len) {
        p.unmap(start, len);
        return Err(e);
    }
    p.protect(start, len, prot as u32)?;
    proc.mm.insert(start, Vma { end: start + len, prot: prot as u32, kind: Kind::Anon });
    Ok(start)
}

/// What identifies a file for sharing its mapped pages: (share or
/// u32::MAX for the in-memory tree, device, inode).
pub type FileId = (u32, u64, u64);

fn file_id<P: Platform>(proc: &Process, p: &mut P, f: &crate::fd::OpenFile) -> Result<FileId, Errno> {
    Ok(match f.kind {
        FileKind::Mem(ino) => (u32::MAX, 0, ino as u64),
        FileKind::Host { share, .. } => {
            let st = sys_fs::fstat_file(proc, p, f)?;
            (share, st.st_dev, st.st_ino)
        }
        _ => (u32::MAX - 1, 0, 0),
    })
}

/// Writes the MAP_SHARED pages in [start, end) back to their files.
pub fn write_back<P: Platform>(proc: &mut Process, p: &mut P, start: u64, end: u64) {
    let hits: alloc::vec::Vec<_> = proc
        .mm
        .shared
        .iter()
        .filter(|(s, (e, _, _))| **s < end && *e > start)
        .map(|(s, (e, f, off))| (*s, *e, f.clone(), *off))
        .collect();
    for (s, e, f, off) in hits {
        let (lo, hi) = (s.max(start), e.min(end));
        let _ = sys_fs::write_from_map(proc, p, &f, off + (lo - s), lo, hi - lo);
    }
}

/// Every MAP_SHARED page back to its file: before the program ends, however it ends.
pub fn write_back_all<P: Platform>(proc: &mut Process, p: &mut P) {
    write_back(proc, p, 0, USER_END);
}

/// Forgets the MAP_SHARED mappings in [start, end) (after writing them
/// back); a file neither mapped nor open any more is closed.
fn forget_shared<P: Platform>(proc: &mut Process, p: &mut P, start: u64, end: u64) {
    let hits: alloc::vec::Vec<u64> = proc.mm.shared.iter().filter(|(s, (e, _, _))| **s < end && *e > start).map(|(s, _)| *s).collect();
    for s in hits {
        if let Some((e, f, off)) = proc.mm.shared.remove(&s) {
            if s < start {
                proc.mm.shared.insert(s, (start, f.clone(), off));
            }
            if e > end {
                proc.mm.shared.insert(end, (e, f, off + (end - s)));
            } else {
                sys_fs::release_file(p, f);
            }
        }
    }
}

/// Unmaps [start, end), its MAP_SHARED pages written back to their files first.
fn unmap_range<P: Platform>(proc: &mut Process, p: &mut P, start: u64, end: u64) {
    if !proc.ipc.attaches.is_empty() {
        crate::sys_ipc::unmapped(proc, p, start, end);
    }
    write_back(proc, p, start, end);
    forget_shared(proc, p, start, end);
    proc.mm.carve(start, end);
    p.unmap(start, end - start);
    forget_frames(proc, p, start, end);
    proc.mm.cool(start, end, p.tlb_generation());
}

/// Before the whole address space goes (execve, the end): every
/// MAP_SHARED page back to its file, the files closed that nothing else
/// holds, and the shared frames freed that no other process maps.
pub fn drop_shared<P: Platform>(proc: &mut Process, p: &mut P) {
    write_back_all(proc, p);
    forget_shared(proc, p, 0, USER_END);
    forget_frames(proc, p, 0, USER_END);
}

/// The MAP_SHARED frames of mappings wholly inside [start, end) are no
/// longer this process's: the last process to let them go frees them (a
/// part unmapped keeps the whole until then).
fn forget_frames<P: Platform>(proc: &mut Process, p: &mut P, start: u64, end: u64) {
    let gone: alloc::vec::Vec<u64> = proc.mm.frames.range(start..end).filter(|(_, (e, _))| *e <= end).map(|(s, _)| *s).collect();
    for s in gone {
        if let Some((_, f)) = proc.mm.frames.remove(&s) {
            if let Ok(f) = alloc::rc::Rc::try_unwrap(f) {
                p.free_frames(&f.0);
            }
        }
    }
}

pub fn munmap<P: Platform>(proc: &mut Process, p: &mut P, addr: u64, len: u64) -> SysResult {
    if !Mm::valid_range(addr, len) {
        return Err(Errno::EINVAL);
    }
    unmap_range(proc, p, addr, addr + page_up(len));
    Ok(0)
}

pub fn msync<P: Platform>(proc: &mut Process, p: &mut P, addr: u64, len: u64, flags: u64) -> SysResult {
    const MS_ASYNC: u64 = 1;
    const MS_INVALIDATE: u64 = 2;
    const MS_SYNC: u64 = 4;
    if !addr.is_multiple_of(PAGE_SIZE) || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC) {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(page_up(len)).ok_or(Errno::ENOMEM)?;
    if !proc.mm.is_covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    write_back(proc, p, addr, end);
    Ok(0)
}

pub fn mprotect<P: Platform>(proc: &mut Process, p: &mut P, addr: u64, len: u64, prot: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE_SIZE) || prot & !(ALL_PROT | 0x0100_0000 | 0x0200_0000) != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len);
    if len == 0 {
        return Ok(0);
    }
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    if !proc.mm.is_covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    let prot = (prot & ALL_PROT) as u32;
    for (s, v) in proc.mm.carve(addr, end) {
        if v.kind == Kind::Lazy {
            p.protect_mapped(s, v.end - s, prot)?;
        } else {
            p.protect(s, v.end - s, prot)?;
        }
        proc.mm.insert(s, Vma { prot, ..v });
    }
    Ok(0)
}

/// A page fault at `addr` in memory whose frames come on first touch: maps
/// the fault's 2 MiB block as one 2 MiB page when the area holds all of it,
/// else the 64 KiB around the fault (what of it is in the area and not mapped yet).
/// False if `addr` is not in such memory; guest RAM exhausted ends the
/// program (see [`out_of_memory`]).
pub fn fault_in<P: Platform>(proc: &mut Process, p: &mut P, addr: u64) -> bool {
    const BLOCK: u64 = 2 << 20;
    let Some((start, v)) = proc.mm.vmas.range(..=addr).next_back().map(|(s, v)| (*s, *v)) else { return false };
    if v.kind != Kind::Lazy || addr >= v.end || v.prot == 0 {
        return false;
    }
    let lo = (addr & !(BLOCK - 1)).max(start);
    let hi = ((addr & !(BLOCK - 1)) + BLOCK).min(v.end);
    // A whole block of the area: one 2 MiB page, if the machine has one.
    if hi - lo == BLOCK && lo % BLOCK == 0 && p.map_huge(lo, v.prot) {
        return true;
    }
    // Else 64 KiB around the fault: a thread's stack is touched at one end
    // (mapping, and later discarding, all 2 MiB of 4 KiB pages cost ~0.5 ms).
    const CHUNK: u64 = 64 << 10;
    let lo = (addr & !(CHUNK - 1)).max(lo);
    let hi = ((addr & !(CHUNK - 1)) + CHUNK).min(hi);
    let mut page = lo;
    while page < hi {
        if !p.is_mapped(page) && p.map(page, PAGE_SIZE, v.prot).is_err() {
            out_of_memory(proc, p);
        }
        page += PAGE_SIZE;
    }
    true
}

pub fn mremap<P: Platform>(proc: &mut Process, p: &mut P, old: u64, old_len: u64, new_len: u64, flags: u64, new_addr: u64) -> SysResult {
    if !old.is_multiple_of(PAGE_SIZE) || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 || flags & MREMAP_DONTUNMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let (old_len, new_len) = (page_up(old_len), page_up(new_len));
    if new_len == 0 || old_len == 0 {
        return Err(Errno::EINVAL);
    }
    let mm = &mut proc.mm;
    if !mm.is_covered(old, old + old_len) {
        return Err(Errno::EFAULT);
    }
    let first = mm.overlapping(old, old + 1).next().ok_or(Errno::EFAULT)?.1;
    if new_len > old_len {
        let grow = new_len - old_len;
        if !within_limits(proc, grow, if first.prot & PROT_WRITE != 0 { grow } else { 0 }) {
            return Err(Errno::ENOMEM);
        }
    }
    let mm = &mut proc.mm;
    if flags & MREMAP_FIXED == 0 {
        if new_len <= old_len {
            if new_len < old_len {
                mm.carve(old + new_len, old + old_len);
                p.unmap(old + new_len, old_len - new_len);
            }
            return Ok(old);
        }
        // Grow in place when the space after it is free.
        let (tail, tail_len) = (old + old_len, new_len - old_len);
        if tail.checked_add(tail_len).is_some_and(|e| e <= USER_END) && mm.is_free(tail, tail + tail_len) {
            p.map(tail, tail_len, first.prot)?;
            mm.insert(tail, Vma { end: tail + tail_len, ..first });
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
    }
    let dest = if flags & MREMAP_FIXED != 0 {
        if !new_addr.is_multiple_of(PAGE_SIZE) || new_addr.checked_add(new_len).is_none_or(|e| e > USER_END) {
            return Err(Errno::EINVAL);
        }
        if new_addr < old + old_len && old < new_addr + new_len {
            return Err(Errno::EINVAL);
        }
        mm.carve(new_addr, new_addr + new_len);
        p.unmap(new_addr, new_len);
        new_addr
    } else {
        mm.find_free(new_len).ok_or(Errno::ENOMEM)?
    };
    let keep = old_len.min(new_len);
    if new_len > keep {
        p.map(dest + keep, new_len - keep, first.prot)?;
    }
    if first.kind == Kind::Lazy {
        // Its pages without frames stay so at the new place: no stale translation there.
        p.reserve_lazy(dest, keep);
    }
    p.remap(old, dest, keep);
    let pieces = mm.carve(old, old + old_len);
    p.unmap(old, old_len);
    let kind = pieces.first().map(|(_, v)| v.kind).unwrap_or(Kind::Anon);
    let kind = if kind == Kind::Heap { Kind::Anon } else { kind };
    mm.insert(dest, Vma { end: dest + new_len, prot: first.prot, kind });
    Ok(dest)
}

pub fn madvise<P: Platform>(proc: &mut Process, p: &mut P, addr: u64, len: u64, advice: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len);
    if len == 0 {
        return Ok(0);
    }
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if !proc.mm.is_covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    if advice == MADV_DONTNEED || advice == MADV_FREE {
        p.discard(addr, len);
    }
    Ok(0)
}

/// Guest RAM is exhausted where no syscall can answer ENOMEM (a first
/// touch of reserved memory, a stack growing): as Linux's OOM killer, the
/// program dies of SIGKILL, with one line saying why, its output and
/// MAP_SHARED pages written out first.
pub fn out_of_memory<P: Platform>(proc: &mut Process, p: &mut P) -> ! {
    p.note(format_args!(
        "out of guest memory ({} MiB): the program was killed (SIGKILL), as by Linux's OOM killer; give it more with --memory",
        proc.mem_size >> 20
    ));
    crate::procs::die(proc, p, abi::linux::sig::SIGKILL, None)
}
