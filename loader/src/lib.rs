//! Everything uk-run needs to turn a static Linux x86-64 ELF file into a
//! process image, without touching memory itself.
//!
//! - [`parse`] validates the ELF file (64-bit, x86-64, statically linked,
//!   `ET_EXEC` or static-pie `ET_DYN`, sane `PT_LOAD`s) and returns an
//!   [`Image`]: the segments to map (already relocated), the entry point, the
//!   values the auxiliary vector needs and where the heap starts.
//! - [`find_syscall_sites`] finds every `syscall` instruction of a code
//!   segment by a linear-sweep decode, so the caller can overwrite each with
//!   [`CALL_RAX`] (the zpoline technique: `rax` holds the syscall number, and
//!   the page at address 0 holds a sled that leads to the syscall handler).
//! - [`build_stack`] lays out the initial process stack (argc, argv, envp,
//!   auxv and the strings they point to) exactly as Linux does.
//! - [`auxv`] has the `AT_*` auxiliary-vector keys.
//!
//! The crate is `no_std` + `alloc` and has no `unsafe`; the host monitor uses
//! it today and the guest kernel will later.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod auxv;
mod elf;
mod rewrite;
mod stack;

pub use elf::{parse, Image, Kind, Prot, Segment};
pub use rewrite::{find_sites, find_syscall_sites, Sites, CALL_RAX, CPUID, SYSCALL};
pub use stack::{build_stack, StackArgs};

/// The page size of x86-64 user space.
pub const PAGE_SIZE: u64 = 4096;

/// Why a file cannot be run. The messages read well after a file name:
/// `"{path}: {error}"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file does not start with the ELF magic (a script, a text file...).
    #[error("not an ELF file")]
    NotElf,
    /// `ELFCLASS32`.
    #[error("is a 32-bit ELF; uk-run runs 64-bit x86-64 programs only")]
    Not64Bit,
    /// Another `e_machine`: its name (`"aarch64"`) or `"machine 0x..."`.
    #[error("is an ELF for another machine ({0}); uk-run runs x86-64 programs only")]
    NotX86_64(alloc::string::String),
    /// Neither `ET_EXEC` nor `ET_DYN`: the type's name (`"ET_REL"`, ...).
    #[error("is not an executable ELF (type {0})")]
    NotExecutable(alloc::string::String),
    /// Has a `PT_INTERP`: the interpreter's path.
    #[error(
        "is dynamically linked (interpreter {0}); uk-run runs statically linked programs only: rebuild with -static"
    )]
    Dynamic(alloc::string::String),
    /// Anything else that is wrong with the file (or, for [`build_stack`],
    /// with the arguments).
    #[error("is a truncated or corrupt ELF: {0}")]
    Corrupt(&'static str),
}

/// Rounds `x` down to a multiple of [`PAGE_SIZE`].
pub(crate) const fn page_floor(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}
