//! The descriptor table. Its objects are the host's stdio streams and open
//! files (in-memory, devices, or host files in shares); file-like objects
//! answer the right errno for what they do not support.

use crate::SysResult;
use abi::boot::StdioInfo;
use abi::linux::Errno;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

pub const O_ACCMODE: u32 = 3;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_PATH: u32 = 0o10000000;
pub const FD_CLOEXEC: u32 = 1;

/// What an open file is.
#[derive(Debug, Clone)]
pub enum FileKind {
    /// A host file or directory in share `share`, open in the monitor as
    /// `handle`. A regular file (`seekable`) has its position here and is
    /// read ahead; others (FIFOs, devices) use the host's position.
    Host { share: u32, handle: u32, dir: bool, seekable: bool },
    /// An in-memory node: file, directory or device.
    Mem(usize),
    /// A /proc directory, or a /proc file and the text it had when opened.
    Proc(crate::vfs::ProcNode, Vec<u8>),
    /// One end of a pipe (the process holds both: no other can fill or drain it).
    Pipe { buf: Rc<RefCell<Pipe>>, write: bool },
    /// An epoll set, eventfd or timerfd.
    Event(Rc<RefCell<crate::sys_event::Event>>),
}

/// A pipe's bytes, and how many ends of each kind are open.
#[derive(Debug, Default)]
pub struct Pipe {
    pub data: alloc::collections::VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
    pub ino: u64,
}

/// What a pipe holds at most, as Linux's default.
pub const PIPE_BUF_SIZE: usize = 64 << 10;

impl Drop for OpenFile {
    fn drop(&mut self) {
        if let FileKind::Pipe { buf, write } = &self.kind {
            let mut b = buf.borrow_mut();
            if *write {
                b.writers -= 1;
            } else {
                b.readers -= 1;
            }
        }
    }
}

/// A directory listing: (inode, d_type, name) per entry.
pub type Listing = Vec<(u64, u8, Vec<u8>)>;

/// An open file description: dup'd descriptors share it (and its position).
#[derive(Debug)]
pub struct OpenFile {
    pub kind: FileKind,
    /// The absolute guest path it was opened by (for *at() and /proc/self/fd).
    pub path: Vec<u8>,
    /// The position, except for host files that are not seekable.
    pub pos: Cell<u64>,
    /// Bytes read ahead from a seekable host file, where they start, and
    /// the count of host-file changes when they were read.
    pub ahead: RefCell<(u64, Vec<u8>)>,
    pub ahead_gen: Cell<u64>,
    /// An in-memory directory's entries as the listing started: entries
    /// made while a program reads it do not shift it (nor come twice).
    pub listing: RefCell<Option<Listing>>,
    /// A directory's current path, if renames may have moved it, and the
    /// count of renames (sys_fs::MOVES) it was found at.
    pub moved: RefCell<Option<(u64, Vec<u8>)>>,
}

impl OpenFile {
    pub fn new(kind: FileKind, path: Vec<u8>) -> OpenFile {
        OpenFile { kind, path, pos: Cell::new(0), ahead: RefCell::new((0, Vec::new())), ahead_gen: Cell::new(u64::MAX), listing: RefCell::new(None), moved: RefCell::new(None) }
    }
}

/// What a descriptor refers to.
#[derive(Debug, Clone)]
pub enum Object {
    /// One of the host's stdio descriptors, shared through the monitor.
    HostStdio { host_fd: u32, info: alloc::boxed::Box<StdioInfo> },
    File(Rc<OpenFile>),
}

impl Object {
    pub fn status_flags(&self) -> u32 {
        match self {
            Object::HostStdio { info, .. } => info.status_flags,
            Object::File(_) => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub object: Object,
    pub cloexec: bool,
    /// Status flags set by F_SETFL (O_APPEND, O_NONBLOCK) and the access mode.
    pub status: u32,
}

/// Lowest-free-slot descriptor table.
#[derive(Debug, Default, Clone)]
pub struct FdTable {
    slots: Vec<Option<Entry>>,
    /// RLIMIT_NOFILE soft limit.
    pub limit: u64,
}

impl FdTable {
    pub fn new(limit: u64) -> Self {
        FdTable { slots: Vec::new(), limit }
    }

    pub fn get(&self, fd: u64) -> Result<&Entry, Errno> {
        self.slots.get(fd as usize).and_then(|s| s.as_ref()).ok_or(Errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: u64) -> Result<&mut Entry, Errno> {
        self.slots.get_mut(fd as usize).and_then(|s| s.as_mut()).ok_or(Errno::EBADF)
    }

    /// Installs at exactly `fd`; returns what was there.
    pub fn install_at(&mut self, fd: u64, e: Entry) -> Result<Option<Entry>, Errno> {
        if fd >= self.limit {
            return Err(Errno::EBADF);
        }
        let fd = fd as usize;
        if self.slots.len() <= fd {
            self.slots.resize(fd + 1, None);
        }
        Ok(self.slots[fd].replace(e))
    }

    /// The open descriptors, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Entry)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|e| (i as u64, e)))
    }

    /// Installs at the lowest free slot at or above `min`.
    pub fn install_from(&mut self, min: u64, e: Entry) -> SysResult {
        let mut fd = min as usize;
        while fd < self.slots.len() && self.slots[fd].is_some() {
            fd += 1;
        }
        if fd as u64 >= self.limit {
            return Err(Errno::EMFILE);
        }
        self.install_at(fd as u64, e)?;
        Ok(fd as u64)
    }

    /// Every open descriptor's entry, the table left empty (a process's end).
    pub fn into_entries(self) -> Vec<Entry> {
        self.slots.into_iter().flatten().collect()
    }

    pub fn close(&mut self, fd: u64) -> Result<Entry, Errno> {
        self.slots.get_mut(fd as usize).and_then(|s| s.take()).ok_or(Errno::EBADF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            object: Object::HostStdio { host_fd: 1, info: alloc::boxed::Box::default() },
            cloexec: false,
            status: 1,
        }
    }

    #[test]
    fn lowest_free_slot_and_limits() {
        let mut t = FdTable::new(4);
        assert_eq!(t.install_from(0, entry()), Ok(0));
        assert_eq!(t.install_from(0, entry()), Ok(1));
        assert_eq!(t.install_from(3, entry()), Ok(3));
        assert_eq!(t.install_from(0, entry()), Ok(2));
        assert_eq!(t.install_from(0, entry()), Err(Errno::EMFILE));
        assert!(t.close(1).is_ok());
        assert_eq!(t.close(1).unwrap_err(), Errno::EBADF);
        assert_eq!(t.install_from(0, entry()), Ok(1));
        assert_eq!(t.install_at(4, entry()).unwrap_err(), Errno::EBADF);
    }
}
