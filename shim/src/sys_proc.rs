//! Identity, limits, uname, randomness, CPU affinity, arch_prctl.

use crate::process::RLIMIT_NLIMITS;
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::linux::{Errno, Rlimit};
use syscalls::Sysno;

pub fn getres<P: Platform>(p: &mut P, ids: [u32; 3], a: [u64; 6]) -> SysResult {
    for (i, id) in ids.iter().enumerate() {
        UserPtr(a[i]).write(p, id)?;
    }
    Ok(0)
}

/// The set*id family: a process may "change" to the ids it has; anything
/// else needs privileges the VM does not model, so it is refused.
pub fn setid(proc: &mut Process, s: Sysno, a: [u64; 6]) -> SysResult {
    let (cur, eff) = match s {
        Sysno::setuid | Sysno::setreuid | Sysno::setresuid => (proc.uid, proc.euid),
        _ => (proc.gid, proc.egid),
    };
    let n = match s {
        Sysno::setuid | Sysno::setgid => 1,
        Sysno::setreuid | Sysno::setregid => 2,
        _ => 3,
    };
    let ok = a[..n].iter().all(|&v| v as u32 == u32::MAX || v as u32 == cur || v as u32 == eff);
    if ok {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

pub fn getgroups<P: Platform>(proc: &mut Process, p: &mut P, size: u64, list: u64) -> SysResult {
    if size == 0 {
        return Ok(1);
    }
    if (size as i32) < 1 {
        return Err(Errno::EINVAL);
    }
    UserPtr(list).write(p, &proc.gid)?;
    Ok(1)
}

pub fn uname<P: Platform>(proc: &mut Process, p: &mut P, buf: u64) -> SysResult {
    UserPtr(buf).write(p, &proc.uts).map(|_| 0)
}

/// sysinfo: the VM's uptime and memory, one process, no swap.
pub fn sysinfo<P: Platform>(proc: &mut Process, p: &mut P, buf: u64) -> SysResult {
    let uptime = p.clock_ns(false).saturating_sub(proc.start_mono_ns) / 1_000_000_000;
    let mapped = proc.mm.mapped(0, u64::MAX);
    let mut b = [0u8; 112];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, uptime);
    put(32, proc.mem_size);
    put(40, proc.mem_size.saturating_sub(mapped));
    b[80..82].copy_from_slice(&1u16.to_le_bytes());
    b[104..108].copy_from_slice(&1u32.to_le_bytes());
    p.write_user(buf, &b).map(|_| 0)
}

pub fn prlimit<P: Platform>(proc: &mut Process, p: &mut P, pid: u64, res: u64, new: u64, old: u64) -> SysResult {
    if pid != 0 && pid != proc.pid as u64 {
        return Err(Errno::ESRCH);
    }
    let res = res as usize;
    if res >= RLIMIT_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let new_limit = if new != 0 { Some(UserPtr(new).read::<Rlimit, _>(p)?) } else { None };
    UserPtr(old).write_opt(p, &proc.rlimits[res])?;
    if let Some(l) = new_limit {
        if l.rlim_cur > l.rlim_max {
            return Err(Errno::EINVAL);
        }
        if l.rlim_max > proc.rlimits[res].rlim_max && proc.euid != 0 {
            return Err(Errno::EPERM);
        }
        proc.rlimits[res] = l;
        if res == crate::process::RLIMIT_NOFILE {
            proc.fds.limit = l.rlim_cur.min(1 << 20);
        }
    }
    Ok(0)
}

pub fn getrandom<P: Platform>(p: &mut P, buf: u64, len: u64, flags: u64) -> SysResult {
    const GRND_NONBLOCK: u64 = 1;
    const GRND_RANDOM: u64 = 2;
    const GRND_INSECURE: u64 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.min(33_554_431);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(256) as usize;
        p.random(&mut chunk[..n]);
        if let Err(e) = p.write_user(buf + done, &chunk[..n]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        done += n as u64;
    }
    Ok(done)
}

pub fn sched_getaffinity<P: Platform>(proc: &mut Process, p: &mut P, pid: u64, len: u64, mask: u64) -> SysResult {
    if pid != 0 && pid != proc.pid as u64 {
        return Err(Errno::ESRCH);
    }
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    // One vCPU.
    UserPtr(mask).write(p, &1u64)?;
    Ok(8)
}

pub fn arch_prctl<P: Platform>(p: &mut P, code: u64, addr: u64) -> SysResult {
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    match code {
        ARCH_SET_FS => {
            if addr >= abi::layout::USER_END {
                return Err(Errno::EPERM);
            }
            p.set_fs_base(addr);
            Ok(0)
        }
        ARCH_GET_FS => {
            let fs = p.fs_base();
            UserPtr(addr).write(p, &fs).map(|_| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn prctl<P: Platform>(proc: &mut Process, p: &mut P, option: u64, arg2: u64) -> SysResult {
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_GET_DUMPABLE: u64 = 3;
    const PR_SET_DUMPABLE: u64 = 4;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_SET_CHILD_SUBREAPER: u64 = 36;
    const PR_GET_CHILD_SUBREAPER: u64 = 37;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    match option {
        PR_SET_PDEATHSIG => {
            if arg2 > abi::linux::NSIG as u64 {
                return Err(Errno::EINVAL);
            }
            proc.pdeathsig = arg2 as u32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => UserPtr(arg2).write(p, &proc.pdeathsig).map(|_| 0),
        PR_SET_CHILD_SUBREAPER => {
            proc.subreaper = arg2 != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => UserPtr(arg2).write(p, &(proc.subreaper as u32)).map(|_| 0),
        PR_GET_DUMPABLE => Ok(proc.dumpable as u64),
        PR_SET_DUMPABLE => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            proc.dumpable = arg2 == 1;
            Ok(0)
        }
        PR_SET_NAME => {
            let name = crate::user::read_cstr(p, arg2, usize::MAX).or_else(|e| {
                // Linux copies at most 16 bytes and does not need a NUL within them.
                let mut raw = [0u8; 16];
                p.read_user(arg2, &mut raw).map(|_| raw.to_vec()).map_err(|_| e)
            })?;
            proc.thread.comm = [0; 16];
            let n = name.iter().position(|&c| c == 0).unwrap_or(name.len()).min(15);
            proc.thread.comm[..n].copy_from_slice(&name[..n]);
            Ok(0)
        }
        PR_GET_NAME => {
            let comm = proc.thread.comm;
            UserPtr(arg2).write(p, &comm).map(|_| 0)
        }
        PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 {
                return Err(Errno::EINVAL);
            }
            proc.no_new_privs = true;
            Ok(0)
        }
        PR_GET_NO_NEW_PRIVS => Ok(proc.no_new_privs as u64),
        _ => Err(Errno::EINVAL),
    }
}

/// membarrier: on one vCPU every barrier is already complete, so the
/// commands need only be accepted as Linux accepts them (the private
/// expedited ones after their registration).
pub fn membarrier(proc: &mut Process, cmd: u64, flags: u64) -> SysResult {
    const QUERY: u64 = 0;
    const GLOBAL: u64 = 1;
    const GLOBAL_EXPEDITED: u64 = 2;
    const REGISTER_GLOBAL_EXPEDITED: u64 = 4;
    const PRIVATE_EXPEDITED: u64 = 8;
    const REGISTER_PRIVATE_EXPEDITED: u64 = 16;
    const PRIVATE_EXPEDITED_SYNC_CORE: u64 = 32;
    const REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u64 = 64;
    const SUPPORTED: u64 = GLOBAL
        | GLOBAL_EXPEDITED
        | REGISTER_GLOBAL_EXPEDITED
        | PRIVATE_EXPEDITED
        | REGISTER_PRIVATE_EXPEDITED
        | PRIVATE_EXPEDITED_SYNC_CORE
        | REGISTER_PRIVATE_EXPEDITED_SYNC_CORE;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    match cmd {
        QUERY => Ok(SUPPORTED),
        GLOBAL | GLOBAL_EXPEDITED => Ok(0),
        REGISTER_GLOBAL_EXPEDITED | REGISTER_PRIVATE_EXPEDITED | REGISTER_PRIVATE_EXPEDITED_SYNC_CORE => {
            proc.membarrier_registered |= cmd;
            Ok(0)
        }
        PRIVATE_EXPEDITED | PRIVATE_EXPEDITED_SYNC_CORE => {
            if proc.membarrier_registered & (cmd << 1) == 0 {
                return Err(Errno::EPERM);
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
