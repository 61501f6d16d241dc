//! Typed access to user memory through the [`Platform`].

use crate::Platform;
use abi::linux::Errno;
use abi::pod::{as_bytes, as_bytes_mut, Pod};

/// A user-space address as the program passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPtr(pub u64);

impl UserPtr {
    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    pub fn read<T: Pod, P: Platform + ?Sized>(self, p: &P) -> Result<T, Errno> {
        let mut v = T::default();
        p.read_user(self.0, as_bytes_mut(&mut v))?;
        Ok(v)
    }

    pub fn write<T: Pod, P: Platform + ?Sized>(self, p: &mut P, v: &T) -> Result<(), Errno> {
        p.write_user(self.0, as_bytes(v))
    }

    /// Writes `v` unless the pointer is NULL.
    pub fn write_opt<T: Pod, P: Platform + ?Sized>(self, p: &mut P, v: &T) -> Result<(), Errno> {
        if self.is_null() {
            Ok(())
        } else {
            self.write(p, v)
        }
    }

    pub fn add(self, n: u64) -> UserPtr {
        UserPtr(self.0.wrapping_add(n))
    }
}

/// Reads a NUL-terminated string of at most `max` bytes (ENAMETOOLONG past it).
pub fn read_cstr<P: Platform + ?Sized>(
    p: &P,
    addr: u64,
    max: usize,
) -> Result<alloc::vec::Vec<u8>, Errno> {
    let mut out = alloc::vec::Vec::new();
    let mut chunk = [0u8; 256];
    let mut at = addr;
    loop {
        // Never read across a page boundary in one go: the next page may be unmapped.
        let room = (4096 - (at & 4095)) as usize;
        let n = room.min(chunk.len());
        p.read_user(at, &mut chunk[..n])?;
        if let Some(i) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..i]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        at += n as u64;
    }
}
