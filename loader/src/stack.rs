//! The initial process stack, laid out as Linux's `fs/exec.c` and
//! `fs/binfmt_elf.c` (`create_elf_tables`) do, minus the randomisation.
//!
//! From the top of the stack down:
//!
//! ```text
//! stack_top -> +-----------------------------+
//!              | 8 zero bytes                |  (Linux: bprm->p starts below a NULL pointer)
//!              | execfn string               |  AT_EXECFN points here
//!              | envp strings, in order      |
//!              | argv strings, in order      |
//!              | 0..15 bytes (16-alignment)  |
//!              | platform string             |  AT_PLATFORM (omitted if empty)
//!              | 16 random bytes             |  AT_RANDOM
//!              | 0..15 bytes (16-alignment)  |
//!              | auxv pairs, AT_NULL last    |
//!              | NULL, envp pointers         |
//!              | NULL, argv pointers         |
//!        sp -> | argc                        |  16-byte aligned
//!              +-----------------------------+
//! ```
//!
//! There is no vDSO, so `AT_SYSINFO_EHDR` is left out.

use alloc::vec;
use alloc::vec::Vec;

use crate::auxv::*;
use crate::{LoadError, PAGE_SIZE};

/// The largest initial stack [`build_stack`] builds.
const MAX_STACK: u64 = 2 << 20;

/// What goes on the initial stack. Strings are given without their
/// terminating NUL ([`build_stack`] adds it); one with an embedded NUL is
/// cut short there in the program's eyes.
#[derive(Debug, Clone)]
pub struct StackArgs<'a> {
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// The `AT_EXECFN` string: the path the program was executed as.
    pub execfn: &'a [u8],
    /// The `AT_PLATFORM` string, `b"x86_64"`.
    pub platform: &'a [u8],
    /// The `AT_RANDOM` bytes (libc's stack protector and pointer guard).
    pub random: [u8; 16],
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    pub entry: u64,
    pub uid: u64,
    pub euid: u64,
    pub gid: u64,
    pub egid: u64,
    pub secure: u64,
    pub hwcap: u64,
    pub hwcap2: u64,
    pub clktck: u64,
    pub minsigstksz: u64,
    /// `AT_SYSINFO_EHDR`: the vDSO's address (0: none, and no entry).
    pub sysinfo_ehdr: u64,
}

/// Lays out the initial process stack so that its highest byte is at
/// `stack_top - 1`.
///
/// Returns `(bytes, sp)`: `bytes` is to be copied to guest memory at
/// `stack_top - bytes.len()`, which is `sp`, the initial `rsp`: 16-byte
/// aligned and pointing at argc. Fails with
/// `Corrupt("argument list too long")` if the whole is over 2 MiB, and with
/// `Corrupt("initial stack does not fit below stack_top")` if it would
/// start below address 0.
pub fn build_stack(stack_top: u64, a: &StackArgs) -> Result<(Vec<u8>, u64), LoadError> {
    let too_long = LoadError::Corrupt("argument list too long");
    let too_low = LoadError::Corrupt("initial stack does not fit below stack_top");

    // The strings area, sized before anything is allocated.
    let strings_len = a
        .argv
        .iter()
        .chain(a.envp)
        .chain([&a.execfn])
        .try_fold(8u64, |sum, s| sum.checked_add(s.len() as u64 + 1))
        .filter(|&n| n <= MAX_STACK)
        .ok_or(too_long.clone())?;
    let strings = stack_top.checked_sub(strings_len).ok_or(too_low.clone())?;

    let mut p = strings & !15;
    let platform = if a.platform.is_empty() {
        None
    } else {
        p = p
            .checked_sub(a.platform.len() as u64 + 1)
            .ok_or(too_low.clone())?;
        Some(p)
    };
    p = p.checked_sub(16).ok_or(too_low.clone())?;
    let random = p;

    // String addresses, in order: argv, envp, execfn.
    let mut addrs = Vec::with_capacity(a.argv.len() + a.envp.len() + 1);
    let mut at = strings;
    for s in a.argv.iter().chain(a.envp).chain([&a.execfn]) {
        addrs.push(at);
        at += s.len() as u64 + 1;
    }
    let (argv_ptrs, rest) = addrs.split_at(a.argv.len());
    let (envp_ptrs, execfn) = rest.split_at(a.envp.len());
    let execfn = execfn[0];

    let mut auxv: Vec<(u64, u64)> = vec![
        (AT_MINSIGSTKSZ, a.minsigstksz),
        (AT_HWCAP, a.hwcap),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_CLKTCK, a.clktck),
        (AT_PHDR, a.phdr),
        (AT_PHENT, a.phent),
        (AT_PHNUM, a.phnum),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, a.entry),
        (AT_UID, a.uid),
        (AT_EUID, a.euid),
        (AT_GID, a.gid),
        (AT_EGID, a.egid),
        (AT_SECURE, a.secure),
        (AT_RANDOM, random),
        (AT_HWCAP2, a.hwcap2),
        (AT_EXECFN, execfn),
    ];
    if let Some(platform) = platform {
        auxv.push((AT_PLATFORM, platform));
    }
    if a.sysinfo_ehdr != 0 {
        auxv.push((AT_SYSINFO_EHDR, a.sysinfo_ehdr));
    }
    auxv.push((AT_NULL, 0));

    let words = (1 + a.argv.len() + 1 + a.envp.len() + 1 + 2 * auxv.len()) as u64;
    let sp = p.checked_sub(words * 8).ok_or(too_low)? & !15;
    let len = stack_top - sp;
    if len > MAX_STACK {
        return Err(too_long);
    }

    let mut bytes = vec![0u8; len as usize];
    let mut put = |addr: u64, data: &[u8]| {
        let off = (addr - sp) as usize;
        bytes[off..off + data.len()].copy_from_slice(data);
    };
    // Strings (their NULs and the top 8 bytes are already zero).
    for (&addr, s) in addrs
        .iter()
        .zip(a.argv.iter().chain(a.envp).chain([&a.execfn]))
    {
        put(addr, s);
    }
    if let Some(platform) = platform {
        put(platform, a.platform);
    }
    put(random, &a.random);
    // The word area.
    let table = [a.argv.len() as u64]
        .into_iter()
        .chain(argv_ptrs.iter().copied())
        .chain([0])
        .chain(envp_ptrs.iter().copied())
        .chain([0])
        .chain(auxv.iter().flat_map(|&(k, v)| [k, v]));
    for (i, word) in table.enumerate() {
        put(sp + 8 * i as u64, &word.to_le_bytes());
    }
    Ok((bytes, sp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x7fff_f000_0000;

    fn args<'a>(argv: &'a [&'a [u8]], envp: &'a [&'a [u8]]) -> StackArgs<'a> {
        StackArgs {
            argv,
            envp,
            execfn: b"/bin/busybox",
            platform: b"x86_64",
            random: *b"0123456789abcdef",
            phdr: 0x40_0040,
            phent: 56,
            phnum: 10,
            entry: 0x40_ebf0,
            uid: 1000,
            euid: 1001,
            gid: 100,
            egid: 101,
            secure: 0,
            hwcap: 0x178b_fbff,
            hwcap2: 2,
            clktck: 100,
            minsigstksz: 2048,
            sysinfo_ehdr: 0,
        }
    }

    /// The stack as the program reads it.
    struct Parsed {
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        auxv: Vec<(u64, u64)>,
    }

    fn parse(bytes: &[u8], sp: u64) -> Parsed {
        let base = TOP - bytes.len() as u64;
        assert_eq!(base, sp);
        let in_stack = |addr: u64| assert!((base..TOP).contains(&addr), "{addr:#x} outside stack");
        let word = |addr: u64| {
            in_stack(addr);
            let off = (addr - base) as usize;
            u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap())
        };
        let cstr = |addr: u64| {
            in_stack(addr);
            let off = (addr - base) as usize;
            let len = bytes[off..]
                .iter()
                .position(|&b| b == 0)
                .expect("unterminated");
            bytes[off..off + len].to_vec()
        };
        let mut at = sp;
        let mut next = || {
            let w = word(at);
            at += 8;
            w
        };
        let argc = next();
        let argv: Vec<_> = (0..argc).map(|_| next()).collect();
        assert_eq!(next(), 0);
        let mut envp = Vec::new();
        loop {
            match next() {
                0 => break,
                p => envp.push(p),
            }
        }
        let mut auxv = Vec::new();
        loop {
            let (k, v) = (next(), next());
            auxv.push((k, v));
            if k == AT_NULL {
                break;
            }
        }
        Parsed {
            argv: argv.into_iter().map(cstr).collect(),
            envp: envp.into_iter().map(cstr).collect(),
            auxv,
        }
    }

    fn aux(p: &Parsed, key: u64) -> Option<u64> {
        p.auxv.iter().find(|&&(k, _)| k == key).map(|&(_, v)| v)
    }

    #[test]
    fn layout_round_trips() {
        let argv: &[&[u8]] = &[b"busybox", b"echo", b"hello world", b""];
        let envp: &[&[u8]] = &[b"PATH=/bin:/usr/bin", b"HOME=/", b"TERM=xterm"];
        let a = args(argv, envp);
        let (bytes, sp) = build_stack(TOP, &a).unwrap();
        assert_eq!(sp % 16, 0);
        assert_eq!(sp, TOP - bytes.len() as u64);
        let p = parse(&bytes, sp);
        assert_eq!(p.argv, argv);
        assert_eq!(p.envp, envp);

        let off = |addr: u64| (addr - sp) as usize;
        let random = aux(&p, AT_RANDOM).unwrap();
        assert_eq!(bytes[off(random)..off(random) + 16], a.random);
        let execfn = aux(&p, AT_EXECFN).unwrap();
        assert_eq!(&bytes[off(execfn)..], b"/bin/busybox\0\0\0\0\0\0\0\0\0");
        let platform = aux(&p, AT_PLATFORM).unwrap();
        assert_eq!(&bytes[off(platform)..off(platform) + 7], b"x86_64\0");

        for (key, want) in [
            (AT_PHDR, 0x40_0040),
            (AT_PHENT, 56),
            (AT_PHNUM, 10),
            (AT_PAGESZ, 4096),
            (AT_BASE, 0),
            (AT_FLAGS, 0),
            (AT_ENTRY, 0x40_ebf0),
            (AT_UID, 1000),
            (AT_EUID, 1001),
            (AT_GID, 100),
            (AT_EGID, 101),
            (AT_SECURE, 0),
            (AT_HWCAP, 0x178b_fbff),
            (AT_HWCAP2, 2),
            (AT_CLKTCK, 100),
            (AT_MINSIGSTKSZ, 2048),
        ] {
            assert_eq!(aux(&p, key), Some(want), "key {key}");
        }
        assert_eq!(aux(&p, AT_SYSINFO_EHDR), None);
        assert_eq!(p.auxv.last(), Some(&(AT_NULL, 0)));
    }

    #[test]
    fn strings_are_ordered_like_linux() {
        let argv: &[&[u8]] = &[b"a", b"bb"];
        let envp: &[&[u8]] = &[b"C=c"];
        let (bytes, _) = build_stack(TOP, &args(argv, envp)).unwrap();
        let tail = b"a\0bb\0C=c\0/bin/busybox\0\0\0\0\0\0\0\0\0";
        assert!(bytes.ends_with(tail));
    }

    #[test]
    fn empty_argv_and_envp() {
        let a = StackArgs {
            platform: b"",
            ..args(&[], &[])
        };
        let (bytes, sp) = build_stack(TOP - 3, &a).unwrap();
        assert_eq!(sp % 16, 0);
        let p = parse_at(&bytes, sp, TOP - 3);
        assert!(p.0 == 0 && p.1);
    }

    /// argc, and whether AT_PLATFORM is absent, for a stack not at TOP.
    fn parse_at(bytes: &[u8], sp: u64, top: u64) -> (u64, bool) {
        assert_eq!(sp, top - bytes.len() as u64);
        let word = |i: usize| u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap());
        let argc = word(0);
        assert_eq!(word(1), 0);
        assert_eq!(word(2), 0);
        let mut i = 3;
        let mut platform = false;
        while word(i) != AT_NULL {
            platform |= word(i) == AT_PLATFORM;
            i += 2;
        }
        (argc, !platform)
    }

    #[test]
    fn too_long() {
        let big = vec![b'x'; 1 << 20];
        let argv: &[&[u8]] = &[&big, &big];
        assert_eq!(
            build_stack(TOP, &args(argv, &[])),
            Err(LoadError::Corrupt("argument list too long"))
        );
        // Just under the limit works.
        let fits = vec![b'x'; (1 << 20) + (1 << 19)];
        let argv: &[&[u8]] = &[&fits];
        let (bytes, _) = build_stack(TOP, &args(argv, &[])).unwrap();
        assert!(bytes.len() as u64 <= MAX_STACK);
    }

    #[test]
    fn too_low() {
        let argv: &[&[u8]] = &[b"prog"];
        assert!(build_stack(64, &args(argv, &[])).is_err());
    }
}
