//! The Linux syscall layer of uk-run's guest kernel.
//!
//! Everything here is plain logic over a [`Platform`], which the kernel
//! implements with page tables, the console buffer and hypercalls, and the
//! tests implement with a fake user memory. [`table`] is the one place that
//! maps syscall numbers (the `syscalls` crate's `Sysno`) to handlers, and it
//! doubles as the compatibility list.
#![cfg_attr(not(test), no_std)]
extern crate alloc;

pub mod fd;
pub mod mm;
pub mod platform;
pub mod process;
pub mod procs;
pub mod sched;
pub mod signal;
pub mod table;
pub mod time;
pub mod user;
pub mod vfs;

mod sys_io;
pub(crate) mod sys_ipc;
mod procfs;
mod sys_event;
pub mod sys_exec;
mod sys_fs;
pub mod sys_mem;
mod sys_proc;
mod sys_signal;
mod sys_thread;
mod sys_time;
mod sys_timer;

#[cfg(test)]
mod fake;

pub use abi::linux::Errno;
pub use platform::{FaultInfo, Platform};
pub use process::Process;
pub use sys_mem::{fault_in, out_of_memory, write_back_all};
pub use sys_signal::{deliver, fault, host_signal, Restart};
pub use signal::{Regs, Trap};
pub use table::{resumed, syscall, Outcome};

/// What a syscall handler returns: a value, or an errno.
pub type SysResult = Result<u64, Errno>;
