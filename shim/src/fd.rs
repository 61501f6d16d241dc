//! The descriptor table. For now its objects are the host's stdio streams;
//! file-like objects answer the right errno for what they do not support.

use crate::SysResult;
use abi::boot::StdioInfo;
use abi::linux::Errno;
use alloc::vec::Vec;

pub const O_ACCMODE: u32 = 3;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_APPEND: u32 = 0o2000;
pub const FD_CLOEXEC: u32 = 1;

/// What a descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// One of the host's stdio descriptors, shared through the monitor.
    HostStdio { host_fd: u32, info: StdioInfo },
}

impl Object {
    pub fn status_flags(&self) -> u32 {
        match self {
            Object::HostStdio { info, .. } => info.status_flags,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub object: Object,
    pub cloexec: bool,
    /// Status flags set by F_SETFL (O_APPEND, O_NONBLOCK) and the access mode.
    pub status: u32,
}

/// Lowest-free-slot descriptor table.
#[derive(Debug, Default)]
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

    /// Installs at exactly `fd`, replacing what was there.
    pub fn install_at(&mut self, fd: u64, e: Entry) -> Result<(), Errno> {
        if fd >= self.limit {
            return Err(Errno::EBADF);
        }
        let fd = fd as usize;
        if self.slots.len() <= fd {
            self.slots.resize(fd + 1, None);
        }
        self.slots[fd] = Some(e);
        Ok(())
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

    pub fn close(&mut self, fd: u64) -> Result<Entry, Errno> {
        self.slots.get_mut(fd as usize).and_then(|s| s.take()).ok_or(Errno::EBADF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            object: Object::HostStdio { host_fd: 1, info: StdioInfo::default() },
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
        assert_eq!(t.install_at(4, entry()), Err(Errno::EBADF));
    }
}
