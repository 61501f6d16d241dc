//! System V IPC inside the guest: message queues, semaphore sets and
//! shared memory segments. The VM holds one process, so the objects live
//! in it; a wait (a full queue, an empty one, a semaphore that cannot
//! move) lets the other threads run and tries again when one changes.

use crate::sched::{self, Wait, WaitOn};
use crate::user::UserPtr;
use crate::{Platform, Process, SysResult};
use abi::layout::{page_up, PAGE_SIZE};
use abi::linux::Errno;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

const IPC_PRIVATE: i32 = 0;
const IPC_CREAT: u64 = 0o1000;
const IPC_EXCL: u64 = 0o2000;
const IPC_NOWAIT: u64 = 0o4000;
const IPC_RMID: u64 = 0;
const IPC_SET: u64 = 1;
const IPC_STAT: u64 = 2;
const IPC_INFO: u64 = 3;
/// glibc may add IPC_64 to the command; x86-64 has only the 64-bit layouts.
const IPC_64: u64 = 0x100;
const MSG_INFO: u64 = 12;
const SEM_INFO: u64 = 19;
const SHM_INFO: u64 = 14;

/// Limits as Linux's defaults.
const MSGMNB: u64 = 16384;
const MSGMAX: u64 = 8192;
const SEMMSL: u64 = 32000;
const SEMVMX: i32 = 32767;
const SHMMAX: u64 = u64::MAX - (1 << 24);

#[derive(Debug, Clone, Copy, Default)]
struct Perm {
    key: i32,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    mode: u32,
    seq: u16,
}

impl Perm {
    /// struct ipc64_perm (48 bytes).
    fn bytes(&self) -> [u8; 48] {
        let mut b = [0u8; 48];
        for (i, v) in [self.key as u32, self.uid, self.gid, self.cuid, self.cgid, self.mode].iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[24..26].copy_from_slice(&self.seq.to_le_bytes());
        b
    }
}

#[derive(Debug)]
struct Queue {
    perm: Perm,
    msgs: VecDeque<(i64, Vec<u8>)>,
    bytes: u64,
    qbytes: u64,
    times: [u64; 3],
    pids: [u32; 2],
}

#[derive(Debug)]
struct SemSet {
    perm: Perm,
    vals: Vec<(i32, u32)>,
    times: [u64; 2],
}

#[derive(Debug)]
struct Segment {
    perm: Perm,
    size: u64,
    frames: Vec<u64>,
    nattch: u64,
    removed: bool,
    times: [u64; 3],
    pids: [u32; 2],
}

/// The process's IPC objects; ids are unique across the three kinds.
#[derive(Debug, Default)]
pub struct Ipc {
    queues: BTreeMap<i32, Queue>,
    sems: BTreeMap<i32, SemSet>,
    segs: BTreeMap<i32, Segment>,
    /// shmat address -> (segment id, length).
    pub(crate) attaches: BTreeMap<u64, (i32, u64)>,
    next: i32,
}

impl Ipc {
    fn new_id(&mut self) -> i32 {
        self.next += 1;
        self.next
    }
}

fn secs<P: Platform>(p: &mut P) -> u64 {
    p.clock_ns(true) / 1_000_000_000
}

fn perm_for(proc: &Process, key: i32, flags: u64) -> Perm {
    Perm { key, uid: proc.euid, gid: proc.egid, cuid: proc.euid, cgid: proc.egid, mode: (flags & 0o777) as u32, seq: 0 }
}

/// The id of the object with `key` in `map`, or a new one made by `make`:
/// the rules of msgget, semget and shmget.
fn get<T>(map: &BTreeMap<i32, T>, key: i32, flags: u64, perm: impl Fn(&T) -> Perm, fits: impl Fn(&T) -> Result<(), Errno>) -> Result<Option<i32>, Errno> {
    if key == IPC_PRIVATE {
        return Ok(None);
    }
    match map.iter().find(|(_, v)| perm(v).key == key) {
        Some((&id, v)) => {
            if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            fits(v)?;
            Ok(Some(id))
        }
        None if flags & IPC_CREAT == 0 => Err(Errno::ENOENT),
        None => Ok(None),
    }
}

/// Waits until IPC object `id` changes (then the call runs again) or is
/// removed (EIDRM).
fn wait(proc: &mut Process, id: i32, deadline: Option<u64>) -> SysResult {
    let w = Wait::new(WaitOn::Ipc(id), deadline, Some(Err(Errno::EAGAIN)), Errno::EINTR);
    sched::block(proc, w)
}

/// Object `id` changed (`removed`: it is gone): its waiters run again, or answer EIDRM.
fn changed(proc: &mut Process, id: i32, removed: bool) {
    let waiting: Vec<crate::sched::Tid> = core::iter::once(&proc.thread)
        .chain(proc.threads.others.values())
        .filter(|t| matches!(t.wait, Some(Wait { on: WaitOn::Ipc(w), .. }) if w == id))
        .map(|t| t.tid)
        .collect();
    for tid in waiting {
        sched::wake(proc, tid, removed.then_some(Err(Errno::EIDRM)));
    }
}

/// IPC_INFO's answer: the limits, as `ints` 32-bit words (msginfo,
/// seminfo) or the shminfo64 layout, and the highest id in use.
fn info<P: Platform>(p: &mut P, buf: u64, words: &[u64], wide: bool, highest: i32) -> SysResult {
    let bytes: Vec<u8> = if wide {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    } else {
        words.iter().flat_map(|w| (*w as u32).to_le_bytes()).collect()
    };
    p.write_user(buf, &bytes)?;
    Ok(highest.max(0) as u64)
}

pub fn msgget<P: Platform>(proc: &mut Process, p: &mut P, key: u64, flags: u64) -> SysResult {
    if let Some(id) = get(&proc.ipc.queues, key as i32, flags, |q| q.perm, |_| Ok(()))? {
        return Ok(id as u64);
    }
    let id = proc.ipc.new_id();
    let now = secs(p);
    let perm = perm_for(proc, key as i32, flags);
    proc.ipc.queues.insert(id, Queue { perm, msgs: VecDeque::new(), bytes: 0, qbytes: MSGMNB, times: [0, 0, now], pids: [0; 2] });
    Ok(id as u64)
}

pub fn msgsnd<P: Platform>(proc: &mut Process, p: &mut P, id: u64, msgp: u64, size: u64, flags: u64) -> SysResult {
    if size > MSGMAX {
        return Err(Errno::EINVAL);
    }
    let mtype: i64 = UserPtr(msgp).read(p)?;
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let mut text = alloc::vec![0u8; size as usize];
    p.read_user(msgp + 8, &mut text)?;
    let (now, pid) = (secs(p), proc.pid);
    let q = proc.ipc.queues.get_mut(&(id as i32)).ok_or(Errno::EINVAL)?;
    if q.bytes + size > q.qbytes {
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        return wait(proc, id as i32, None);
    }
    q.bytes += size;
    q.msgs.push_back((mtype, text));
    q.times[0] = now;
    q.pids[0] = pid;
    changed(proc, id as i32, false);
    Ok(0)
}

pub fn msgrcv<P: Platform>(proc: &mut Process, p: &mut P, id: u64, msgp: u64, size: u64, mtype: u64, flags: u64) -> SysResult {
    const MSG_NOERROR: u64 = 0o10000;
    const MSG_EXCEPT: u64 = 0o20000;
    const MSG_COPY: u64 = 0o40000;
    if (size as i64) < 0 || flags & MSG_COPY != 0 {
        return Err(Errno::EINVAL);
    }
    let t = mtype as i64;
    let (now, pid) = (secs(p), proc.pid);
    let q = proc.ipc.queues.get_mut(&(id as i32)).ok_or(Errno::EINVAL)?;
    let pick = match t {
        0 => (!q.msgs.is_empty()).then_some(0),
        t if t > 0 && flags & MSG_EXCEPT != 0 => q.msgs.iter().position(|m| m.0 != t),
        t if t > 0 => q.msgs.iter().position(|m| m.0 == t),
        t => {
            // The lowest type at most |t|, the first of them.
            let lim = t.unsigned_abs() as i64;
            q.msgs.iter().enumerate().filter(|(_, m)| m.0 <= lim).min_by_key(|(i, m)| (m.0, *i)).map(|(i, _)| i)
        }
    };
    let Some(i) = pick else {
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG);
        }
        return wait(proc, id as i32, None);
    };
    if q.msgs[i].1.len() as u64 > size && flags & MSG_NOERROR == 0 {
        return Err(Errno::E2BIG);
    }
    let (mt, text) = q.msgs.remove(i).unwrap_or_default();
    q.bytes -= text.len() as u64;
    q.times[1] = now;
    q.pids[1] = pid;
    let n = (text.len() as u64).min(size);
    UserPtr(msgp).write(p, &mt)?;
    p.write_user(msgp + 8, &text[..n as usize])?;
    changed(proc, id as i32, false);
    Ok(n)
}

pub fn msgctl<P: Platform>(proc: &mut Process, p: &mut P, id: u64, cmd: u64, buf: u64) -> SysResult {
    let cmd = cmd & !IPC_64;
    if cmd == IPC_INFO || cmd == MSG_INFO {
        // struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql, msgseg.
        let highest = proc.ipc.queues.keys().max().copied().unwrap_or(0);
        return info(p, buf, &[32000, 32000, MSGMAX, MSGMNB, 32000, 16, 32000, 0xffff], false, highest);
    }
    let now = secs(p);
    let q = proc.ipc.queues.get_mut(&(id as i32)).ok_or(Errno::EINVAL)?;
    match cmd {
        IPC_STAT => {
            // struct msqid64_ds: perm, stime, rtime, ctime, cbytes, qnum, qbytes, lspid, lrpid, 2 unused.
            let mut b = [0u8; 120];
            b[..48].copy_from_slice(&q.perm.bytes());
            for (i, v) in [q.times[0], q.times[1], q.times[2], q.bytes, q.msgs.len() as u64, q.qbytes].iter().enumerate() {
                b[48 + 8 * i..56 + 8 * i].copy_from_slice(&v.to_le_bytes());
            }
            b[96..100].copy_from_slice(&q.pids[0].to_le_bytes());
            b[100..104].copy_from_slice(&q.pids[1].to_le_bytes());
            p.write_user(buf, &b).map(|_| 0)
        }
        IPC_SET => {
            let mut b = [0u8; 120];
            p.read_user(buf, &mut b)?;
            let w = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
            q.perm.uid = w(4);
            q.perm.gid = w(8);
            q.perm.mode = w(20) & 0o777;
            q.qbytes = u64::from_le_bytes(b[88..96].try_into().unwrap_or([0; 8]));
            q.times[2] = now;
            Ok(0)
        }
        IPC_RMID => {
            proc.ipc.queues.remove(&(id as i32));
            changed(proc, id as i32, true);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn semget<P: Platform>(proc: &mut Process, p: &mut P, key: u64, nsems: u64, flags: u64) -> SysResult {
    if nsems > SEMMSL {
        return Err(Errno::EINVAL);
    }
    let fits = |s: &SemSet| if (nsems as usize) > s.vals.len() { Err(Errno::EINVAL) } else { Ok(()) };
    if let Some(id) = get(&proc.ipc.sems, key as i32, flags, |s| s.perm, fits)? {
        return Ok(id as u64);
    }
    if nsems == 0 {
        return Err(Errno::EINVAL);
    }
    let id = proc.ipc.new_id();
    let now = secs(p);
    let perm = perm_for(proc, key as i32, flags);
    proc.ipc.sems.insert(id, SemSet { perm, vals: alloc::vec![(0, 0); nsems as usize], times: [0, now] });
    Ok(id as u64)
}

/// semop and semtimedop: all the operations at once, or none (waiting
/// until they can be). SEM_UNDO is accepted; its adjustments matter only
/// to other processes, and the VM holds one.
pub fn semtimedop<P: Platform>(proc: &mut Process, p: &mut P, id: u64, sops: u64, nsops: u64, timeout: u64) -> SysResult {
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    if nsops > 500 {
        return Err(Errno::E2BIG);
    }
    let mut ops = Vec::with_capacity(nsops as usize);
    for i in 0..nsops {
        let mut b = [0u8; 6];
        p.read_user(sops + 6 * i, &mut b)?;
        ops.push((u16::from_le_bytes([b[0], b[1]]), i16::from_le_bytes([b[2], b[3]]), i16::from_le_bytes([b[4], b[5]])));
    }
    let deadline = match (proc.thread.deadline, timeout) {
        (Some(d), _) => Some(d),
        (None, 0) => None,
        (None, t) => {
            let ns = crate::time::from_timespec(&UserPtr(t).read(p)?)?;
            Some(p.clock_ns(false).saturating_add(ns))
        }
    };
    let (now, pid) = (secs(p), proc.pid);
    let s = proc.ipc.sems.get_mut(&(id as i32)).ok_or(Errno::EINVAL)?;
    if ops.iter().any(|o| o.0 as usize >= s.vals.len()) {
        return Err(Errno::EFBIG);
    }
    let mut vals: Vec<i32> = s.vals.iter().map(|v| v.0).collect();
    let mut blocked = None;
    for &(num, op, flg) in &ops {
        let v = &mut vals[num as usize];
        match op {
            0 if *v != 0 => blocked = Some(flg),
            0 => {}
            op if op > 0 => {
                if *v + op as i32 > SEMVMX {
                    return Err(Errno::ERANGE);
                }
                *v += op as i32;
            }
            op if *v >= -(op as i32) => *v += op as i32,
            _ => blocked = Some(flg),
        }
        if blocked.is_some() {
            break;
        }
    }
    if let Some(flg) = blocked {
        if flg as u64 & IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        if deadline.is_some_and(|d| d <= p.clock_ns(false)) {
            return Err(Errno::EAGAIN);
        }
        proc.thread.deadline = deadline;
        return wait(proc, id as i32, deadline);
    }
    for (slot, v) in s.vals.iter_mut().zip(vals) {
        slot.0 = v;
    }
    for &(num, ..) in &ops {
        s.vals[num as usize].1 = pid;
    }
    s.times[0] = now;
    changed(proc, id as i32, false);
    Ok(0)
}

pub fn semctl<P: Platform>(proc: &mut Process, p: &mut P, id: u64, num: u64, cmd: u64, arg: u64) -> SysResult {
    const GETPID: u64 = 11;
    const GETVAL: u64 = 12;
    const GETALL: u64 = 13;
    const GETNCNT: u64 = 14;
    const GETZCNT: u64 = 15;
    const SETVAL: u64 = 16;
    const SETALL: u64 = 17;
    let cmd = cmd & !IPC_64;
    if cmd == IPC_INFO || cmd == SEM_INFO {
        // struct seminfo: semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem.
        let highest = proc.ipc.sems.keys().max().copied().unwrap_or(0);
        return info(p, arg, &[32000, 32000, 1 << 30, 32000, SEMMSL, 500, 500, 20, SEMVMX as u64, 32767], false, highest);
    }
    let now = secs(p);
    let s = proc.ipc.sems.get_mut(&(id as i32)).ok_or(Errno::EINVAL)?;
    let n = s.vals.len();
    let one = |num: u64| if (num as usize) < n { Ok(num as usize) } else { Err(Errno::EINVAL) };
    let r = match cmd {
        GETVAL => Ok(s.vals[one(num)?].0 as u64),
        GETPID => Ok(s.vals[one(num)?].1 as u64),
        GETNCNT | GETZCNT => {
            one(num)?;
            Ok(0)
        }
        SETVAL => {
            let v = arg as i32;
            if !(0..=SEMVMX).contains(&v) {
                return Err(Errno::ERANGE);
            }
            s.vals[one(num)?].0 = v;
            s.times[1] = now;
            Ok(0)
        }
        GETALL => {
            let b: Vec<u8> = s.vals.iter().flat_map(|v| (v.0 as u16).to_le_bytes()).collect();
            p.write_user(arg, &b).map(|_| 0)
        }
        SETALL => {
            let mut b = alloc::vec![0u8; 2 * n];
            p.read_user(arg, &mut b)?;
            let vals: Vec<i32> = b.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as i32).collect();
            if vals.iter().any(|&v| v > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            for (slot, v) in s.vals.iter_mut().zip(vals) {
                slot.0 = v;
            }
            s.times[1] = now;
            Ok(0)
        }
        IPC_STAT => {
            // struct semid64_ds: perm, otime, unused, ctime, unused, nsems, 2 unused.
            let mut b = [0u8; 104];
            b[..48].copy_from_slice(&s.perm.bytes());
            b[48..56].copy_from_slice(&s.times[0].to_le_bytes());
            b[64..72].copy_from_slice(&s.times[1].to_le_bytes());
            b[80..88].copy_from_slice(&(n as u64).to_le_bytes());
            p.write_user(arg, &b).map(|_| 0)
        }
        IPC_SET => {
            let mut b = [0u8; 48];
            p.read_user(arg, &mut b)?;
            let w = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
            s.perm.uid = w(4);
            s.perm.gid = w(8);
            s.perm.mode = w(20) & 0o777;
            s.times[1] = now;
            Ok(0)
        }
        IPC_RMID => {
            proc.ipc.sems.remove(&(id as i32));
            changed(proc, id as i32, true);
            return Ok(0);
        }
        _ => Err(Errno::EINVAL),
    };
    changed(proc, id as i32, false);
    r
}

pub fn shmget<P: Platform>(proc: &mut Process, p: &mut P, key: u64, size: u64, flags: u64) -> SysResult {
    let fits = |s: &Segment| if size > s.size { Err(Errno::EINVAL) } else { Ok(()) };
    if let Some(id) = get(&proc.ipc.segs, key as i32, flags, |s| s.perm, fits)? {
        return Ok(id as u64);
    }
    if size == 0 || size > SHMMAX {
        return Err(Errno::EINVAL);
    }
    let frames = p.alloc_frames(page_up(size) / PAGE_SIZE)?;
    let id = proc.ipc.new_id();
    let (now, pid) = (secs(p), proc.pid);
    let perm = perm_for(proc, key as i32, flags);
    proc.ipc.segs.insert(id, Segment { perm, size, frames, nattch: 0, removed: false, times: [0, 0, now], pids: [pid, 0] });
    Ok(id as u64)
}

pub fn shmat<P: Platform>(proc: &mut Process, p: &mut P, id: u64, addr: u64, flags: u64) -> SysResult {
    const SHM_RDONLY: u64 = 0o10000;
    const SHM_RND: u64 = 0o20000;
    const SHM_REMAP: u64 = 0o40000;
    const SHMLBA: u64 = PAGE_SIZE;
    let id = id as i32;
    let seg = proc.ipc.segs.get(&id).ok_or(Errno::EINVAL)?;
    let len = page_up(seg.size);
    let frames = seg.frames.clone();
    let at = if addr == 0 {
        proc.mm.find_free(len).ok_or(Errno::ENOMEM)?
    } else if flags & SHM_RND != 0 {
        addr & !(SHMLBA - 1)
    } else if addr % SHMLBA != 0 {
        return Err(Errno::EINVAL);
    } else {
        addr
    };
    // In the user half, above the lowest 64 KiB, as mmap's MAP_FIXED.
    if at < 0x10000 || at.checked_add(len).is_none_or(|e| e > abi::layout::USER_END) {
        return Err(Errno::EINVAL);
    }
    if !proc.mm.is_free(at, at + len) {
        if flags & SHM_REMAP == 0 {
            return Err(Errno::EINVAL);
        }
        crate::sys_mem::munmap(proc, p, at, len)?;
    }
    let prot = if flags & SHM_RDONLY != 0 { abi::linux::PROT_READ } else { abi::linux::PROT_READ | abi::linux::PROT_WRITE };
    p.map_frames(at, &frames, prot)?;
    proc.mm.insert(at, crate::mm::Vma { end: at + len, prot, kind: crate::mm::Kind::Anon });
    let (now, pid) = (secs(p), proc.pid);
    let seg = proc.ipc.segs.get_mut(&id).ok_or(Errno::EINVAL)?;
    seg.nattch += 1;
    seg.times[0] = now;
    seg.pids[1] = pid;
    proc.ipc.attaches.insert(at, (id, len));
    Ok(at)
}

pub fn shmdt<P: Platform>(proc: &mut Process, p: &mut P, addr: u64) -> SysResult {
    let (id, len) = proc.ipc.attaches.remove(&addr).ok_or(Errno::EINVAL)?;
    proc.mm.carve(addr, addr + len);
    // The frames are the segment's: unmapping them does not free them.
    p.unmap(addr, len);
    let (now, pid) = (secs(p), proc.pid);
    if let Some(seg) = proc.ipc.segs.get_mut(&id) {
        seg.nattch -= 1;
        seg.times[1] = now;
        seg.pids[1] = pid;
        if seg.removed && seg.nattch == 0 {
            let s = proc.ipc.segs.remove(&id);
            if let Some(s) = s {
                p.free_frames(&s.frames);
            }
        }
    }
    Ok(0)
}

pub fn shmctl<P: Platform>(proc: &mut Process, p: &mut P, id: u64, cmd: u64, buf: u64) -> SysResult {
    const SHM_LOCK: u64 = 11;
    const SHM_UNLOCK: u64 = 12;
    const SHM_DEST: u32 = 0o1000;
    let cmd = cmd & !IPC_64;
    if cmd == IPC_INFO || cmd == SHM_INFO {
        // struct shminfo64: shmmax, shmmin, shmmni, shmseg, shmall, 4 unused.
        let highest = proc.ipc.segs.keys().max().copied().unwrap_or(0);
        return info(p, buf, &[SHMMAX, 1, 4096, 4096, SHMMAX / PAGE_SIZE, 0, 0, 0, 0], true, highest);
    }
    let now = secs(p);
    let seg = proc.ipc.segs.get_mut(&(id as i32)).ok_or(Errno::EINVAL)?;
    match cmd {
        IPC_STAT => {
            // struct shmid64_ds: perm, segsz, atime, dtime, ctime, cpid, lpid, nattch, 2 unused.
            let mut b = [0u8; 112];
            let mut perm = seg.perm;
            if seg.removed {
                perm.mode |= SHM_DEST;
            }
            b[..48].copy_from_slice(&perm.bytes());
            for (i, v) in [seg.size, seg.times[0], seg.times[1], seg.times[2]].iter().enumerate() {
                b[48 + 8 * i..56 + 8 * i].copy_from_slice(&v.to_le_bytes());
            }
            b[80..84].copy_from_slice(&seg.pids[0].to_le_bytes());
            b[84..88].copy_from_slice(&seg.pids[1].to_le_bytes());
            b[88..96].copy_from_slice(&seg.nattch.to_le_bytes());
            p.write_user(buf, &b).map(|_| 0)
        }
        IPC_SET => {
            let mut b = [0u8; 48];
            p.read_user(buf, &mut b)?;
            let w = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
            seg.perm.uid = w(4);
            seg.perm.gid = w(8);
            seg.perm.mode = w(20) & 0o777;
            seg.times[2] = now;
            Ok(0)
        }
        IPC_RMID => {
            seg.removed = true;
            // Its key is free for a new segment at once, as on Linux.
            seg.perm.key = IPC_PRIVATE;
            if seg.nattch == 0 {
                if let Some(s) = proc.ipc.segs.remove(&(id as i32)) {
                    p.free_frames(&s.frames);
                }
            }
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// munmap (or a MAP_FIXED mapping) over a segment's attach ends that attach.
pub fn unmapped<P: Platform>(proc: &mut Process, p: &mut P, start: u64, end: u64) {
    let gone: Vec<u64> = proc.ipc.attaches.iter().filter(|(&a, &(_, len))| a < end && a + len > start).map(|(&a, _)| a).collect();
    for at in gone {
        let _ = shmdt(proc, p, at);
    }
}

/// execve: the old program's attaches go (the address space does).
pub fn detach_all<P: Platform>(proc: &mut Process, p: &mut P) {
    let attaches: Vec<u64> = proc.ipc.attaches.keys().copied().collect();
    for at in attaches {
        let _ = shmdt(proc, p, at);
    }
}
