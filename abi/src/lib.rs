//! The one definition of everything the monitor and the guest kernel share.
//!
//! - [`hc`]: the hypercall ABI: a version, a call number per call, one
//!   `#[repr(C)]` struct per call with IN/OUT fields. A hypercall writes the
//!   guest-physical address of its struct to the call's MMIO doorbell. The
//!   monitor checks every address and length.
//! - [`layout`]: the guest's virtual and physical memory layout.
//! - [`boot`]: the boot information the monitor hands the kernel.
//! - [`linux`]: the Linux user ABI types (errno, `struct stat`, termios, ...).
#![no_std]

pub mod boot;
pub mod hc;
pub mod layout;
pub mod linux;
pub mod pod;

/// A guest-physical address. The monitor never dereferences one without
/// checking it against guest memory first.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GuestPhys(pub u64);
