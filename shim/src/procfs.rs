//! /proc: the one process and the VM, made as text when a file is opened
//! (as Linux does, the files report size 0 and are read to their end).

use crate::user::{read_cstr, UserPtr};
use crate::vfs::{ProcFile, ProcNode, S_IFDIR, S_IFREG};
use crate::{Platform, Process};
use abi::linux::Stat;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// st_dev of /proc.
const PROC_DEV: u64 = 0x14;

pub fn stat(proc: &Process, node: ProcNode, now_ns: u64) -> Stat {
    let (mode, ino) = match node {
        ProcNode::Root => (S_IFDIR | 0o555, 1),
        ProcNode::Pid => (S_IFDIR | 0o555, 2),
        ProcNode::FdDir => (S_IFDIR | 0o500, 3),
        ProcNode::File(f) => (S_IFREG | if f == ProcFile::Environ { 0o400 } else { 0o444 }, 16 + f as u64),
    };
    let (sec, nsec) = ((now_ns / 1_000_000_000) as i64, (now_ns % 1_000_000_000) as i64);
    Stat {
        st_dev: PROC_DEV,
        st_ino: ino,
        st_nlink: if mode & S_IFDIR != 0 { 2 } else { 1 },
        st_mode: mode,
        st_uid: if node == ProcNode::Root { 0 } else { proc.euid },
        st_gid: if node == ProcNode::Root { 0 } else { proc.egid },
        st_blksize: 1024,
        st_atime: sec,
        st_atime_nsec: nsec,
        st_mtime: sec,
        st_mtime_nsec: nsec,
        st_ctime: sec,
        st_ctime_nsec: nsec,
        ..Default::default()
    }
}

/// A directory's entries: (name, d_type).
pub fn entries(proc: &Process, node: ProcNode) -> Vec<(Vec<u8>, u8)> {
    const DIR: u8 = 4;
    const REG: u8 = 8;
    const LNK: u8 = 10;
    match node {
        ProcNode::Root => {
            let mut v: Vec<(Vec<u8>, u8)> = ProcFile::TOP.iter().map(|(n, _)| (n.to_vec(), REG)).collect();
            v.push((format!("{}", proc.pid).into_bytes(), DIR));
            v.push((b"self".to_vec(), LNK));
            v
        }
        ProcNode::Pid => {
            let mut v: Vec<(Vec<u8>, u8)> = ProcFile::PID.iter().map(|(n, _)| (n.to_vec(), REG)).collect();
            v.extend([(b"cwd".to_vec(), LNK), (b"exe".to_vec(), LNK), (b"fd".to_vec(), DIR)]);
            v
        }
        ProcNode::FdDir => proc.fds.iter().map(|(fd, _)| (format!("{fd}").into_bytes(), LNK)).collect(),
        ProcNode::File(_) => Vec::new(),
    }
}

/// The NUL-separated strings of a NULL-terminated pointer array.
fn strings<P: Platform>(p: &P, mut at: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(ptr) = UserPtr(at).read::<u64, _>(p) {
        if ptr == 0 {
            break;
        }
        match read_cstr(p, ptr, 1 << 20) {
            Ok(s) => out.extend_from_slice(&s),
            Err(_) => break,
        }
        out.push(0);
        at += 8;
    }
    out
}

pub fn text<P: Platform>(proc: &Process, p: &mut P, f: ProcFile) -> Vec<u8> {
    let mem_kb = proc.mem_size / 1024;
    let mapped_kb: u64 = proc.mm.mapped(0, u64::MAX) / 1024;
    let uptime_ns = p.clock_ns(false).saturating_sub(proc.start_mono_ns);
    let ticks = uptime_ns / 10_000_000;
    let comm_len = proc.thread.comm.iter().position(|&c| c == 0).unwrap_or(16);
    let comm = String::from_utf8_lossy(&proc.thread.comm[..comm_len]).into_owned();
    let s = match f {
        ProcFile::Meminfo => format!(
            "MemTotal:       {mem_kb:8} kB\nMemFree:        {:8} kB\nMemAvailable:   {:8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n",
            mem_kb.saturating_sub(mapped_kb),
            mem_kb.saturating_sub(mapped_kb)
        ),
        ProcFile::Cpuinfo => {
            let v = p.cpuid(0, 0);
            let vendor: Vec<u8> = [v[1], v[3], v[2]].iter().flat_map(|r| r.to_le_bytes()).collect();
            let mut model = Vec::new();
            for leaf in 0x8000_0002..=0x8000_0004u32 {
                for r in p.cpuid(leaf, 0) {
                    model.extend_from_slice(&r.to_le_bytes());
                }
            }
            let model = String::from(String::from_utf8_lossy(&model).trim_matches(|c: char| c == '\0' || c == ' '));
            let sig = p.cpuid(1, 0)[0];
            let family = ((sig >> 8) & 0xf) + if (sig >> 8) & 0xf == 0xf { (sig >> 20) & 0xff } else { 0 };
            let model_no = ((sig >> 4) & 0xf) | (((sig >> 16) & 0xf) << 4);
            format!(
                "processor\t: 0\nvendor_id\t: {}\ncpu family\t: {family}\nmodel\t\t: {model_no}\nmodel name\t: {model}\nstepping\t: {}\ncpu cores\t: 1\nsiblings\t: 1\n\n",
                String::from_utf8_lossy(&vendor),
                sig & 0xf
            )
        }
        ProcFile::Stat => {
            let boot = (p.clock_ns(true) - uptime_ns) / 1_000_000_000;
            format!("cpu  {ticks} 0 0 0 0 0 0 0 0 0\ncpu0 {ticks} 0 0 0 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime {boot}\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n")
        }
        ProcFile::Uptime => format!("{}.{:02} 0.00\n", uptime_ns / 1_000_000_000, (uptime_ns / 10_000_000) % 100),
        ProcFile::Cmdline => return strings(p, proc.start_sp + 8),
        ProcFile::Environ => {
            let argc: u64 = UserPtr(proc.start_sp).read(p).unwrap_or(0);
            return strings(p, proc.start_sp + 8 * (argc + 2));
        }
        ProcFile::Comm => format!("{comm}\n"),
        ProcFile::Mounts => {
            let mut out = String::from("rootfs / tmpfs rw 0 0\nproc /proc proc rw,nosuid,nodev,noexec 0 0\n");
            for s in &proc.vfs.shares {
                let at = String::from_utf8_lossy(&crate::vfs::join(&s.at)).into_owned();
                out.push_str(&format!("uk-run-share {at} hostfs {} 0 0\n", if s.read_only { "ro" } else { "rw" }));
            }
            out
        }
        ProcFile::Status => format!(
            "Name:\t{comm}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{}\nTracerPid:\t0\nUid:\t{u}\t{eu}\t{eu}\t{eu}\nGid:\t{g}\t{eg}\t{eg}\t{eg}\nFDSize:\t64\nVmSize:\t{mapped_kb:8} kB\nVmRSS:\t{mapped_kb:8} kB\nThreads:\t{}\nSigPnd:\t{:016x}\nSigBlk:\t{:016x}\n",
            proc.umask,
            proc.ppid,
            proc.nthreads(),
            proc.signals.pending.set | proc.thread.sig.pending.set,
            proc.thread.sig.mask,
            pid = proc.pid,
            u = proc.uid,
            eu = proc.euid,
            g = proc.gid,
            eg = proc.egid,
        ),
        ProcFile::PidStat => format!(
            "{pid} ({comm}) R {} {pid} {pid} 0 -1 4194304 0 0 0 0 {ticks} 0 0 0 20 0 1 0 0 {} {} 18446744073709551615 0 0 {} 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            proc.ppid,
            mapped_kb * 1024,
            mapped_kb / 4,
            proc.start_sp,
            pid = proc.pid,
        ),
        ProcFile::Maps => {
            let mut out = String::new();
            for (start, v) in &proc.mm.vmas {
                let r = |bit: u32, c: char| if v.prot & bit != 0 { c } else { '-' };
                let name = match v.kind {
                    crate::mm::Kind::Stack => "[stack]",
                    crate::mm::Kind::Heap => "[heap]",
                    crate::mm::Kind::Vdso => "[vdso]",
                    _ => "",
                };
                out.push_str(&format!(
                    "{start:08x}-{:08x} {}{}{}p 00000000 00:00 0 {}{name}\n",
                    v.end,
                    r(1, 'r'),
                    r(2, 'w'),
                    r(4, 'x'),
                    if name.is_empty() { "" } else { "                         " }
                ));
            }
            out
        }
    };
    s.into_bytes()
}
