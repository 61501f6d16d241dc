//! The loader against real binaries of the host: Debian's busybox-static
//! (required unless `UK_SKIP_BUSYBOX` is set), `/bin/true` (dynamic) and a
//! static-pie built with gcc when one is available.

use std::path::Path;
use std::process::Command;

use loader::{find_syscall_sites, parse, Image, Kind, LoadError, SYSCALL};

const BUSYBOX: &str = "/usr/bin/busybox";
const PIE_BASE: u64 = 0x10_0000_0000;

/// The bytes of the static busybox, or `None` (test skipped) if it is
/// missing and `UK_SKIP_BUSYBOX` is set.
fn busybox() -> Option<Vec<u8>> {
    let skip = std::env::var_os("UK_SKIP_BUSYBOX").is_some();
    let file = match std::fs::read(BUSYBOX) {
        Ok(file) => file,
        Err(e) if skip => {
            eprintln!("skipped: cannot read {BUSYBOX} ({e}) and UK_SKIP_BUSYBOX is set");
            return None;
        }
        Err(e) => panic!(
            "cannot read {BUSYBOX} ({e}): install busybox-static \
             (apt-get install -y busybox-static) or set UK_SKIP_BUSYBOX=1"
        ),
    };
    if let Err(LoadError::Dynamic(_)) = parse(&file, PIE_BASE) {
        panic!("{BUSYBOX} is dynamically linked: install busybox-static, not busybox");
    }
    Some(file)
}

fn u16_at(f: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(f[off..off + 2].try_into().unwrap())
}

fn u64_at(f: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(f[off..off + 8].try_into().unwrap())
}

/// The file bytes at `vaddr`, if a segment has them.
fn file_at<'a>(f: &'a [u8], img: &Image, vaddr: u64) -> Option<&'a [u8]> {
    let s = img
        .segments
        .iter()
        .find(|s| (s.vaddr..s.vaddr + s.filesz).contains(&vaddr))?;
    Some(&f[(s.offset + (vaddr - s.vaddr)) as usize..(s.offset + s.filesz) as usize])
}

/// Every syscall site of every executable segment.
fn all_sites(f: &[u8], img: &Image) -> Vec<u64> {
    img.segments
        .iter()
        .filter(|s| s.prot.exec)
        .flat_map(|s| {
            let code = &f[s.offset as usize..(s.offset + s.filesz) as usize];
            find_syscall_sites(code, s.vaddr)
        })
        .collect()
}

#[test]
fn busybox_parses() {
    let Some(f) = busybox() else { return };
    let img = parse(&f, PIE_BASE).unwrap();
    assert_eq!(img.kind, Kind::Exec);
    assert_eq!(img.load_bias, 0);
    assert_eq!(img.entry, u64_at(&f, 24));
    assert!(img
        .segments
        .iter()
        .any(|s| s.prot.exec && (s.vaddr..s.vaddr + s.memsz).contains(&img.entry)));
    assert_eq!(img.phnum, u16_at(&f, 56));
    assert_eq!(img.phent, 56);
    // AT_PHDR points at the very bytes of the program header table.
    let phoff = u64_at(&f, 32) as usize;
    let table = &f[phoff..phoff + 56 * usize::from(img.phnum)];
    assert!(file_at(&f, &img, img.phdr_vaddr)
        .unwrap()
        .starts_with(table));
    let top = img
        .segments
        .iter()
        .map(|s| s.vaddr + s.memsz)
        .max()
        .unwrap();
    assert!(
        img.brk_start >= top && img.brk_start - top < 4096 && img.brk_start.is_multiple_of(4096)
    );
    assert!(img
        .segments
        .windows(2)
        .all(|w| w[0].vaddr + w[0].memsz <= w[1].vaddr));
    assert!(!img.exec_stack);
}

#[test]
fn busybox_syscall_sites() {
    let Some(f) = busybox() else { return };
    let img = parse(&f, PIE_BASE).unwrap();
    let sites = all_sites(&f, &img);
    assert!(sites.len() > 50, "only {} syscall sites", sites.len());
    assert!(sites.windows(2).all(|w| w[0] < w[1]));
    for &site in &sites {
        assert_eq!(
            file_at(&f, &img, site).unwrap()[..2],
            SYSCALL,
            "site {site:#x}"
        );
    }

    // lea -0x18(%rsp),%rsi; mov $0x83,%eax; syscall: wherever busybox has
    // it, its syscall is a site. Debian's build has one at 0x48338f.
    const SEQ: [u8; 12] = [
        0x48, 0x8d, 0x74, 0x24, 0xe8, 0xb8, 0x83, 0x00, 0x00, 0x00, 0x0f, 0x05,
    ];
    let mut found = 0;
    for s in img.segments.iter().filter(|s| s.prot.exec) {
        let code = &f[s.offset as usize..(s.offset + s.filesz) as usize];
        for (i, _) in code
            .windows(SEQ.len())
            .enumerate()
            .filter(|(_, w)| *w == SEQ)
        {
            let site = s.vaddr + i as u64 + 10;
            assert!(sites.contains(&site), "syscall at {site:#x} not found");
            found += 1;
        }
    }
    assert!(found > 0, "busybox has no `mov $0x83,%eax; syscall`");
    if file_at(&f, &img, 0x48_338f).is_some_and(|b| b.starts_with(&SEQ)) {
        assert!(sites.contains(&0x48_3399));
    } else {
        eprintln!("note: this busybox is not Debian's build (no sequence at 0x48338f)");
    }

    // objdump's linear sweep, when available, finds the same sites.
    if let Ok(out) = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", BUSYBOX])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs: Vec<u64> = text
            .lines()
            .filter(|l| l.split('\t').nth(1).is_some_and(|m| m.trim() == "syscall"))
            .map(|l| u64::from_str_radix(l.split(':').next().unwrap().trim(), 16).unwrap())
            .collect();
        if out.status.success() && !theirs.is_empty() {
            assert_eq!(sites, theirs, "differs from objdump -d");
        }
    }
}

#[test]
fn busybox_patched_headers() {
    let Some(orig) = busybox() else { return };
    let phoff = u64_at(&orig, 32) as usize;
    let phnum = usize::from(u16_at(&orig, 56));
    let ph = |i: usize| phoff + 56 * i;
    let loads: Vec<usize> = (0..phnum).filter(|&i| u16_at(&orig, ph(i)) == 1).collect();
    assert!(loads.len() >= 2);
    let corrupt = |f: &[u8]| match parse(f, PIE_BASE) {
        Err(LoadError::Corrupt(m)) => m,
        other => panic!("expected Corrupt, got {other:?}"),
    };

    // filesz > memsz
    let mut f = orig.clone();
    let memsz = u64_at(&f, ph(loads[0]) + 40);
    f[ph(loads[0]) + 32..ph(loads[0]) + 40].copy_from_slice(&(memsz + 1).to_le_bytes());
    assert_eq!(
        corrupt(&f),
        "a segment's file size is larger than its memory size"
    );

    // The second PT_LOAD moved onto the first (same page offset).
    let mut f = orig.clone();
    let first = u64_at(&f, ph(loads[0]) + 16);
    let off = u64_at(&f, ph(loads[1]) + 8);
    f[ph(loads[1]) + 16..ph(loads[1]) + 24].copy_from_slice(&(first + off % 4096).to_le_bytes());
    assert_eq!(corrupt(&f), "two loadable segments overlap");

    // The program header table cut short.
    assert_eq!(
        corrupt(&orig[..ph(phnum) - 1]),
        "the program header table lies beyond the end of the file"
    );
    // The header cut short.
    assert_eq!(
        corrupt(&orig[..40]),
        "the file is shorter than an ELF header"
    );

    let mut f = orig.clone();
    f[4] = 1; // ELFCLASS32
    assert_eq!(parse(&f, PIE_BASE), Err(LoadError::Not64Bit));

    let mut f = orig.clone();
    f[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    assert_eq!(
        parse(&f, PIE_BASE),
        Err(LoadError::NotX86_64("aarch64".into()))
    );

    let mut f = orig.clone();
    f[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    assert_eq!(
        parse(&f, PIE_BASE),
        Err(LoadError::NotExecutable("ET_REL".into()))
    );
    assert_eq!(
        LoadError::NotExecutable("ET_REL".into()).to_string(),
        "is not an executable ELF (type ET_REL)"
    );
}

#[test]
fn garbage_is_not_elf() {
    assert_eq!(parse(b"", PIE_BASE), Err(LoadError::NotElf));
    assert_eq!(parse(b"\x7fEL", PIE_BASE), Err(LoadError::NotElf));
    assert_eq!(
        parse(b"#!/bin/sh\nexit 0\n", PIE_BASE),
        Err(LoadError::NotElf)
    );
    let mut elf32 = b"\x7fELF\x01\x01\x01".to_vec();
    elf32.resize(52, 0);
    assert_eq!(parse(&elf32, PIE_BASE), Err(LoadError::Not64Bit));
}

#[test]
fn dynamic_true_is_refused() {
    let f = std::fs::read("/bin/true").expect("/bin/true");
    let err = parse(&f, PIE_BASE).unwrap_err();
    assert_eq!(
        err,
        LoadError::Dynamic("/lib64/ld-linux-x86-64.so.2".into())
    );
    assert!(err.to_string().contains("rebuild with -static"));
}

#[test]
fn static_pie_from_gcc() {
    let dir = std::env::temp_dir().join(format!("loader-pie-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("pie.c");
    let bin = dir.join("pie");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint main(void){return (int)getpid() & 1;}\n",
    )
    .unwrap();
    let built = Command::new("gcc")
        .args(["-static-pie", "-O2", "-o"])
        .args([bin.as_os_str(), src.as_os_str()])
        .status()
        .is_ok_and(|s| s.success());
    if !built || !Path::new(&bin).exists() {
        eprintln!("skipped: gcc -static-pie is not available");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let f = std::fs::read(&bin).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let img = parse(&f, PIE_BASE).unwrap();
    assert_eq!(img.kind, Kind::StaticPie);
    assert_eq!(img.segments[0].vaddr & !4095, PIE_BASE);
    assert_eq!(img.entry, u64_at(&f, 24).wrapping_add(img.load_bias));
    assert!(img.segments.iter().all(|s| s.vaddr >= PIE_BASE));
    assert!(img
        .segments
        .iter()
        .any(|s| s.prot.exec && (s.vaddr..s.vaddr + s.memsz).contains(&img.entry)));
    let phoff = u64_at(&f, 32) as usize;
    assert!(file_at(&f, &img, img.phdr_vaddr)
        .unwrap()
        .starts_with(&f[phoff..phoff + 56 * usize::from(img.phnum)]));
    let sites = all_sites(&f, &img);
    assert!(!sites.is_empty());
    assert!(sites
        .iter()
        .all(|&s| file_at(&f, &img, s).unwrap()[..2] == SYSCALL));
}
