//! Hypercalls: a 4-byte write of the guest-physical address of the call's
//! argument struct (below 4 GiB) to the call's doorbell, a slot of an
//! unbacked guest-physical page ([`DOORBELL_PHYS`], mapped by the monitor at
//! [`DOORBELL_VIRT`]), which exits to the monitor as an MMIO write. Unlike
//! port I/O it needs no IOPL, so the program cannot do port I/O itself.
//!
//! Every call costs one exit to the monitor (tens of microseconds on PVM
//! hosts): the kernel batches (console) and caches (stdio metadata in
//! [`crate::boot::BootInfo`]) so that a typical program makes two.

use crate::GuestPhys;

/// Bumped on any incompatible change; the kernel checks it at boot.
pub const ABI_VERSION: u32 = 12;

/// Guest-physical page of the doorbells; no memory backs it.
pub const DOORBELL_PHYS: u64 = 1 << 38;
/// Where the kernel sees it.
pub const DOORBELL_VIRT: u64 = 0xffff_ffff_7fff_f000;

/// The doorbell (guest-physical address) of a call.
pub const fn doorbell(p: Port) -> u64 {
    DOORBELL_PHYS + 8 * (p as u16 - Port::ConsoleWrite as u16) as u64
}

/// Hypercall numbers (historically port numbers, hence the values).
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// [`ConsoleWrite`]: write buffered console records to the host's stdio.
    ConsoleWrite = 0x500,
    /// [`Exit`]: the program exited.
    Exit = 0x501,
    /// [`Killed`]: the program was killed by a signal (fault, abort, kill).
    Killed = 0x502,
    /// [`Sleep`]: block for a duration.
    Sleep = 0x503,
    /// [`Read`]: read from a host stdio descriptor (stdin).
    Read = 0x504,
    /// [`Panic`]: the guest kernel itself failed.
    Panic = 0x505,
    /// [`Clock`]: the host's clocks, to re-anchor the guest's TSC clock.
    Clock = 0x506,
    /// [`FaultAddr`]: the address of the last page fault (CR2, which CPL3 cannot read).
    FaultAddr = 0x507,
    /// [`FlushTlb`]: drop the vCPU's cached translations (CPL3 cannot).
    FlushTlb = 0x508,
    /// [`Poll`]: wait for host stdio descriptors to become ready.
    Poll = 0x509,
    /// [`GrowMemory`]: make more of guest RAM usable.
    GrowMemory = 0x50a,
    /// [`File`]: an operation on a shared host directory or a host file.
    File = 0x50b,
    /// [`Tty`]: set a host terminal's attributes or window size.
    Tty = 0x50c,
    /// [`Wakeups`]: from now on, stop the program at
    /// [`crate::boot::BootInfo::wakeup_ns`] (threads, timers).
    Wakeups = 0x50d,
    /// [`SwitchSpace`]: run another process's page tables (load CR3, which CPL3 cannot).
    SwitchSpace = 0x50e,
}

impl Port {
    pub const ALL: [Port; 15] = [
        Port::ConsoleWrite,
        Port::Exit,
        Port::Killed,
        Port::Sleep,
        Port::Read,
        Port::Panic,
        Port::Clock,
        Port::FaultAddr,
        Port::FlushTlb,
        Port::Poll,
        Port::GrowMemory,
        Port::File,
        Port::Tty,
        Port::Wakeups,
        Port::SwitchSpace,
    ];

    pub fn from_u16(p: u16) -> Option<Port> {
        Port::ALL.into_iter().find(|x| *x as u16 == p)
    }

    /// The call whose doorbell is at guest-physical `addr`.
    pub fn from_doorbell(addr: u64) -> Option<Port> {
        Port::ALL.into_iter().find(|p| doorbell(*p) == addr)
    }
}

/// A console record header inside a [`ConsoleWrite`] buffer: `len` bytes for
/// host descriptor `fd` (1 or 2) follow it. Records keep their order, so
/// stdout and stderr interleave exactly as the program wrote them.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleRecord {
    pub fd: u32,
    pub len: u32,
}

/// Port [`Port::ConsoleWrite`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleWrite {
    /// IN: a sequence of [`ConsoleRecord`]s, each followed by its bytes.
    pub buf: GuestPhys,
    /// IN: total length of the sequence in bytes.
    pub len: u64,
    /// OUT: 0, or the errno of the first failed host write (EPIPE, ...).
    pub error: i32,
    pub _pad: u32,
}

/// Port [`Port::Exit`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Exit {
    /// IN: the status, as given to exit_group (the low 8 bits count).
    pub status: i32,
    pub _pad: u32,
    /// IN: the kernel's counters, for --stats: syscalls served, `syscall`
    /// sites rewritten at run time (slow path), TLB flushes.
    pub syscalls: u64,
    pub slow_sites: u64,
    pub flushes: u64,
}

/// Port [`Port::Killed`]: the monitor ends itself with `signal`, without a
/// core dump, so that its parent sees what a native run gives.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Killed {
    /// IN: the Linux signal number.
    pub signal: u32,
    /// IN: the exception vector if a CPU fault caused it, else u32::MAX.
    pub vector: u32,
    /// IN: the faulting address (page faults), else 0.
    pub addr: u64,
    /// IN: the instruction pointer of the fault, else 0.
    pub rip: u64,
    /// IN: the exception error code.
    pub error_code: u64,
}

/// Port [`Port::Sleep`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep {
    /// IN: nanoseconds to block.
    pub ns: u64,
}

/// Port [`Port::Read`]: a blocking read of a host stdio descriptor.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Read {
    /// IN: host descriptor (only 0 is accepted).
    pub fd: u32,
    pub _pad: u32,
    /// IN: destination buffer.
    pub buf: GuestPhys,
    /// IN: its length.
    pub len: u64,
    /// OUT: bytes read, or a negative errno.
    pub ret: i64,
}

/// Port [`Port::Panic`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Panic {
    /// IN: a UTF-8 message.
    pub msg: GuestPhys,
    /// IN: its length (at most 4096 is shown).
    pub len: u64,
}

/// Port [`Port::Clock`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    /// OUT: host CLOCK_REALTIME in ns.
    pub realtime_ns: u64,
    /// OUT: host CLOCK_MONOTONIC in ns.
    pub monotonic_ns: u64,
}

/// Port [`Port::FaultAddr`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultAddr {
    /// OUT: the vCPU's CR2.
    pub cr2: u64,
}

/// Port [`Port::FlushTlb`]: no arguments.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FlushTlb {
    pub _unused: u64,
}

/// Port [`Port::Poll`]: poll(2) on the host's descriptors 0, 1 and 2.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Poll {
    /// IN: poll events wanted per host descriptor (0: not polled).
    pub events: [u16; 3],
    /// OUT: events that happened.
    pub revents: [u16; 3],
    /// IN: milliseconds to wait; negative waits without limit.
    pub timeout_ms: i32,
    pub _pad: u32,
}

/// Port [`Port::GrowMemory`]. Guest RAM is registered with KVM in steps:
/// registering costs time in proportion to its size (~0.8 ms per GiB on
/// PVM hosts), most programs use a few MiB, and the kernel hands out
/// physical memory bottom-up. Only `[0, end)` may be touched; RAM beyond
/// it exits as an MMIO access.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct GrowMemory {
    /// IN: the end the kernel needs.
    pub want_end: u64,
    /// OUT: the end now usable: at least `want_end` unless RAM is full.
    pub end: u64,
}

/// What a [`File`] call does. Path operations name a path relative to a
/// share's root (no leading `/`; "" is the root itself) and never resolve
/// outside it; handle operations name a host file the guest opened. Linux
/// semantics throughout: `ret` is what the Linux call returns, or -errno.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    /// openat(path, flags, mode): `ret` = a handle, `stat` = its fstat.
    /// O_CREAT and O_TRUNC are refused with EROFS on a read-only share, as
    /// are writable modes. With `path_len` u64::MAX, open(".") of the open
    /// directory `handle`, read-only: the directory itself, even removed.
    Open = 1,
    /// close(handle).
    Close = 2,
    /// read(handle, buf, len) at `offset`, or at the handle's position if
    /// `offset` is -1 (then `offset` OUT is the new position).
    Read = 3,
    /// write(handle, buf, len), positioned as Read (O_APPEND handles append).
    Write = 4,
    /// fstat(handle) into `stat`.
    Fstat = 5,
    /// fstatat(path, flags: AT_SYMLINK_NOFOLLOW) into `stat`; with
    /// [`STAT_ANCESTOR`] in `flags`, the stat of the share root's ancestor
    /// `mode` levels up instead (the guest's directories above a share show
    /// the host's metadata, as `ls -la`'s `..` does natively).
    Stat = 6,
    /// getdents64(handle, buf, len): Linux dirent64 records.
    Getdents = 7,
    /// lseek(handle, offset, whence: `flags`): `ret` = the new position.
    Seek = 8,
    /// mkdirat(path, mode).
    Mkdir = 9,
    /// unlinkat(path, flags: AT_REMOVEDIR).
    Unlink = 10,
    /// renameat2(path, share2:path2, flags).
    Rename = 11,
    /// linkat(path, share2:path2): a new name path2 for path.
    Link = 12,
    /// symlinkat(target: buf/len, path).
    Symlink = 13,
    /// readlinkat(path, buf, len): `ret` = bytes.
    Readlink = 14,
    /// fchmodat(path, mode), or fchmod(handle) when `path_len` is u64::MAX.
    Chmod = 15,
    /// fchownat(path, uid: `mode`, gid: `flags`, AT_SYMLINK_NOFOLLOW in `offset`), or fchown(handle).
    Chown = 16,
    /// utimensat(path, times: buf (two timespecs, or 0 for now), flags), or futimens(handle).
    Utimens = 17,
    /// truncate(path, length: `offset`), or ftruncate(handle).
    Truncate = 18,
    /// fsync(handle); fdatasync when `flags` is 1.
    Fsync = 19,
    /// faccessat(path, mode, flags).
    Access = 20,
    /// fallocate(handle, mode: `flags`, offset, len).
    Fallocate = 21,
    /// statfs on the share of `share` into buf (a Linux struct statfs):
    /// `ret` = its size, 120.
    Statfs = 22,
    /// sendfile(out, handle, offset, len) in the host, no data through the
    /// guest: `out` is the handle in `mode`, or with [`SEND_TO_STDIO`] in
    /// `flags` the host's stdout (1) or stderr (2). `offset` -1 reads at the
    /// handle's position; otherwise `offset` OUT is the position after.
    Sendfile = 23,
    /// Getdents, each record followed by the entry's lstat (a
    /// [`crate::linux::Stat`], 144 bytes): one exit for what `find` or
    /// `ls -l` would otherwise ask one stat at a time. A stat that failed
    /// has st_mode 0.
    GetdentsStat = 24,
    /// The path, relative to the share's root, of what `path` names with
    /// its symlinks resolved (into buf; `ret` = its length): getcwd after a
    /// chdir through a symlink shows the real directory, as on Linux. With
    /// `path_len` u64::MAX, of the open directory `handle`, wherever renames
    /// have moved it (ENOENT once removed).
    Realpath = 25,
}

/// See [`FileOp::Sendfile`].
pub const SEND_TO_STDIO: u32 = 1;

/// Port [`Port::Tty`]: an ioctl on a host stdio descriptor that is a
/// terminal: TCSETS, TCSETSW or TCSETSF with `termios`, or TIOCSWINSZ with
/// `winsize`. The monitor restores the terminal when uk-run exits.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Tty {
    /// IN: the host descriptor (0, 1 or 2).
    pub fd: u32,
    /// IN: the Linux ioctl request.
    pub request: u32,
    pub termios: crate::linux::Termios,
    pub winsize: crate::linux::Winsize,
    pub _pad: u32,
    /// OUT: 0 or -errno.
    pub ret: i64,
}


/// See [`FileOp::Stat`].
pub const STAT_ANCESTOR: u32 = 1 << 30;

impl FileOp {
    pub fn from_u32(v: u32) -> Option<FileOp> {
        use FileOp::*;
        [
            Open, Close, Read, Write, Fstat, Stat, Getdents, Seek, Mkdir, Unlink, Rename, Link, Symlink, Readlink,
            Chmod, Chown, Utimens, Truncate, Fsync, Access, Fallocate, Statfs, Sendfile, GetdentsStat, Realpath,
        ]
        .into_iter()
        .find(|o| *o as u32 == v)
    }
}

/// Port [`Port::File`]: one call, the fields each [`FileOp`] reads.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct File {
    /// IN: a [`FileOp`].
    pub op: u32,
    /// IN: the share `path` is in (an index into the boot information's shares).
    pub share: u32,
    /// IN: the host file, for handle operations.
    pub handle: u32,
    /// IN: the share of `path2`.
    pub share2: u32,
    /// IN: flags, as the op says.
    pub flags: u32,
    /// IN: mode, as the op says.
    pub mode: u32,
    /// IN: a path relative to the share's root.
    pub path: GuestPhys,
    pub path_len: u64,
    /// IN: a second path (rename, link).
    pub path2: GuestPhys,
    pub path2_len: u64,
    /// IN/OUT: data.
    pub buf: GuestPhys,
    pub len: u64,
    /// IN/OUT: a file position, as the op says.
    pub offset: i64,
    /// OUT: the result, or -errno.
    pub ret: i64,
    /// OUT: Fstat and Stat.
    pub stat: crate::linux::Stat,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn ports_round_trip_and_are_distinct() {
        for p in Port::ALL {
            assert_eq!(Port::from_u16(p as u16), Some(p));
        }
        assert_eq!(Port::from_u16(0x4ff), None);
        for p in Port::ALL {
            assert_eq!(Port::from_doorbell(doorbell(p)), Some(p));
        }
        assert_eq!(Port::from_doorbell(DOORBELL_PHYS + 4), None);
    }

    #[test]
    fn structs_have_stable_sizes() {
        assert_eq!(size_of::<ConsoleRecord>(), 8);
        assert_eq!(size_of::<ConsoleWrite>(), 24);
        assert_eq!(size_of::<Exit>(), 32);
        assert_eq!(size_of::<Killed>(), 32);
        assert_eq!(size_of::<Read>(), 32);
        assert_eq!(size_of::<Clock>(), 16);
    }
}

/// Port [`Port::Wakeups`]: no arguments; made once, when the guest first
/// needs to be stopped in its own code at a time (a second thread, a
/// timer). The monitor then starts a host thread that reads
/// [`crate::boot::BootInfo::wakeup_ns`] and, once that time has come,
/// stops the vCPU and enters the kernel as for a signal sent to uk-run,
/// with [`crate::boot::BootInfo::kicked`] set. A run that never needs it
/// pays nothing.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Wakeups {
    pub _unused: u64,
}

/// Port [`Port::SwitchSpace`]: the vCPU's CR3 becomes `root`, the
/// guest-physical address of a PML4 the kernel built (4 KiB aligned,
/// inside guest RAM, its kernel half the same as the running one's).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchSpace {
    pub root: u64,
}
