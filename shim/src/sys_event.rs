//! Event descriptors: epoll, eventfd and timerfd, and the readiness that
//! poll, select and epoll share.

use crate::fd::{Entry, FileKind, Object, OpenFile, O_CLOEXEC, O_NONBLOCK, O_RDWR};
use crate::sched::{self, Wait};
use crate::time::{from_timespec, to_timespec};
use crate::user::UserPtr;
use crate::{sys_fs, Platform, Process, SysResult};
use abi::linux::{Errno, Timespec};
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

pub const POLLIN: u16 = 0x1;
pub const POLLOUT: u16 = 0x4;
pub const POLLERR: u16 = 0x8;
pub const POLLHUP: u16 = 0x10;
pub const POLLNVAL: u16 = 0x20;
/// Errors and hang-ups are reported whatever was asked.
const ALWAYS: u16 = POLLERR | POLLHUP;

/// An event descriptor's state.
#[derive(Debug)]
pub enum Event {
    Epoll(Epoll),
    EventFd { count: u64, semaphore: bool },
    TimerFd(TimerFd),
}

#[derive(Debug, Default)]
pub struct Epoll {
    /// fd -> registration.
    interest: BTreeMap<i32, Interest>,
}

/// What a registration's descriptor named when it was added: a closed and
/// reused descriptor is not the same registration.
#[derive(Debug, Clone)]
enum Ident {
    File(alloc::rc::Weak<OpenFile>),
    Stdio(u32),
}

impl Ident {
    fn of(e: &Entry) -> Ident {
        match &e.object {
            Object::File(f) => Ident::File(Rc::downgrade(f)),
            Object::HostStdio { host_fd, .. } => Ident::Stdio(*host_fd),
        }
    }

    /// Whether `e` is the same open file (a weak reference keeps the old
    /// one's address from being reused).
    fn is(&self, e: &Entry) -> bool {
        match (self, &e.object) {
            (Ident::File(w), Object::File(f)) => core::ptr::eq(w.as_ptr(), Rc::as_ptr(f)),
            (Ident::Stdio(a), Object::HostStdio { host_fd, .. }) => a == host_fd,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Interest {
    events: u32,
    data: u64,
    ident: Ident,
    /// EPOLLET: the I/O generation and readiness last reported.
    seen_gen: u64,
    seen: u16,
}

#[derive(Debug, Clone, Copy)]
pub struct TimerFd {
    pub realtime: bool,
    /// CLOCK_MONOTONIC ns of the next expiration.
    pub due: Option<u64>,
    pub interval: u64,
    pub expirations: u64,
}

impl TimerFd {
    /// Counts the expirations up to `now`.
    fn advance(&mut self, now: u64) {
        let Some(due) = self.due else { return };
        if due > now {
            return;
        }
        let n = if self.interval > 0 { 1 + (now - due) / self.interval } else { 1 };
        self.expirations = self.expirations.saturating_add(n);
        self.due = (self.interval > 0).then(|| due.saturating_add(n.saturating_mul(self.interval)));
    }
}

const EPOLLET: u32 = 1 << 31;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLWAKEUP: u32 = 1 << 29;
const EPOLL_CTL_ADD: u64 = 1;
const EPOLL_CTL_DEL: u64 = 2;
const EPOLL_CTL_MOD: u64 = 3;

fn install<P: Platform>(proc: &mut Process, _p: &mut P, ev: Event, name: &str, flags: u32) -> SysResult {
    let f = OpenFile::new(FileKind::Event(Rc::new(RefCell::new(ev))), alloc::format!("anon_inode:{name}").into_bytes());
    let e = Entry { object: Object::File(Rc::new(f)), cloexec: flags & O_CLOEXEC != 0, status: O_RDWR | (flags & O_NONBLOCK) };
    proc.fds.install_from(0, e)
}

pub fn epoll_create1<P: Platform>(proc: &mut Process, p: &mut P, flags: u64) -> SysResult {
    if flags as u32 & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install(proc, p, Event::Epoll(Epoll::default()), "[eventpoll]", flags as u32)
}

fn event_of(proc: &Process, fd: u64) -> Result<Rc<RefCell<Event>>, Errno> {
    match &proc.fds.get(fd)?.object {
        Object::File(f) => match &f.kind {
            FileKind::Event(e) => Ok(e.clone()),
            _ => Err(Errno::EINVAL),
        },
        _ => Err(Errno::EINVAL),
    }
}

pub fn epoll_ctl<P: Platform>(proc: &mut Process, p: &mut P, epfd: u64, op: u64, fd: u64, event: u64) -> SysResult {
    let ep = event_of(proc, epfd)?;
    let target = proc.fds.get(fd)?.clone();
    let target = &target;
    if fd == epfd {
        return Err(Errno::EINVAL);
    }
    let id = Ident::of(target);
    // Regular files and directories are always ready: Linux refuses them.
    if let Object::File(f) = &target.object {
        if matches!(f.kind, FileKind::Host { seekable: true, .. } | FileKind::Host { dir: true, .. } | FileKind::Mem(_) | FileKind::Proc(..)) {
            return Err(Errno::EPERM);
        }
    }
    let (events, data) = if op != EPOLL_CTL_DEL {
        let raw: [u8; 12] = {
            let mut b = [0u8; 12];
            p.read_user(event, &mut b)?;
            b
        };
        (u32::from_le_bytes(raw[0..4].try_into().unwrap_or([0; 4])), u64::from_le_bytes(raw[4..12].try_into().unwrap_or([0; 8])))
    } else {
        (0, 0)
    };
    let mut e = ep.borrow_mut();
    let Event::Epoll(set) = &mut *e else { return Err(Errno::EINVAL) };
    let key = fd as i32;
    let live = set.interest.get(&key).is_some_and(|i| i.ident.is(target));
    match op {
        EPOLL_CTL_ADD => {
            if live {
                return Err(Errno::EEXIST);
            }
            set.interest.insert(key, Interest { events: events & !(EPOLLWAKEUP | EPOLLEXCLUSIVE) | (events & EPOLLEXCLUSIVE), data, ident: id, seen_gen: u64::MAX, seen: 0 });
        }
        EPOLL_CTL_MOD => {
            if !live {
                return Err(Errno::ENOENT);
            }
            if events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            set.interest.insert(key, Interest { events, data, ident: id, seen_gen: u64::MAX, seen: 0 });
        }
        EPOLL_CTL_DEL => {
            if !live {
                return Err(Errno::ENOENT);
            }
            set.interest.remove(&key);
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// Readiness of descriptor `fd` for `events` (poll bits), without the
/// host: None for a host stdio descriptor. `due` gets the time a timerfd
/// becomes ready, if sooner.
pub fn ready_local<P: Platform>(proc: &Process, p: &mut P, fd: i32, events: u16, due: &mut Option<u64>) -> Option<u16> {
    if fd < 0 {
        return Some(0);
    }
    match proc.fds.get(fd as u64) {
        Err(_) => Some(POLLNVAL),
        Ok(Entry { object: Object::HostStdio { .. }, .. }) => None,
        Ok(Entry { object: Object::File(f), .. }) => Some(match &f.kind {
            FileKind::Pipe { buf, write } => sys_fs::pipe_poll(buf, *write) & (events | ALWAYS),
            FileKind::Event(e) => event_poll(p, &mut e.borrow_mut(), due) & (events | ALWAYS),
            // Files are always ready, as on Linux.
            _ => events & (POLLIN | POLLOUT),
        }),
    }
}

fn event_poll<P: Platform>(p: &mut P, e: &mut Event, due: &mut Option<u64>) -> u16 {
    match e {
        Event::EventFd { count, .. } => (if *count > 0 { POLLIN } else { 0 }) | if *count < u64::MAX - 1 { POLLOUT } else { 0 },
        Event::TimerFd(t) => {
            t.advance(p.clock_ns(false));
            if t.expirations > 0 {
                POLLIN
            } else {
                if let Some(d) = t.due {
                    *due = Some(due.map_or(d, |x: u64| x.min(d)));
                }
                0
            }
        }
        // An epoll set inside a poll: ready when one of its own is (not looked into here).
        Event::Epoll(_) => 0,
    }
}

/// The events ready for each (fd, events) of poll, select and epoll: a
/// look at the host's stdio without waiting, when one is asked about; if
/// none is ready and `timeout_ms` allows, the thread waits (EBLOCK) and
/// the call runs again when something may have changed.
pub fn poll_items<P: Platform>(proc: &mut Process, p: &mut P, items: &[(i32, u16)], timeout_ms: i32) -> Result<Vec<u16>, Errno> {
    let mut due = None;
    let mut host = [0u16; 3];
    let mut out: Vec<Option<u16>> = Vec::with_capacity(items.len());
    for &(fd, events) in items {
        let r = ready_local(proc, p, fd, events, &mut due);
        if r.is_none() {
            if let Ok(Entry { object: Object::HostStdio { host_fd, .. }, .. }) = proc.fds.get(fd as u64) {
                host[*host_fd as usize] |= events | ALWAYS;
            }
        }
        out.push(r);
    }
    let any_local = out.iter().any(|r| r.is_some_and(|v| v != 0));
    let now = p.clock_ns(false);
    let deadline = match (proc.thread.deadline, timeout_ms) {
        (Some(d), _) => Some(d),
        (None, t) if t < 0 => None,
        (None, t) => Some(now.saturating_add(t as u64 * 1_000_000)),
    };
    let expired = deadline.is_some_and(|d| d <= now);
    let wants_host = host != [0; 3];
    let alone = proc.nthreads() == 1 && proc.timers.is_empty() && due.is_none();
    let ready = if !wants_host {
        [0; 3]
    } else if any_local || expired {
        p.host_poll(host, 0)
    } else if alone {
        // Nothing else can happen in the guest meanwhile: wait in the host's poll.
        let ms = deadline.map_or(-1, |d| (d - now).div_ceil(1_000_000).min(i32::MAX as u64) as i32);
        let r = p.host_poll(host, ms);
        let after = p.clock_ns(false);
        proc.blocked_ns += after.saturating_sub(now);
        if r == [0; 3] && deadline.is_none_or(|d| after < d) {
            // Cut short by a signal sent to uk-run: EINTR if a handler runs, else again.
            return Err(Errno::ERESTARTNOHAND);
        }
        r
    } else {
        p.host_poll(host, 0)
    };
    let result: Vec<u16> = items
        .iter()
        .zip(&out)
        .map(|(&(fd, events), r)| match r {
            Some(v) => *v,
            None => match proc.fds.get(fd as u64) {
                Ok(Entry { object: Object::HostStdio { host_fd, .. }, .. }) => ready[*host_fd as usize] & (events | ALWAYS),
                _ => 0,
            },
        })
        .collect();
    if result.iter().any(|&r| r != 0) || expired || (alone && wants_host) {
        return Ok(result);
    }
    let deadline = match (deadline, due) {
        (Some(d), Some(t)) => Some(d.min(t)),
        (d, t) => d.or(t),
    };
    proc.thread.deadline = proc.thread.deadline.or(match timeout_ms {
        t if t < 0 => None,
        t => Some(now + t as u64 * 1_000_000),
    });
    sched::block(proc, Wait::io(host, deadline, Errno::ERESTARTNOHAND))
        .map(|_| Vec::new())
}

/// epoll_wait and epoll_pwait (the mask is set by the caller).
pub fn epoll_wait<P: Platform>(proc: &mut Process, p: &mut P, epfd: u64, events: u64, max: u64, timeout_ms: i32) -> SysResult {
    if max == 0 || max > (i32::MAX as u64) / 12 {
        return Err(Errno::EINVAL);
    }
    let ep = event_of(proc, epfd)?;
    // Registrations whose descriptor was closed (or reused) go.
    let regs: Vec<(i32, Interest)> = {
        let mut e = ep.borrow_mut();
        let Event::Epoll(set) = &mut *e else { return Err(Errno::EINVAL) };
        set.interest.retain(|&fd, i| proc.fds.get(fd as u64).is_ok_and(|e| i.ident.is(e)));
        set.interest.iter().map(|(&fd, i)| (fd, i.clone())).collect()
    };
    let items: Vec<(i32, u16)> = regs.iter().map(|(fd, i)| (*fd, (i.events & 0xffff) as u16 | ALWAYS)).collect();
    let now = p.clock_ns(false);
    if proc.thread.deadline.is_none() && timeout_ms > 0 {
        proc.thread.deadline = Some(now + timeout_ms as u64 * 1_000_000);
    }
    let gen = proc.threads.io_gen;
    // Edge-triggered ones already reported, with nothing new since, are not
    // ready again; disabled ones (EPOLLONESHOT) report nothing.
    let fresh = |i: &Interest, r: u16| {
        r != 0 && i.events & 0xffff != 0 && (i.events & EPOLLET == 0 || i.seen_gen != gen || r & !i.seen != 0)
    };
    let ready = poll_items(proc, p, &items, timeout_ms)?;
    let any = regs.iter().zip(&ready).any(|((_, i), &r)| fresh(i, r & ((i.events & 0xffff) as u16 | ALWAYS)));
    {
        // A registration whose readiness dropped reports its next edge.
        let mut e = ep.borrow_mut();
        if let Event::Epoll(set) = &mut *e {
            for ((fd, _), &r) in regs.iter().zip(&ready) {
                if let Some(reg) = set.interest.get_mut(fd).filter(|_| r == 0) {
                    reg.seen = 0;
                    reg.seen_gen = u64::MAX;
                }
            }
        }
    }
    if !any && timeout_ms != 0 && proc.thread.deadline.is_none_or(|d| d > now) {
        // Ready only by the edge rule: wait for the next change, of the
        // host's stdio, another thread's I/O or a timerfd's time.
        let mut host = [0u16; 3];
        let mut due = None;
        for &(fd, ev) in &items {
            match proc.fds.get(fd as u64) {
                Ok(Entry { object: Object::HostStdio { host_fd, .. }, .. }) => host[*host_fd as usize] |= ev,
                Ok(Entry { object: Object::File(f), .. }) => {
                    if let FileKind::Event(e) = &f.kind {
                        if let Event::TimerFd(t) = &*e.borrow() {
                            due = t.due.map(|d| due.map_or(d, |x: u64| x.min(d))).or(due);
                        }
                    }
                }
                _ => {}
            }
        }
        let d = match (proc.thread.deadline, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        return sched::block(proc, Wait::io(host, d, Errno::ERESTARTNOHAND));
    }
    let mut n = 0u64;
    let mut e = ep.borrow_mut();
    let Event::Epoll(set) = &mut *e else { return Err(Errno::EINVAL) };
    for ((fd, i), &r) in regs.iter().zip(&ready) {
        if n >= max {
            break;
        }
        let r = r & ((i.events & 0xffff) as u16 | ALWAYS);
        if !fresh(i, r) {
            continue;
        }
        let mut rec = [0u8; 12];
        rec[0..4].copy_from_slice(&(r as u32).to_le_bytes());
        rec[4..12].copy_from_slice(&i.data.to_le_bytes());
        p.write_user(events + 12 * n, &rec)?;
        n += 1;
        if let Some(reg) = set.interest.get_mut(fd) {
            reg.seen_gen = gen;
            reg.seen = r;
            if reg.events & EPOLLONESHOT != 0 {
                reg.events &= !0xffff;
            }
        }
    }
    Ok(n)
}

pub fn eventfd2<P: Platform>(proc: &mut Process, p: &mut P, initval: u64, flags: u64) -> SysResult {
    const EFD_SEMAPHORE: u32 = 1;
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    install(proc, p, Event::EventFd { count: initval as u32 as u64, semaphore: flags & EFD_SEMAPHORE != 0 }, "[eventfd]", flags)
}

pub fn timerfd_create<P: Platform>(proc: &mut Process, p: &mut P, clock: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let realtime = match clock {
        0 | 8 => true,
        1 | 7 | 9 => false,
        _ => return Err(Errno::EINVAL),
    };
    install(proc, p, Event::TimerFd(TimerFd { realtime, due: None, interval: 0, expirations: 0 }), "[timerfd]", flags)
}

fn timer_left<P: Platform>(p: &mut P, t: &TimerFd) -> [Timespec; 2] {
    let now = p.clock_ns(false);
    [to_timespec(t.interval), to_timespec(t.due.map_or(0, |d| d.saturating_sub(now).max(1)))]
}

pub fn timerfd_settime<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, flags: u64, new: u64, old: u64) -> SysResult {
    const TFD_TIMER_ABSTIME: u64 = 1;
    const TFD_TIMER_CANCEL_ON_SET: u64 = 2;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let e = event_of(proc, fd)?;
    let [i, v]: [Timespec; 2] = UserPtr(new).read(p)?;
    let (value, interval) = (from_timespec(&v)?, from_timespec(&i)?);
    let mut ev = e.borrow_mut();
    let Event::TimerFd(t) = &mut *ev else { return Err(Errno::EINVAL) };
    let prev = timer_left(p, t);
    let now = p.clock_ns(false);
    t.due = (value != 0).then(|| {
        if flags & TFD_TIMER_ABSTIME != 0 {
            let clock_now = p.clock_ns(t.realtime);
            now.saturating_add(value.saturating_sub(clock_now))
        } else {
            now.saturating_add(value)
        }
    });
    t.interval = interval;
    t.expirations = 0;
    drop(ev);
    // A thread waiting on it waits for the new time.
    sched::wake_io(proc);
    UserPtr(old).write_opt(p, &prev).map(|_| 0)
}

pub fn timerfd_gettime<P: Platform>(proc: &mut Process, p: &mut P, fd: u64, cur: u64) -> SysResult {
    let e = event_of(proc, fd)?;
    let mut ev = e.borrow_mut();
    let Event::TimerFd(t) = &mut *ev else { return Err(Errno::EINVAL) };
    t.advance(p.clock_ns(false));
    let v = timer_left(p, t);
    drop(ev);
    UserPtr(cur).write(p, &v).map(|_| 0)
}

/// read of an eventfd (its count, or 1 in semaphore mode) or a timerfd
/// (the expirations since the last read).
pub fn read<P: Platform>(proc: &mut Process, p: &mut P, e: &Rc<RefCell<Event>>, nonblock: bool, buf: u64, len: u64) -> SysResult {
    if len < 8 {
        return Err(Errno::EINVAL);
    }
    let mut ev = e.borrow_mut();
    let (v, due) = match &mut *ev {
        Event::EventFd { count, semaphore } => {
            if *count == 0 {
                (None, None)
            } else if *semaphore {
                *count -= 1;
                (Some(1), None)
            } else {
                (Some(core::mem::take(count)), None)
            }
        }
        Event::TimerFd(t) => {
            t.advance(p.clock_ns(false));
            if t.expirations == 0 {
                (None, t.due)
            } else {
                (Some(core::mem::take(&mut t.expirations)), None)
            }
        }
        Event::Epoll(_) => return Err(Errno::EINVAL),
    };
    drop(ev);
    match v {
        Some(v) => {
            UserPtr(buf).write(p, &v)?;
            sched::wake_io(proc);
            Ok(8)
        }
        None if nonblock => Err(Errno::EAGAIN),
        None => sched::block(proc, Wait::io([0; 3], due, Errno::ERESTARTSYS)),
    }
}

/// write of an eventfd: adds to its count.
pub fn write<P: Platform>(proc: &mut Process, p: &mut P, e: &Rc<RefCell<Event>>, nonblock: bool, buf: u64, len: u64) -> SysResult {
    if len < 8 {
        return Err(Errno::EINVAL);
    }
    let add: u64 = UserPtr(buf).read(p)?;
    if add == u64::MAX {
        return Err(Errno::EINVAL);
    }
    let mut ev = e.borrow_mut();
    let Event::EventFd { count, .. } = &mut *ev else { return Err(Errno::EINVAL) };
    if u64::MAX - 1 - *count < add {
        drop(ev);
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        return sched::block(proc, Wait::io([0; 3], None, Errno::ERESTARTSYS));
    }
    *count += add;
    drop(ev);
    sched::wake_io(proc);
    Ok(8)
}
