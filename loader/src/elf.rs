//! ELF validation: from the bytes of a file to an [`Image`], the description
//! of what to map where.
//!
//! Only what running a static program needs is looked at: the ELF header and
//! the program headers (parsed with goblin). Sections and symbols are ignored,
//! so a stripped or section-less file is fine. Every check that fails yields a
//! [`LoadError`] that tells the user what is wrong with the file.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{
    self, EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64, ET_DYN,
    ET_EXEC, SELFMAG,
};
use goblin::elf::program_header::{
    ProgramHeader, PF_R, PF_W, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR,
};
use goblin::elf::Elf;

use crate::{page_floor, LoadError, PAGE_SIZE};

/// Size of the ELF64 file header.
const EHDR_SIZE: usize = 64;
/// Size of one ELF64 program header.
const PHDR_SIZE: usize = 56;
/// The end of x86-64 user space as Linux sees it (`TASK_SIZE_MAX`, 4-level
/// paging): no segment may reach beyond it.
const USER_END: u64 = 0x0000_7fff_ffff_f000;

/// Access rights of a segment (from `p_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    fn from_flags(p_flags: u32) -> Self {
        Prot {
            read: p_flags & PF_R != 0,
            write: p_flags & PF_W != 0,
            exec: p_flags & PF_X != 0,
        }
    }
}

/// One `PT_LOAD` with a non-zero `p_memsz`, its address already relocated by
/// [`Image::load_bias`]. `filesz` bytes at file `offset` go to `vaddr`, the
/// rest up to `memsz` is zero. `vaddr % PAGE_SIZE == offset % PAGE_SIZE`.
///
/// Two segments never overlap, but they may share a page (the end of one and
/// the start of the next): such a page needs the union of both protections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub prot: Prot,
}

impl Segment {
    /// One past the last byte (`vaddr + memsz`, never overflows).
    pub fn end(&self) -> u64 {
        self.vaddr + self.memsz
    }

    fn contains(&self, addr: u64) -> bool {
        (self.vaddr..self.end()).contains(&addr)
    }
}

/// What kind of static executable the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ET_EXEC`: loaded at its link addresses.
    Exec,
    /// `ET_DYN` without `PT_INTERP` (static-pie): loaded at `pie_base`. It
    /// relocates itself from its own `_start`.
    StaticPie,
}

/// A validated static executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub kind: Kind,
    /// Added to every link-time address: 0 for [`Kind::Exec`],
    /// `pie_base - page_floor(lowest PT_LOAD vaddr)` (wrapping) for
    /// [`Kind::StaticPie`].
    pub load_bias: u64,
    /// The relocated `e_entry`, inside an executable segment.
    pub entry: u64,
    /// The `PT_LOAD`s with a non-zero size, sorted by address.
    pub segments: Vec<Segment>,
    /// Where the program headers are in memory (`AT_PHDR`): `PT_PHDR`'s
    /// address if there is one, else where `e_phoff` lands in a `PT_LOAD`.
    pub phdr_vaddr: u64,
    /// `e_phentsize` (`AT_PHENT`), always 56.
    pub phent: u16,
    /// `e_phnum` (`AT_PHNUM`).
    pub phnum: u16,
    /// The end of the highest segment, rounded up to a page: the initial
    /// program break.
    pub brk_start: u64,
    /// `PT_GNU_STACK` asks for an executable stack (false without one).
    pub exec_stack: bool,
}

/// Parses and validates `file`, a static x86-64 executable.
///
/// `pie_base` (page aligned; rounded down if it is not) is where a
/// static-pie (`ET_DYN` without `PT_INTERP`) is placed: its lowest `PT_LOAD`
/// address, rounded down to a page, lands at `pie_base`. It is ignored for
/// `ET_EXEC`.
pub fn parse(file: &[u8], pie_base: u64) -> Result<Image, LoadError> {
    use LoadError::Corrupt;

    // Identification, checked by hand so that garbage is "not an ELF file"
    // and a 32-bit file is refused before goblin happily parses it.
    if file.len() < SELFMAG || &file[..SELFMAG] != ELFMAG {
        return Err(LoadError::NotElf);
    }
    match file.get(EI_CLASS) {
        None => return Err(Corrupt("the file is shorter than an ELF header")),
        Some(&ELFCLASS32) => return Err(LoadError::Not64Bit),
        Some(&ELFCLASS64) => {}
        Some(_) => return Err(Corrupt("unknown ELF class (neither 32- nor 64-bit)")),
    }
    if file.len() < EHDR_SIZE {
        return Err(Corrupt("the file is shorter than an ELF header"));
    }
    let eh = Elf::parse_header(file).map_err(|_| Corrupt("unreadable ELF header"))?;
    if eh.e_machine != EM_X86_64 {
        return Err(LoadError::NotX86_64(machine_name(eh.e_machine)));
    }
    if file[EI_DATA] != ELFDATA2LSB {
        return Err(Corrupt("x86-64 ELF header is not little-endian"));
    }
    let kind = match eh.e_type {
        ET_EXEC => Kind::Exec,
        // Maybe a dynamic PIE: PT_INTERP decides below.
        ET_DYN => Kind::StaticPie,
        t => return Err(LoadError::NotExecutable(type_name(t))),
    };

    // The program header table.
    if usize::from(eh.e_phentsize) != PHDR_SIZE {
        return Err(Corrupt("program header size (e_phentsize) is not 56"));
    }
    let phnum = usize::from(eh.e_phnum);
    let phoff = usize::try_from(eh.e_phoff)
        .map_err(|_| Corrupt("the program header table lies beyond the end of the file"))?;
    match phoff.checked_add(phnum * PHDR_SIZE) {
        Some(end) if end <= file.len() => {}
        _ => {
            return Err(Corrupt(
                "the program header table lies beyond the end of the file",
            ))
        }
    }
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let phdrs = ProgramHeader::parse(file, phoff, phnum, ctx)
        .map_err(|_| Corrupt("unreadable program header table"))?;

    // Dynamic programs first: whatever else is odd about them, this is the
    // message the user needs.
    if let Some(interp) = phdrs.iter().find(|ph| ph.p_type == PT_INTERP) {
        return Err(LoadError::Dynamic(interpreter(file, interp)?));
    }

    // The PT_LOADs, at their link addresses.
    let mut segments = Vec::new();
    for ph in phdrs.iter().filter(|ph| ph.p_type == PT_LOAD) {
        if ph.p_filesz > ph.p_memsz {
            return Err(Corrupt(
                "a segment's file size is larger than its memory size",
            ));
        }
        match ph.p_offset.checked_add(ph.p_filesz) {
            Some(end) if end <= file.len() as u64 => {}
            _ => return Err(Corrupt("a segment lies beyond the end of the file")),
        }
        if ph.p_vaddr.checked_add(ph.p_memsz).is_none() {
            return Err(Corrupt("a segment's address range overflows"));
        }
        if ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
            return Err(Corrupt(
                "a segment's address and file offset differ modulo the page size",
            ));
        }
        if ph.p_memsz == 0 {
            continue;
        }
        segments.push(Segment {
            vaddr: ph.p_vaddr,
            memsz: ph.p_memsz,
            offset: ph.p_offset,
            filesz: ph.p_filesz,
            prot: Prot::from_flags(ph.p_flags),
        });
    }
    segments.sort_by_key(|s| s.vaddr);
    let Some(lowest) = segments.first().map(|s| page_floor(s.vaddr)) else {
        return Err(Corrupt("no loadable segment (PT_LOAD)"));
    };

    // Relocation. A link-time address `a >= lowest` moves to
    // `a - lowest + pie_base`, computed so that it cannot wrap around.
    let (load_bias, pie_base) = match kind {
        Kind::Exec => (0, lowest),
        Kind::StaticPie => {
            let base = page_floor(pie_base);
            (base.wrapping_sub(lowest), base)
        }
    };
    let relocate = |addr: u64| addr.checked_sub(lowest)?.checked_add(pie_base);
    for s in &mut segments {
        s.vaddr = relocate(s.vaddr).ok_or(Corrupt("a segment's address range overflows"))?;
        match s.vaddr.checked_add(s.memsz) {
            Some(end) if end <= USER_END => {}
            Some(_) => return Err(Corrupt("a segment lies beyond the user address space")),
            None => return Err(Corrupt("a segment's address range overflows")),
        }
        if page_floor(s.vaddr) == 0 {
            return Err(Corrupt("a segment maps page 0, which uk-run reserves"));
        }
    }
    if segments.windows(2).any(|w| w[0].end() > w[1].vaddr) {
        return Err(Corrupt("two loadable segments overlap"));
    }

    let entry = relocate(eh.e_entry)
        .filter(|&e| segments.iter().any(|s| s.prot.exec && s.contains(e)))
        .ok_or(Corrupt(
            "the entry point is not inside an executable segment",
        ))?;

    let phdr_vaddr = match phdrs.iter().find(|ph| ph.p_type == PT_PHDR) {
        Some(ph) => {
            relocate(ph.p_vaddr).ok_or(Corrupt("PT_PHDR is not inside a loadable segment"))?
        }
        None => {
            let (start, end) = (eh.e_phoff, eh.e_phoff + (phnum * PHDR_SIZE) as u64);
            segments
                .iter()
                .find(|s| s.offset <= start && end <= s.offset + s.filesz)
                .map(|s| s.vaddr + (start - s.offset))
                .ok_or(Corrupt(
                    "the program header table is not inside a loadable segment",
                ))?
        }
    };

    let top = segments.iter().map(Segment::end).max().unwrap_or(0);
    // `top <= USER_END`, a page boundary, so this cannot overflow.
    let brk_start = page_floor(top + PAGE_SIZE - 1);

    let exec_stack = phdrs
        .iter()
        .any(|ph| ph.p_type == PT_GNU_STACK && ph.p_flags & PF_X != 0);

    Ok(Image {
        kind,
        load_bias,
        entry,
        segments,
        phdr_vaddr,
        phent: eh.e_phentsize,
        phnum: eh.e_phnum,
        brk_start,
        exec_stack,
    })
}

/// The NUL-terminated path in a `PT_INTERP` segment.
fn interpreter(file: &[u8], ph: &ProgramHeader) -> Result<String, LoadError> {
    let bytes = usize::try_from(ph.p_offset)
        .ok()
        .zip(usize::try_from(ph.p_filesz).ok())
        .and_then(|(off, len)| file.get(off..off.checked_add(len)?))
        .ok_or(LoadError::Corrupt(
            "the interpreter path lies beyond the end of the file",
        ))?;
    let path = bytes.split(|&b| b == 0).next().unwrap_or_default();
    Ok(String::from_utf8_lossy(path).into_owned())
}

/// A user-facing name for an `e_machine`.
fn machine_name(machine: u16) -> String {
    let name = match machine {
        header::EM_386 => "i386",
        header::EM_IAMCU => "Intel MCU",
        header::EM_AARCH64 => "aarch64",
        header::EM_ARM => "arm",
        header::EM_RISCV => "riscv",
        header::EM_PPC => "powerpc",
        header::EM_PPC64 => "powerpc64",
        header::EM_S390 => "s390",
        header::EM_MIPS => "mips",
        header::EM_SPARC => "sparc",
        header::EM_SPARCV9 => "sparc64",
        header::EM_IA_64 => "ia64",
        258 => "loongarch", // EM_LOONGARCH, unknown to goblin 0.9
        header::EM_BPF => "bpf",
        _ => return format!("machine {machine:#x}"),
    };
    name.to_string()
}

/// A user-facing name for an `e_type` that is not executable.
fn type_name(e_type: u16) -> String {
    match e_type {
        header::ET_NONE => "ET_NONE".to_string(),
        header::ET_REL => "ET_REL".to_string(),
        header::ET_CORE => "ET_CORE".to_string(),
        t => format!("{t:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use goblin::elf::header::{ELFCLASS64, EM_AARCH64, ET_CORE, ET_REL};

    /// A program header: (type, flags, offset, vaddr, filesz, memsz).
    type Ph = (u32, u32, u64, u64, u64, u64);

    const RX: u32 = PF_R | PF_X;
    const RW: u32 = PF_R | PF_W;

    /// A minimal ELF64 file: header, program headers at 64, then zeros up
    /// to `len` bytes.
    fn elf(e_type: u16, entry: u64, phdrs: &[Ph], len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len.max(64 + 56 * phdrs.len())];
        f[..4].copy_from_slice(ELFMAG);
        f[EI_CLASS] = ELFCLASS64;
        f[EI_DATA] = ELFDATA2LSB;
        f[6] = 1;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, &(ty, flags, off, vaddr, filesz, memsz)) in phdrs.iter().enumerate() {
            let p = &mut f[64 + 56 * i..64 + 56 * (i + 1)];
            p[0..4].copy_from_slice(&ty.to_le_bytes());
            p[4..8].copy_from_slice(&flags.to_le_bytes());
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&vaddr.to_le_bytes());
            p[24..32].copy_from_slice(&vaddr.to_le_bytes());
            p[32..40].copy_from_slice(&filesz.to_le_bytes());
            p[40..48].copy_from_slice(&memsz.to_le_bytes());
            p[48..56].copy_from_slice(&PAGE_SIZE.to_le_bytes());
        }
        f
    }

    /// A plausible static executable: headers+rodata, text, data+bss.
    fn exec(extra: &[Ph]) -> Vec<u8> {
        let mut phdrs = vec![
            (PT_LOAD, PF_R, 0, 0x40_0000, 0x200, 0x200),
            (PT_LOAD, RX, 0x1000, 0x40_1000, 0x800, 0x800),
            (PT_LOAD, RW, 0x2100, 0x40_3100, 0x100, 0x2000),
        ];
        phdrs.extend_from_slice(extra);
        elf(ET_EXEC, 0x40_1010, &phdrs, 0x2200)
    }

    fn corrupt(f: &[u8]) -> &'static str {
        match parse(f, 0x1_0000_0000) {
            Err(LoadError::Corrupt(m)) => m,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn static_exec() {
        let img = parse(&exec(&[(PT_GNU_STACK, RW, 0, 0, 0, 0)]), 0x1_0000_0000).unwrap();
        assert_eq!(img.kind, Kind::Exec);
        assert_eq!(img.load_bias, 0);
        assert_eq!(img.entry, 0x40_1010);
        assert_eq!(img.segments.len(), 3);
        assert_eq!(
            img.segments[1],
            Segment {
                vaddr: 0x40_1000,
                memsz: 0x800,
                offset: 0x1000,
                filesz: 0x800,
                prot: Prot {
                    read: true,
                    write: false,
                    exec: true
                },
            }
        );
        assert_eq!(img.phdr_vaddr, 0x40_0040);
        assert_eq!((img.phent, img.phnum), (56, 4));
        assert_eq!(img.brk_start, 0x40_6000);
        assert!(!img.exec_stack);
    }

    #[test]
    fn exec_stack_and_pt_phdr() {
        let f = exec(&[
            (PT_GNU_STACK, RW | PF_X, 0, 0, 0, 0),
            (PT_PHDR, PF_R, 64, 0x40_0040, 56 * 5, 56 * 5),
        ]);
        let img = parse(&f, 0).unwrap();
        assert!(img.exec_stack);
        assert_eq!(img.phdr_vaddr, 0x40_0040);
    }

    #[test]
    fn static_pie_is_relocated() {
        let phdrs = [
            (PT_PHDR, PF_R, 64, 0x40, 56 * 4, 56 * 4),
            (PT_LOAD, PF_R, 0, 0, 0x200, 0x200),
            (PT_LOAD, RX, 0x1000, 0x1000, 0x800, 0x800),
            (PT_LOAD, RW, 0x2100, 0x3100, 0x100, 0x2000),
        ];
        let f = elf(ET_DYN, 0x1010, &phdrs, 0x2200);
        let img = parse(&f, 0x5555_5555_4000).unwrap();
        assert_eq!(img.kind, Kind::StaticPie);
        assert_eq!(img.load_bias, 0x5555_5555_4000);
        assert_eq!(img.entry, 0x5555_5555_5010);
        assert_eq!(img.segments[0].vaddr, 0x5555_5555_4000);
        assert_eq!(img.segments[2].vaddr, 0x5555_5555_7100);
        assert_eq!(img.phdr_vaddr, 0x5555_5555_4040);
        assert_eq!(img.brk_start, 0x5555_5555_a000);
        // At pie_base 0 it would map page 0.
        assert_eq!(
            corrupt_at(&f, 0),
            "a segment maps page 0, which uk-run reserves"
        );
    }

    fn corrupt_at(f: &[u8], pie_base: u64) -> &'static str {
        match parse(f, pie_base) {
            Err(LoadError::Corrupt(m)) => m,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn identification() {
        assert_eq!(parse(b"", 0), Err(LoadError::NotElf));
        assert_eq!(parse(b"\x7fEL", 0), Err(LoadError::NotElf));
        assert_eq!(parse(b"#!/bin/sh\necho hi\n", 0), Err(LoadError::NotElf));
        assert_eq!(
            corrupt(b"\x7fELF"),
            "the file is shorter than an ELF header"
        );
        assert_eq!(parse(b"\x7fELF\x01\x01\x01", 0), Err(LoadError::Not64Bit));
        assert_eq!(
            corrupt(&exec(&[])[..63]),
            "the file is shorter than an ELF header"
        );
        let mut f = exec(&[]);
        f[EI_CLASS] = 7;
        assert_eq!(corrupt(&f), "unknown ELF class (neither 32- nor 64-bit)");

        let mut f = exec(&[]);
        f[18..20].copy_from_slice(&EM_AARCH64.to_le_bytes());
        assert_eq!(parse(&f, 0), Err(LoadError::NotX86_64("aarch64".into())));
        f[18..20].copy_from_slice(&0x1234u16.to_le_bytes());
        assert_eq!(
            parse(&f, 0),
            Err(LoadError::NotX86_64("machine 0x1234".into()))
        );

        for (t, name) in [(ET_REL, "ET_REL"), (ET_CORE, "ET_CORE"), (0xfe00, "0xfe00")] {
            let mut f = exec(&[]);
            f[16..18].copy_from_slice(&t.to_le_bytes());
            assert_eq!(parse(&f, 0), Err(LoadError::NotExecutable(name.into())));
        }
    }

    #[test]
    fn dynamic() {
        let mut f = exec(&[(PT_INTERP, PF_R, 0x180, 0x40_0180, 0x1c, 0x1c)]);
        f[0x180..0x180 + 0x1c].copy_from_slice(b"/lib64/ld-linux-x86-64.so.2\0");
        assert_eq!(
            parse(&f, 0),
            Err(LoadError::Dynamic("/lib64/ld-linux-x86-64.so.2".into()))
        );
        let f = exec(&[(PT_INTERP, PF_R, 0x21f0, 0, 0x1c, 0x1c)]);
        assert_eq!(
            corrupt(&f),
            "the interpreter path lies beyond the end of the file"
        );
    }

    #[test]
    fn program_header_table() {
        let mut f = exec(&[]);
        f[54] = 32;
        assert_eq!(corrupt(&f), "program header size (e_phentsize) is not 56");
        let f = exec(&[]);
        assert_eq!(
            corrupt(&f[..64 + 56 * 2]),
            "the program header table lies beyond the end of the file"
        );
        let mut f = exec(&[]);
        f[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            corrupt(&f),
            "the program header table lies beyond the end of the file"
        );
        let f = elf(
            ET_EXEC,
            0x40_1000,
            &[(PT_GNU_STACK, RW, 0, 0, 0, 0)],
            0x1000,
        );
        assert_eq!(corrupt(&f), "no loadable segment (PT_LOAD)");
        // Program headers outside every PT_LOAD and no PT_PHDR.
        let f = elf(
            ET_EXEC,
            0x40_1000,
            &[(PT_LOAD, RX, 0x1000, 0x40_1000, 0x10, 0x10)],
            0x1010,
        );
        assert_eq!(
            corrupt(&f),
            "the program header table is not inside a loadable segment"
        );
    }

    #[test]
    fn bad_segments() {
        let cases: &[(Ph, &str)] = &[
            (
                (PT_LOAD, RW, 0x2000, 0x50_0000, 0x100, 0x80),
                "a segment's file size is larger than its memory size",
            ),
            (
                (PT_LOAD, RW, 0x2000, 0x50_0000, 0x1000, 0x1000),
                "a segment lies beyond the end of the file",
            ),
            (
                (PT_LOAD, RW, u64::MAX, 0x50_0fff, 1, 1),
                "a segment lies beyond the end of the file",
            ),
            (
                (PT_LOAD, RW, 0, u64::MAX - 0xfff, 0, 0x2000),
                "a segment's address range overflows",
            ),
            (
                (PT_LOAD, RW, 0, 0x7fff_ffff_e000, 0, 0x2000),
                "a segment lies beyond the user address space",
            ),
            (
                (PT_LOAD, RW, 0x10, 0x50_0000, 0x10, 0x10),
                "a segment's address and file offset differ modulo the page size",
            ),
            (
                (PT_LOAD, RW, 0xff0, 0xff0, 0, 0x10),
                "a segment maps page 0, which uk-run reserves",
            ),
            (
                (PT_LOAD, RW, 0x2000, 0x40_1000, 0, 0x10),
                "two loadable segments overlap",
            ),
            (
                (PT_LOAD, RW, 0x2000, 0x3f_f000, 0, 0x1001),
                "two loadable segments overlap",
            ),
        ];
        for &(ph, msg) in cases {
            assert_eq!(corrupt(&exec(&[ph])), msg, "{ph:x?}");
        }
        // Sharing a page is fine; a zero-sized PT_LOAD is ignored.
        let img = parse(
            &exec(&[
                (PT_LOAD, PF_R, 0x2100, 0x40_5100, 0, 0x10),
                (PT_LOAD, RW, 0, 0, 0, 0),
            ]),
            0,
        )
        .unwrap();
        assert_eq!(img.segments.len(), 4);
        assert_eq!(img.brk_start, 0x40_6000);
    }

    #[test]
    fn entry_point() {
        let mut f = exec(&[]);
        for entry in [0x40_0010u64, 0x40_1800, 0x40_3100, 0, u64::MAX] {
            f[24..32].copy_from_slice(&entry.to_le_bytes());
            assert_eq!(
                corrupt(&f),
                "the entry point is not inside an executable segment"
            );
        }
        f[24..32].copy_from_slice(&0x40_17ffu64.to_le_bytes());
        assert_eq!(parse(&f, 0).unwrap().entry, 0x40_17ff);
    }
}
