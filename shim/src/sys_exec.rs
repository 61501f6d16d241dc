//! execve: replaces the program with another static ELF from the guest's
//! file system, keeping the process: descriptors without FD_CLOEXEC, the
//! working directory, umask, ignored signals and the signal mask.
//!
//! The new program is read into a staging area of the address space, checked
//! and parsed there by the same loader the monitor uses; only then is the old
//! program torn down (before that point every error returns to the caller,
//! as on Linux). Its `syscall` and `cpuid` sites are found and rewritten
//! here, in the guest, at CPL3.

use crate::fd::Entry;
use crate::mm::Mm;
use crate::sys_fs::{self, AT_FDCWD};
use crate::user::{read_cstr, UserPtr};
use crate::vfs::{join, Loc, NodeKind, S_IFMT, S_IFREG};
use crate::{Platform, Process, SysResult};
use abi::boot::{UserRegion, REGION_IMAGE, REGION_STACK};
use abi::hc::{File, FileOp};
use abi::layout::{page_down, page_up, PIE_BASE, USER_STACK_INITIAL, USER_STACK_TOP};
use abi::linux::{Errno, PROT_EXEC, PROT_READ, PROT_WRITE};
use alloc::vec::Vec;

const HUGE: u64 = abi::layout::HUGE_PAGE_SIZE;

fn huge_up(x: u64) -> u64 {
    (x + HUGE - 1) & !(HUGE - 1)
}

/// Where the new program's file is read before it is loaded.
const STAGING: u64 = 0x7e00_0000_0000;
/// The most bytes of arguments and environment, as Linux's default.
const ARG_MAX: usize = 2 << 20;
/// The most a program file may be.
const MAX_FILE: u64 = 1 << 30;

fn strings<P: Platform>(p: &P, mut at: u64, total: &mut usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if at == 0 {
        return Ok(out);
    }
    loop {
        let ptr: u64 = UserPtr(at).read(p)?;
        if ptr == 0 {
            return Ok(out);
        }
        let s = read_cstr(p, ptr, ARG_MAX)?;
        *total += s.len() + 1 + 8;
        if *total > ARG_MAX {
            return Err(Errno::E2BIG);
        }
        out.push(s);
        at += 8;
    }
}

pub fn execve_at<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, argv: u64, envp: u64) -> SysResult {
    exec(proc, p, dirfd, path, argv, envp)
}

pub fn execve<P: Platform>(proc: &mut Process, p: &mut P, path: u64, argv: u64, envp: u64) -> SysResult {
    exec(proc, p, AT_FDCWD, path, argv, envp)
}

fn exec<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, path: u64, argv: u64, envp: u64) -> SysResult {
    let name = read_cstr(p, path, 4096)?;
    let mut total = 0;
    let args = strings(p, argv, &mut total)?;
    let env = strings(p, envp, &mut total)?;
    // A vfork child runs in its parent's memory: the new program gets an
    // address space of its own, and the parent's stays as it is (back to
    // it if the execve fails).
    let vforked = (!proc.owns_space).then(|| (proc.space, proc.mm.clone()));
    if vforked.is_some() {
        let space = p.new_space(false)?;
        p.switch_space(space);
        proc.space = space;
        proc.owns_space = true;
        proc.mm.vmas.retain(|_, v| matches!(v.kind, crate::mm::Kind::Trampoline | crate::mm::Kind::Vdso));
        proc.mm.shared.clear();
        proc.mm.frames.clear();
    }
    // Everything the loading allocates is freed when replace() returns:
    // start_program does not return, so nothing in this frame is dropped.
    match replace(proc, p, dirfd, name, args, env) {
        Ok((entry, sp)) => {
            crate::procs::release_vfork(proc);
            p.set_fs_base(0);
            p.start_program(entry, sp)
        }
        Err(e) => {
            if let Some((space, mm)) = vforked {
                p.switch_space(space);
                p.free_space(proc.space);
                (proc.space, proc.owns_space, proc.mm) = (space, false, mm);
            }
            Err(e)
        }
    }
}

/// Loads the new program in place of the old; returns its entry point and stack pointer.
fn replace<P: Platform>(proc: &mut Process, p: &mut P, dirfd: u64, name: Vec<u8>, args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Result<(u64, u64), Errno> {
    let (loc, comps) = match sys_fs::resolve(proc, p, dirfd, &name, true) {
        Ok((Loc::MemMissing { .. }, _)) | Err(Errno::ENOENT) => {
            // system() and popen() run /bin/sh: say once why it is missing
            // (a shell's PATH search tries missing names too: only this one).
            let under = proc.vfs.shares.iter().any(|s| s.under);
            if name == b"/bin/sh" && !under && proc.first_warning(syscalls::Sysno::execve.id() as u64) {
                p.warn(format_args!(
                    "execve of {}: no such file in the guest (its root is private: --host-root shows the host's, read-only)",
                    alloc::string::String::from_utf8_lossy(&name)
                ));
            }
            return Err(Errno::ENOENT);
        }
        r => r?,
    };
    let exe = join(&comps);

    // The file: a regular file with an execute bit.
    let st = sys_fs::stat_of(proc, p, &loc)?;
    if st.st_mode & S_IFMT != S_IFREG || st.st_mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    let size = st.st_size as u64;
    if size > MAX_FILE {
        return Err(Errno::ENOMEM);
    }
    if size < 4 {
        return Err(Errno::ENOEXEC);
    }
    let stage_len = page_up(size);
    // The new program is read to a place the old one must not be using.
    if !proc.mm.is_free(STAGING, STAGING + stage_len) {
        return Err(Errno::ENOMEM);
    }
    let stage_len = huge_up(stage_len);
    p.map_large(STAGING, stage_len)?;
    let image = match stage(proc, p, &loc, size).and_then(|_| {
        let bytes = p.user_slice(STAGING, size)?;
        loader::parse(bytes, PIE_BASE).map_err(|e| match e {
            // As Linux when the interpreter is missing (a shell must not run it as a script).
            loader::LoadError::Dynamic(interp) => {
                p.warn(format_args!("execve of {}: dynamically linked (interpreter {interp}); uk-run runs static programs only", alloc::string::String::from_utf8_lossy(&exe)));
                Errno::ENOENT
            }
            _ => Errno::ENOEXEC,
        })
    }) {
        Ok(i) => i,
        Err(e) => {
            p.unmap(STAGING, stage_len);
            return Err(e);
        }
    };

    // The point of no return: the old program goes.
    crate::sys_mem::drop_shared(proc, p);
    crate::sys_ipc::detach_all(proc, p);
    let kept = |k: crate::mm::Kind| matches!(k, crate::mm::Kind::Trampoline | crate::mm::Kind::Vdso);
    let keep: Vec<(u64, u64, crate::mm::Kind)> =
        proc.mm.vmas.iter().filter(|(_, v)| kept(v.kind)).map(|(s, v)| (*s, v.end, v.kind)).collect();
    let old: Vec<(u64, u64)> = proc.mm.vmas.iter().filter(|(_, v)| !kept(v.kind)).map(|(s, v)| (*s, v.end)).collect();
    // The whole 2 MiB blocks the old image had (its mapping rounds up to
    // them, see load), unless something kept is there: first, so that they
    // go back whole, not split by the unmapping of a part.
    for (s, e) in old.iter().filter(|(s, _)| *s < 1 << 32) {
        let (lo, hi) = (s & !(HUGE - 1), huge_up(*e));
        if !keep.iter().any(|&(ks, ke, _)| ks < hi && ke > lo) {
            p.unmap(lo, hi - lo);
        }
    }
    for (s, e) in &old {
        p.unmap(*s, e - s);
    }
    let mut regions: Vec<UserRegion> = keep
        .iter()
        .map(|&(start, end, k)| UserRegion {
            start,
            end,
            prot: PROT_READ | PROT_EXEC,
            kind: if k == crate::mm::Kind::Vdso { abi::boot::REGION_VDSO } else { abi::boot::REGION_TRAMPOLINE },
        })
        .collect();
    let key = SitesKey { path: exe.clone(), size: st.st_size, mtime: (st.st_mtime, st.st_mtime_nsec), ino: st.st_ino };
    let mut cache = core::mem::take(&mut proc.world.exec_sites);
    let loaded = load(p, &image, &mut regions, &mut proc.cpuid_sites, &mut cache, key);
    proc.world.exec_sites = cache;
    if let Err(e) = loaded {
        p.warn(format_args!("execve of {} failed after the old program was gone: {e:?}", alloc::string::String::from_utf8_lossy(&exe)));
        crate::procs::die(proc, p, abi::linux::sig::SIGKILL, None);
    }
    p.unmap(STAGING, stage_len);

    // The stack.
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    let envp: Vec<&[u8]> = env.iter().map(|e| e.as_slice()).collect();
    let mut random = [0u8; 16];
    p.random(&mut random);
    let stack_args = loader::StackArgs {
        argv: &argv,
        envp: &envp,
        execfn: &name,
        platform: b"x86_64",
        random,
        phdr: image.phdr_vaddr,
        phent: image.phent as u64,
        phnum: image.phnum as u64,
        entry: image.entry,
        uid: proc.uid as u64,
        euid: proc.euid as u64,
        gid: proc.gid as u64,
        egid: proc.egid as u64,
        secure: 0,
        hwcap: p.hwcap(),
        hwcap2: 2,
        clktck: 100,
        minsigstksz: 2048,
        sysinfo_ehdr: proc.vdso_base,
    };
    let (stack, sp) = match loader::build_stack(USER_STACK_TOP, &stack_args) {
        Ok(s) => s,
        Err(_) => crate::procs::die(proc, p, abi::linux::sig::SIGKILL, None),
    };
    let stack_size = page_up(stack.len() as u64 + 1).max(USER_STACK_INITIAL);
    let lo = USER_STACK_TOP - stack_size;
    if p.map(lo, stack_size, PROT_READ | PROT_WRITE).is_err() || p.write_user(USER_STACK_TOP - stack.len() as u64, &stack).is_err() {
        crate::procs::die(proc, p, abi::linux::sig::SIGKILL, None);
    }
    regions.push(UserRegion { start: lo, end: USER_STACK_TOP, prot: PROT_READ | PROT_WRITE, kind: REGION_STACK });

    // The process: as Linux keeps it, but for what belonged to the old program.
    proc.mm = Mm::new(&regions, image.brk_start);
    proc.start_sp = sp;
    if loc != Loc::Exe {
        // The new program is in the guest's tree; the old one's file is not needed.
        proc.exe = exe;
        proc.exe_handle = None;
    }
    let base = name.rsplit(|&c| c == b'/').next().unwrap_or(&name);
    proc.thread.comm = [0; 16];
    let n = base.len().min(15);
    proc.thread.comm[..n].copy_from_slice(&base[..n]);
    let closing: Vec<u64> = proc.fds.iter().filter(|(_, e)| e.cloexec).map(|(fd, _)| fd).collect();
    for fd in closing {
        let e: Option<Entry> = proc.fds.close(fd).ok();
        sys_fs::release(p, e);
    }
    proc.signals.reset_handlers();
    proc.thread.sig.altstack = abi::linux::StackT { ss_flags: abi::linux::SS_DISABLE, ..Default::default() };
    proc.thread.sig.saved_mask = None;
    proc.thread.clear_child_tid = 0;
    proc.thread.robust_list = (0, 0);
    // The other threads end; the timers of timer_create go (itimers stay, as on Linux).
    proc.timers.retain(|t| t.id < 0);
    crate::sched::end_others(proc, p);
    Ok((image.entry, sp))
}

/// Reads the program file into the staging area.
fn stage<P: Platform>(proc: &Process, p: &mut P, loc: &Loc, size: u64) -> Result<(), Errno> {
    match loc {
        Loc::Share { share, rel } => {
            let mut c = File { op: FileOp::Open as u32, share: *share, ..Default::default() };
            let handle = p.host_file(&mut c, rel, &[], crate::platform::FileData::None)? as u32;
            let mut r = File { op: FileOp::Read as u32, handle, offset: 0, path_len: u64::MAX, ..Default::default() };
            let got = p.host_file(&mut r, &[], &[], crate::platform::FileData::ToUser(STAGING, size));
            let mut cl = File { op: FileOp::Close as u32, handle, path_len: u64::MAX, ..Default::default() };
            let _ = p.host_file(&mut cl, &[], &[], crate::platform::FileData::None);
            if got? != size {
                return Err(Errno::EIO);
            }
            Ok(())
        }
        Loc::Exe => {
            let handle = proc.exe_handle.ok_or(Errno::ENOENT)?;
            let mut r = File { op: FileOp::Read as u32, handle, offset: 0, path_len: u64::MAX, ..Default::default() };
            if p.host_file(&mut r, &[], &[], crate::platform::FileData::ToUser(STAGING, size))? != size {
                return Err(Errno::EIO);
            }
            Ok(())
        }
        Loc::Mem(ino) => match &proc.vfs.nodes[*ino].kind {
            NodeKind::File(d) => p.write_user(STAGING, d),
            _ => Err(Errno::EACCES),
        },
        _ => Err(Errno::ENOENT),
    }
}

/// Maps the segments from the staging area, rewrites their sites, and
/// gives them their rights.
/// What identifies a program file for the cache of its sites.
#[derive(Clone, PartialEq, Eq)]
pub struct SitesKey {
    path: Vec<u8>,
    size: i64,
    mtime: (i64, i64),
    ino: u64,
}

/// The `syscall` and `cpuid` sites of programs exec'd before, by file: a
/// shell that runs the same program a thousand times decodes it once.
#[derive(Default)]
pub struct SitesCache(Vec<(SitesKey, Vec<loader::Sites>)>);

/// Programs whose sites are kept at most (the oldest goes first).
const SITES_CACHED: usize = 16;

fn load<P: Platform>(p: &mut P, image: &loader::Image, regions: &mut Vec<UserRegion>, sites: &mut Vec<u64>, cache: &mut SitesCache, key: SitesKey) -> Result<(), Errno> {
    let prot_of = |s: &loader::Segment| {
        (if s.prot.read { PROT_READ } else { 0 }) | (if s.prot.write { PROT_WRITE } else { 0 }) | (if s.prot.exec { PROT_EXEC } else { 0 })
    };
    // Pages shared by two segments are mapped once and get both rights.
    let mut pages: Vec<(u64, u64, u32)> = Vec::new();
    for s in &image.segments {
        let (lo, hi) = (page_down(s.vaddr), page_up(s.vaddr + s.memsz));
        match pages.last_mut() {
            Some(last) if lo < last.1 => {
                last.1 = last.1.max(hi);
                last.2 |= prot_of(s);
            }
            _ => pages.push((lo, hi, prot_of(s))),
        }
    }
    // The image in whole 2 MiB pages where it can: one fault each to
    // touch, where 4 KiB pages cost one each (~8 us here). What lies in
    // those blocks past the segments is mapped too, as the monitor maps
    // the first program.
    for &(lo, hi, _) in &pages {
        let (blo, bhi) = (lo & !(HUGE - 1), huge_up(hi));
        if blo >= HUGE && hi < 1 << 32 {
            p.map_large(blo, bhi - blo)?;
        } else {
            p.map_large(lo, hi - lo)?;
        }
    }
    let mut cpuid = Vec::new();
    let known = cache.0.iter().position(|(k, _)| *k == key).map(|i| cache.0.remove(i).1);
    let mut found = Vec::new();
    for (n, s) in image.segments.iter().enumerate() {
        // The segment lies inside the file (the loader checked it).
        p.copy_in_user(s.vaddr, STAGING + s.offset, s.filesz)?;
        if s.prot.exec {
            let sites = match known.as_ref().and_then(|k| k.get(n)) {
                Some(k) => k.clone(),
                None => loader::find_sites(p.user_slice(s.vaddr, s.filesz)?, s.vaddr),
            };
            for &site in &sites.syscall {
                p.write_user(site, &loader::CALL_RAX)?;
            }
            cpuid.extend(sites.cpuid.iter().copied());
            found.push(sites);
        } else {
            found.push(loader::Sites::default());
        }
    }
    if cache.0.len() >= SITES_CACHED {
        cache.0.remove(0);
    }
    cache.0.push((key, found));
    cpuid.sort_unstable();
    cpuid.truncate(abi::boot::MAX_CPUID_SITES);
    for &site in &cpuid {
        p.write_user(site, &loader::CALL_RAX)?;
    }
    p.set_cpuid_sites(&cpuid);
    *sites = cpuid;
    for &(lo, hi, prot) in &pages {
        p.protect(lo, hi - lo, prot)?;
    }
    let mut last_end = 0;
    for s in &image.segments {
        let start = page_down(s.vaddr).max(last_end);
        let end = page_up(s.vaddr + s.memsz);
        if end > start {
            regions.push(UserRegion { start, end, prot: prot_of(s), kind: REGION_IMAGE });
            last_end = end;
        }
    }
    Ok(())
}
