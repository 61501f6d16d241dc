//! Lays out guest memory before the first instruction runs: page tables,
//! GDT/TSS, the kernel image, the syscall trampoline, the program's
//! segments (with their syscall sites rewritten), its stack, and the boot
//! information. Nothing here runs in the guest, so the guest boots straight
//! into 64-bit CPL3 code without a single supervisor instruction.

use crate::guest_mem::{BadAccess, GuestMemory};
use crate::sites;
use abi::boot::{UserRegion, MAX_REGIONS, REGION_IMAGE, REGION_STACK, REGION_TRAMPOLINE};
use abi::layout::*;
use abi::linux::{PROT_EXEC, PROT_READ, PROT_WRITE};
use goblin::elf::{program_header::PT_LOAD, Elf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SetupError {
    #[error("guest memory is too small for this program: raise --memory")]
    OutOfMemory,
    #[error(transparent)]
    Bad(#[from] BadAccess),
    #[error("the embedded guest kernel is unusable: {0}")]
    Kernel(String),
    #[error("{0}")]
    Program(#[from] loader::LoadError),
    #[error("the program has too many segments ({0})")]
    TooManySegments(usize),
}

pub struct Builder<'a> {
    pub mem: &'a mut GuestMemory,
    /// Next free 4 KiB frame of chunk 0, below the kernel image.
    next: u64,
    /// Next free frame of the page-table chunk.
    next_table: u64,
    /// Next free 2 MiB chunk.
    next_chunk: u64,
    pub pml4: u64,
}

/// What the kernel needs to know about the loaded program.
pub struct Loaded {
    pub entry: u64,
    pub brk_start: u64,
    pub regions: Vec<UserRegion>,
    pub sites: usize,
    /// The rewritten cpuid sites, sorted.
    pub cpuid_sites: Vec<u64>,
    pub sites_source: sites::Source,
}

/// Addresses in the kernel image the monitor needs.
pub struct KernelInfo {
    pub entry: u64,
    pub syscall_entry: u64,
    pub lstar_entry: u64,
    pub phys: u64,
    /// Where a signal sent to uk-run enters the kernel, and the kernel
    /// stack's top (see abi::hc::Resume).
    pub signal_entry: u64,
    pub kstack_top: u64,
}

fn prot_flags(prot: u32) -> u64 {
    let mut f = pte::PRESENT | pte::USER | pte::SET_AD;
    if prot & PROT_WRITE != 0 {
        f |= pte::WRITABLE;
    }
    if prot & PROT_EXEC == 0 {
        f |= pte::NO_EXECUTE;
    }
    f
}

impl<'a> Builder<'a> {
    pub fn new(mem: &'a mut GuestMemory) -> Result<Builder<'a>, SetupError> {
        // The layout's tables take ~20 pages; the kernel adds a few.
        mem.small_pages(TABLES_PHYS, TABLES_END - TABLES_PHYS, 32 * PAGE_SIZE);
        let mut b = Builder { mem, next: ALLOC_START_PHYS, next_table: TABLES_PHYS, next_chunk: FREE_START_PHYS, pml4: 0 };
        b.pml4 = b.alloc_table()?;
        Ok(b)
    }

    /// Page-aligned, zeroed (never used) guest-physical memory in chunk 0;
    /// when that is full, in fresh chunks.
    pub fn alloc(&mut self, bytes: u64) -> Result<u64, SetupError> {
        let bytes = page_up(bytes);
        if self.next + bytes <= KERNEL_IMAGE_OFFSET {
            let at = self.next;
            self.next += bytes;
            return Ok(at);
        }
        let at = self.next_chunk;
        self.next_chunk = at.checked_add(bytes).ok_or(SetupError::OutOfMemory)?.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if self.next_chunk > self.mem.size() {
            return Err(SetupError::OutOfMemory);
        }
        Ok(at)
    }

    /// A zeroed frame for a page table.
    fn alloc_table(&mut self) -> Result<u64, SetupError> {
        if self.next_table + PAGE_SIZE <= TABLES_END {
            self.next_table += PAGE_SIZE;
            return Ok(self.next_table - PAGE_SIZE);
        }
        self.alloc(PAGE_SIZE)
    }

    /// The unused rest of the page-table chunk.
    pub fn tables_free(&self) -> [u64; 2] {
        [self.next_table, TABLES_END]
    }

    /// A zeroed, 2 MiB-aligned chunk.
    fn alloc_chunk(&mut self) -> Result<u64, SetupError> {
        let at = self.next_chunk.div_ceil(HUGE_PAGE_SIZE) * HUGE_PAGE_SIZE;
        let end = at + HUGE_PAGE_SIZE;
        if end > self.mem.size() {
            return Err(SetupError::OutOfMemory);
        }
        self.next_chunk = end;
        Ok(at)
    }

    /// The unused rest of chunk 0's small-allocation area.
    pub fn low_free(&self) -> [u64; 2] {
        [self.next, KERNEL_IMAGE_OFFSET]
    }

    /// Where the kernel's own frame allocator starts.
    pub fn free_start(&self) -> u64 {
        self.next_chunk
    }

    /// The table at `level` (0: page table, 1: page directory) on the walk
    /// to `va`, creating tables (writable, user) on the way.
    fn table_for(&mut self, va: u64, level: u32) -> Result<u64, SetupError> {
        let mut table = self.pml4;
        for l in (level + 1..4).rev() {
            let at = table + 8 * ((va >> (12 + 9 * l)) & 511);
            let e = self.mem.read_u64(at)?;
            table = if e & pte::PRESENT != 0 {
                e & pte::ADDR_MASK
            } else {
                let t = self.alloc_table()?;
                self.mem.write_u64(at, t | pte::PRESENT | pte::WRITABLE | pte::USER | pte::SET_AD)?;
                t
            };
        }
        Ok(table)
    }

    /// The leaf slot for `va`.
    fn slot(&mut self, va: u64) -> Result<u64, SetupError> {
        Ok(self.table_for(va, 0)? + 8 * ((va >> 12) & 511))
    }

    pub fn map_page(&mut self, va: u64, phys: u64, flags: u64) -> Result<(), SetupError> {
        let s = self.slot(va)?;
        self.mem.write_u64(s, phys | flags)?;
        Ok(())
    }

    /// Maps a 2 MiB page (va and phys 2 MiB aligned).
    fn map_huge(&mut self, va: u64, phys: u64, flags: u64) -> Result<(), SetupError> {
        let table = self.table_for(va, 1)?;
        self.mem.write_u64(table + 8 * ((va >> 21) & 511), phys | flags | pte::HUGE)?;
        Ok(())
    }

    /// All of guest RAM at DIRECT_MAP, with 2 MiB pages.
    pub fn map_direct(&mut self) -> Result<(), SetupError> {
        let flags = pte::PRESENT | pte::WRITABLE | pte::USER | pte::NO_EXECUTE | pte::SET_AD;
        for pa in (0..self.mem.size()).step_by(HUGE_PAGE_SIZE as usize) {
            self.map_huge(DIRECT_MAP + pa, pa, flags)?;
        }
        Ok(())
    }

    /// The hypercall doorbells: a kernel page onto unbacked guest-physical memory.
    pub fn map_doorbells(&mut self) -> Result<(), SetupError> {
        let flags = pte::PRESENT | pte::WRITABLE | pte::USER | pte::NO_EXECUTE | pte::SET_AD;
        self.map_page(abi::hc::DOORBELL_VIRT, abi::hc::DOORBELL_PHYS, flags)
    }

    /// The physical address behind a user page mapped by this builder.
    fn lookup(&self, va: u64) -> Result<Option<u64>, SetupError> {
        let mut table = self.pml4;
        for level in (0..4).rev() {
            let e = self.mem.read_u64(table + 8 * ((va >> (12 + 9 * level)) & 511))?;
            if e & pte::PRESENT == 0 {
                return Ok(None);
            }
            if level == 1 && e & pte::HUGE != 0 {
                // A 4 KiB view of the 2 MiB page.
                let base = e & pte::ADDR_MASK & !(HUGE_PAGE_SIZE - 1);
                return Ok(Some((e & !pte::HUGE & !pte::ADDR_MASK) | (base + (va & (HUGE_PAGE_SIZE - 1) & !(PAGE_SIZE - 1)))));
            }
            if level == 0 {
                return Ok(Some(e));
            }
            table = e & pte::ADDR_MASK;
        }
        Ok(None)
    }

    /// Copies bytes to a mapped virtual range.
    pub fn write_virt(&mut self, va: u64, data: &[u8]) -> Result<(), SetupError> {
        let mut done = 0;
        while done < data.len() {
            let at = va + done as u64;
            let e = self.lookup(at)?.ok_or(SetupError::OutOfMemory)?;
            let n = ((PAGE_SIZE - (at & (PAGE_SIZE - 1))) as usize).min(data.len() - done);
            let pa = (e & pte::ADDR_MASK) + (at & (PAGE_SIZE - 1));
            self.mem.slice_mut(abi::GuestPhys(pa), n as u64)?.copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    fn read_virt(&self, va: u64, len: usize) -> Result<Vec<u8>, SetupError> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let at = va + out.len() as u64;
            let e = self.lookup(at)?.ok_or(SetupError::OutOfMemory)?;
            let n = ((PAGE_SIZE - (at & (PAGE_SIZE - 1))) as usize).min(len - out.len());
            let pa = (e & pte::ADDR_MASK) + (at & (PAGE_SIZE - 1));
            out.extend_from_slice(self.mem.slice(abi::GuestPhys(pa), n as u64)?);
        }
        Ok(out)
    }

    /// Loads the embedded kernel ELF into chunk 0 and maps the kernel window.
    pub fn load_kernel(&mut self, elf_bytes: &[u8]) -> Result<KernelInfo, SetupError> {
        crate::host::prefault(elf_bytes);
        let bad = |m: &str| SetupError::Kernel(m.to_string());
        let elf = Elf::parse(elf_bytes).map_err(|e| SetupError::Kernel(e.to_string()))?;
        let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0).collect();
        let lo = loads.iter().map(|p| page_down(p.p_vaddr)).min().ok_or_else(|| bad("no segments"))?;
        let hi = loads.iter().map(|p| page_up(p.p_vaddr + p.p_memsz)).max().unwrap_or(lo);
        if lo != KERNEL_BASE + KERNEL_IMAGE_OFFSET || hi > KERNEL_BASE + HUGE_PAGE_SIZE {
            return Err(bad("not linked inside the kernel window (KERNEL_BASE + 512 KiB, at most 1.5 MiB)"));
        }
        for p in &loads {
            let file = elf_bytes
                .get(p.p_offset as usize..(p.p_offset + p.p_filesz) as usize)
                .ok_or_else(|| bad("truncated"))?;
            self.mem.slice_mut(abi::GuestPhys(p.p_vaddr - KERNEL_BASE), p.p_filesz)?.copy_from_slice(file);
        }
        self.map_huge(KERNEL_BASE, 0, pte::PRESENT | pte::WRITABLE | pte::USER | pte::SET_AD)?;
        let sym = |name: &str| {
            elf.syms
                .iter()
                .find(|s| elf.strtab.get_at(s.st_name) == Some(name))
                .map(|s| s.st_value)
                .ok_or_else(|| SetupError::Kernel(format!("symbol {name} missing")))
        };
        let kstack = elf
            .syms
            .iter()
            .find(|s| elf.strtab.get_at(s.st_name) == Some("KSTACK"))
            .map(|s| (s.st_value + s.st_size) & !15)
            .ok_or_else(|| SetupError::Kernel("symbol KSTACK missing".into()))?;
        Ok(KernelInfo {
            entry: elf.entry,
            syscall_entry: sym("uk_syscall_entry")?,
            lstar_entry: sym("uk_lstar_entry")?,
            phys: 0,
            signal_entry: sym("uk_host_signal_entry")?,
            kstack_top: kstack,
        })
    }

    /// A trampoline page: a landing sled for every syscall number, then
    /// `jmp [rip+0]` to the kernel's entry, then int3 (a number past the sled
    /// traps, and the kernel answers ENOSYS). The sled is 8-byte blocks of
    /// `66 66 66 66 66 66 66 90` (a NOP with redundant prefixes) ending at the
    /// jump: entered at any byte it decodes to NOPs of at most 8 bytes, so a
    /// call walks at most 64 instructions instead of 512 (getpid: 4 ns of sled
    /// instead of 30 ns, measured).
    pub fn map_trampolines(&mut self, syscall_entry: u64) -> Result<Vec<UserRegion>, SetupError> {
        let mut regions = Vec::new();
        for va in std::iter::once(TRAMPOLINE).chain(CPUID_TRAMPOLINES) {
            regions.push(self.map_trampoline(va, syscall_entry)?);
        }
        Ok(regions)
    }

    fn map_trampoline(&mut self, va: u64, syscall_entry: u64) -> Result<UserRegion, SetupError> {
        let frame = self.alloc(PAGE_SIZE)?;
        let mut page = vec![0xccu8; PAGE_SIZE as usize];
        let sled = TRAMPOLINE_SLED as usize;
        for (i, b) in page[..sled].iter_mut().enumerate() {
            *b = if (sled - i) % 8 == 1 { 0x90 } else { 0x66 };
        }
        page[sled..sled + 6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
        page[sled + 6..sled + 14].copy_from_slice(&syscall_entry.to_le_bytes());
        self.mem.slice_mut(abi::GuestPhys(frame), PAGE_SIZE)?.copy_from_slice(&page);
        self.map_page(va, frame, prot_flags(PROT_READ | PROT_EXEC))?;
        Ok(UserRegion { start: va, end: va + PAGE_SIZE, prot: PROT_READ | PROT_EXEC, kind: REGION_TRAMPOLINE })
    }

    /// Maps the vDSO at VDSO_BASE: its one load segment's pages, read and
    /// execute, except the page of its `vvar` symbol (the clock data the
    /// kernel fills in), read-only. Returns the region and that page's
    /// guest-physical address.
    pub fn map_vdso(&mut self, so: &[u8]) -> Result<(UserRegion, u64), SetupError> {
        let bad = |what: &str| SetupError::Kernel(format!("the embedded vDSO {what}"));
        let elf = goblin::elf::Elf::parse(so).map_err(|e| bad(&format!("does not parse: {e}")))?;
        let loads: Vec<_> = elf.program_headers.iter().filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD).collect();
        let [load] = loads.as_slice() else { return Err(bad("has more than one load segment")) };
        if load.p_vaddr != 0 || load.p_offset != 0 || load.p_filesz > load.p_memsz {
            return Err(bad("is not laid out from address 0"));
        }
        let vvar = elf
            .syms
            .iter()
            .find(|s| elf.strtab.get_at(s.st_name) == Some("vvar"))
            .map(|s| s.st_value)
            .filter(|v| v % PAGE_SIZE == 0 && *v < load.p_memsz)
            .ok_or_else(|| bad("has no page-aligned vvar"))?;
        let len = page_up(load.p_memsz);
        let mut data_phys = 0;
        for off in (0..len).step_by(PAGE_SIZE as usize) {
            let frame = self.alloc(PAGE_SIZE)?;
            let end = (off + PAGE_SIZE).min(load.p_filesz).max(off);
            let bytes = so.get(off as usize..end as usize).ok_or_else(|| bad("is cut short"))?;
            self.mem.slice_mut(abi::GuestPhys(frame), bytes.len() as u64)?.copy_from_slice(bytes);
            let prot = if off == vvar {
                data_phys = frame;
                PROT_READ
            } else {
                PROT_READ | PROT_EXEC
            };
            self.map_page(VDSO_BASE + off, frame, prot_flags(prot))?;
        }
        Ok((UserRegion { start: VDSO_BASE, end: VDSO_BASE + len, prot: PROT_READ | PROT_EXEC, kind: abi::boot::REGION_VDSO }, data_phys))
    }

    /// Maps fresh memory for [va, va+len) (page-rounded), or widens the
    /// rights of pages another segment already mapped.
    fn map_user(&mut self, va: u64, len: u64, prot: u32) -> Result<(), SetupError> {
        let mut page = page_down(va);
        while page < va + len {
            match self.lookup(page)? {
                Some(e) => {
                    let mut n = e | prot_flags(prot) & !pte::NO_EXECUTE;
                    if prot & PROT_EXEC != 0 {
                        n &= !pte::NO_EXECUTE;
                    }
                    let s = self.slot(page)?;
                    self.mem.write_u64(s, n)?;
                }
                None => {
                    let f = self.alloc(PAGE_SIZE)?;
                    self.map_page(page, f, prot_flags(prot))?;
                }
            }
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Loads the program's segments (read from `file` straight into guest
    /// memory) into 2 MiB chunks mapped with 2 MiB pages, and rewrites its
    /// syscall sites. Segments sharing a chunk share its (merged) rights;
    /// the kernel's bookkeeping keeps each segment's own.
    pub fn load_program(&mut self, file: &std::fs::File, image: &loader::Image, cache: Option<&sites::FileId>) -> Result<Loaded, SetupError> {
        use std::os::unix::fs::FileExt;
        let mut regions = Vec::new();
        let mut chunks: Vec<(u64, u64, u64)> = Vec::new(); // (va, phys, flags)
        for s in &image.segments {
            let prot = (if s.prot.read { PROT_READ } else { 0 })
                | (if s.prot.write { PROT_WRITE } else { 0 })
                | (if s.prot.exec { PROT_EXEC } else { 0 });
            let first = s.vaddr & !(HUGE_PAGE_SIZE - 1);
            for va in (first..s.vaddr + s.memsz).step_by(HUGE_PAGE_SIZE as usize) {
                match chunks.iter_mut().find(|c| c.0 == va) {
                    Some(c) => {
                        c.2 |= prot_flags(prot) & !pte::NO_EXECUTE;
                        if prot & PROT_EXEC != 0 {
                            c.2 &= !pte::NO_EXECUTE;
                        }
                    }
                    None => {
                        let phys = self.alloc_chunk()?;
                        chunks.push((va, phys, prot_flags(prot)));
                    }
                }
            }
            // Copy the file bytes, chunk by chunk.
            let mut done = 0u64;
            while done < s.filesz {
                let va = s.vaddr + done;
                let c = chunks.iter().find(|c| c.0 == va & !(HUGE_PAGE_SIZE - 1)).expect("chunk mapped above");
                let off = va - c.0;
                let n = (HUGE_PAGE_SIZE - off).min(s.filesz - done);
                let dst = self.mem.slice_mut(abi::GuestPhys(c.1 + off), n)?;
                file.read_exact_at(dst, s.offset + done).map_err(|_| loader::LoadError::Corrupt("file changed while loading"))?;
                done += n;
            }
            let start = page_down(s.vaddr);
            let start = regions.last().map_or(start, |r: &UserRegion| start.max(r.end));
            let end = page_up(s.vaddr + s.memsz);
            if end > start {
                regions.push(UserRegion { start, end, prot, kind: REGION_IMAGE });
            }
        }
        for &(va, phys, flags) in &chunks {
            self.map_huge(va, phys, flags)?;
        }
        if regions.len() + 4 > MAX_REGIONS {
            return Err(SetupError::TooManySegments(regions.len()));
        }
        // Code spanning chunks is decoded from a contiguous copy; the rest in place.
        let mut spanning = Vec::new();
        for s in image.segments.iter().filter(|s| s.prot.exec) {
            if (s.vaddr & (HUGE_PAGE_SIZE - 1)) + s.filesz > HUGE_PAGE_SIZE {
                spanning.push((s.vaddr, self.read_virt(s.vaddr, s.filesz as usize)?));
            }
        }
        let mut views = Vec::new();
        for s in image.segments.iter().filter(|s| s.prot.exec) {
            if let Some((va, bytes)) = spanning.iter().find(|(va, _)| *va == s.vaddr) {
                views.push(sites::Code { vaddr: *va, bytes });
            } else {
                let c = chunks.iter().find(|c| c.0 == s.vaddr & !(HUGE_PAGE_SIZE - 1)).expect("chunk");
                views.push(sites::Code { vaddr: s.vaddr, bytes: self.mem.slice(abi::GuestPhys(c.1 + s.vaddr - c.0), s.filesz)? });
            }
        }
        let (found, source) = sites::find(&views, cache);
        drop(views);
        // cpuid sites beyond what the kernel's table holds keep trapping.
        let mut cpuid_sites = found.cpuid.clone();
        cpuid_sites.sort_unstable();
        cpuid_sites.truncate(abi::boot::MAX_CPUID_SITES);
        for &site in found.syscall.iter().chain(&cpuid_sites) {
            self.write_virt(site, &loader::CALL_RAX)?;
        }
        Ok(Loaded {
            entry: image.entry,
            brk_start: image.brk_start,
            regions,
            sites: found.syscall.len(),
            cpuid_sites,
            sites_source: source,
        })
    }

    /// Copies `bytes` into chunk 0's spare room; returns where (guest-physical).
    pub fn place(&mut self, bytes: &[u8]) -> Result<u64, SetupError> {
        let at = self.alloc(bytes.len() as u64)?;
        self.mem.slice_mut(abi::GuestPhys(at), bytes.len() as u64)?.copy_from_slice(bytes);
        Ok(at)
    }

    /// Maps the initial stack and writes argv, envp and auxv to it.
    pub fn map_stack(&mut self, stack: &[u8]) -> Result<UserRegion, SetupError> {
        let size = page_up(stack.len() as u64 + 1).max(USER_STACK_INITIAL);
        let lo = USER_STACK_TOP - size;
        self.map_user(lo, size, PROT_READ | PROT_WRITE)?;
        self.write_virt(USER_STACK_TOP - stack.len() as u64, stack)?;
        Ok(UserRegion { start: lo, end: USER_STACK_TOP, prot: PROT_READ | PROT_WRITE, kind: REGION_STACK })
    }

    /// GDT (null, kernel code/data, user data/code, TSS) and the TSS.
    pub fn write_gdt(&mut self) -> Result<(), SetupError> {
        let tss = low_virt(TSS_PHYS);
        let gdt: [u64; 7] = [
            0,
            0x00af_9b00_0000_ffff, // 0x08 kernel code, 64-bit
            0x00cf_9300_0000_ffff, // 0x10 kernel data
            0x00cf_f300_0000_ffff, // 0x18 user data
            0x00af_fb00_0000_ffff, // 0x20 user code, 64-bit
            0x67 | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56),
            tss >> 32,
        ];
        for (i, e) in gdt.iter().enumerate() {
            self.mem.write_u64(GDT_PHYS + 8 * i as u64, *e)?;
        }
        // TSS: I/O map base past the limit (no bitmap; IOPL 3 allows port I/O).
        self.mem.write(abi::GuestPhys(TSS_PHYS + 0x66), &0x68u16)?;
        Ok(())
    }
}
