//! Plain-old-data: types that may be copied to and from raw bytes (guest or
//! user memory). The only `unsafe` of this crate.

/// # Safety
/// Implementors are `#[repr(C)]`, `Copy`, have no padding whose contents
/// matter and no invalid bit patterns (any byte string is a valid value).
pub unsafe trait Pod: Copy + Default + 'static {}

pub fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod: every byte of it may be read; the slice borrows v.
    unsafe { core::slice::from_raw_parts(v as *const T as *const u8, core::mem::size_of::<T>()) }
}

pub fn as_bytes_mut<T: Pod>(v: &mut T) -> &mut [u8] {
    // SAFETY: T is Pod: any byte pattern written is a valid T; the slice borrows v mutably.
    unsafe { core::slice::from_raw_parts_mut(v as *mut T as *mut u8, core::mem::size_of::<T>()) }
}

/// Reads a T from the start of `bytes`, or None if it is too short.
pub fn read_from<T: Pod>(bytes: &[u8]) -> Option<T> {
    let mut v = T::default();
    let n = core::mem::size_of::<T>();
    as_bytes_mut(&mut v).copy_from_slice(bytes.get(..n)?);
    Some(v)
}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: repr(C) (or primitive) with only integer fields; any bit pattern is valid.
        unsafe impl Pod for $t {}
    )* };
}

pod!(u8, u16, u32, u64, i32, i64, [u8; 16], [u64; 2], [u64; 3], [u64; 4]);
pod!(crate::GuestPhys);
pod!(crate::linux::Stat, crate::linux::Termios, crate::linux::Winsize, crate::linux::Utsname);
pod!(crate::linux::Timespec, [crate::linux::Timespec; 2], crate::linux::Timeval, crate::linux::Rlimit, crate::linux::KSigaction);
pod!(crate::linux::SigInfo, crate::linux::StackT, [crate::linux::Timeval; 2]);
pod!(crate::hc::ConsoleRecord, crate::hc::ConsoleWrite, crate::hc::Exit, crate::hc::Killed);
pod!(crate::hc::Sleep, crate::hc::Read, crate::hc::Panic, crate::hc::Clock, crate::hc::FaultAddr, crate::hc::FlushTlb, crate::hc::Poll, crate::hc::GrowMemory, crate::hc::File, crate::hc::Tty, crate::hc::Wakeups, crate::hc::SwitchSpace);
