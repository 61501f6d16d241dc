//! What the syscall layer needs from the machine under it.

use abi::linux::Errno;
use alloc::vec::Vec;

/// Details of a CPU fault that becomes a signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultInfo {
    pub vector: u32,
    pub addr: u64,
    pub rip: u64,
    pub error_code: u64,
}

/// The data a [`Platform::host_file`] call moves.
pub enum FileData<'a> {
    None,
    /// The program's memory [addr, addr+len), sent to the host.
    FromUser(u64, u64),
    /// Filled from the host into the program's memory [addr, addr+len).
    ToUser(u64, u64),
    /// Kernel bytes sent to the host.
    In(&'a [u8]),
    /// A kernel buffer filled from the host.
    Out(&'a mut [u8]),
}

/// The services of the kernel under the syscall layer.
///
/// User addresses are the program's virtual addresses; the platform checks
/// them (mapped, permitted) and answers EFAULT otherwise.
pub trait Platform {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno>;

    /// Appends to the console buffer for host descriptor `host_fd`, in order.
    /// Flushes as the buffer's policy says (full, newline on a terminal).
    fn console_write(&mut self, host_fd: u32, data: &[u8]) -> Result<(), Errno>;
    /// Sends everything buffered to the host now.
    fn console_flush(&mut self);
    /// A blocking read of a host descriptor (the console is flushed first).
    fn host_read(&mut self, host_fd: u32, buf: &mut [u8]) -> Result<usize, Errno>;

    /// A File hypercall (abi::hc::File) on a shared host directory or a host
    /// file: `call` holds the op and its numbers, `path` and `path2` the
    /// share-relative paths, `data` the bytes it moves. A large transfer may
    /// take several calls (stopping at a short one); the result is then the
    /// bytes moved in all. Returns the Linux result or errno; `call` holds
    /// the last call's OUT fields (offset, stat).
    fn host_file(&mut self, call: &mut abi::hc::File, path: &[u8], path2: &[u8], data: FileData<'_>) -> Result<u64, Errno>;

    /// A terminal ioctl on a host stdio descriptor (abi::hc::Tty); the
    /// console is flushed first (output before a mode change is in the old mode).
    fn host_tty(&mut self, call: &mut abi::hc::Tty) -> Result<(), Errno>;

    /// poll(2) on host descriptors 0..3 (the console is flushed first).
    fn host_poll(&mut self, events: [u16; 3], timeout_ms: i32) -> [u16; 3];

    /// Nanoseconds on the host's CLOCK_REALTIME or CLOCK_MONOTONIC.
    fn clock_ns(&mut self, realtime: bool) -> u64;
    /// Blocks for `ns` nanoseconds (the console is flushed first).
    fn sleep_ns(&mut self, ns: u64);
    /// Fills `buf` from the guest's seeded random generator.
    fn random(&mut self, buf: &mut [u8]);

    /// Ends the program with an exit status. Flushes the console.
    fn exit(&mut self, status: i32) -> !;
    /// Ends the program by a signal, as its default action. Flushes the console.
    fn kill(&mut self, signal: u32, fault: Option<FaultInfo>) -> !;
    /// One diagnostic line, `uk-run: MSG`, on the host's stderr, in order
    /// with the program's output.
    fn note(&mut self, msg: core::fmt::Arguments<'_>);

    /// A warning line: `uk-run: warning: MSG`.
    fn warn(&mut self, msg: core::fmt::Arguments<'_>) {
        self.note(format_args!("warning: {msg}"))
    }

    /// The program's memory [addr, addr+len) as a slice, if all of it is
    /// mapped readable (the kernel shares the program's address space).
    fn user_slice(&self, addr: u64, len: u64) -> Result<&[u8], Errno>;
    /// Copies `len` bytes of program memory from `src` to `dst` (execve's loading).
    fn copy_in_user(&mut self, dst: u64, src: u64, len: u64) -> Result<(), Errno>;
    /// The rewritten `cpuid` sites of a new program (sorted).
    fn set_cpuid_sites(&mut self, sites: &[u64]);
    /// AT_HWCAP: cpuid leaf 1's edx.
    fn hwcap(&self) -> u64;
    /// What `cpuid` answers in the guest (for /proc/cpuinfo).
    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4];
    /// Runs a new program from `entry` with stack pointer `sp`; the current
    /// syscall never returns.
    fn start_program(&mut self, entry: u64, sp: u64) -> !;

    fn set_fs_base(&mut self, base: u64);
    fn fs_base(&self) -> u64;

    /// Maps fresh zeroed anonymous memory (no frames for PROT_NONE).
    fn map(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno>;
    /// Maps fresh zeroed memory read-write for a program's image (execve),
    /// in 2 MiB pages where it can.
    fn map_large(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        self.map(addr, len, abi::linux::PROT_READ | abi::linux::PROT_WRITE)
    }
    /// Unmaps and frees the frames of a range (holes are fine).
    fn unmap(&mut self, addr: u64, len: u64);
    /// Changes the protection of a range; pages without frames get fresh ones.
    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno>;
    /// Whether the page at `addr` has a frame.
    fn is_mapped(&self, addr: u64) -> bool;
    /// Changes the protection of the pages of a range that have frames; the
    /// others stay without (memory whose frames come on first touch).
    fn protect_mapped(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno>;
    /// Moves the pages of [old, old+len) to [new, new+len), which is unmapped.
    fn remap(&mut self, old: u64, new: u64, len: u64);
    /// Replaces the mapped pages of a range with zeroed ones (MADV_DONTNEED).
    fn discard(&mut self, addr: u64, len: u64);
    /// How many times cached translations were flushed so far (memory
    /// unmapped before the last flush can be mapped again without one).
    fn tlb_generation(&self) -> u64;
    /// [addr, addr+len) becomes memory whose frames come on first touch:
    /// nothing of what was mapped there before may still be reachable.
    fn reserve_lazy(&mut self, addr: u64, len: u64);
    /// Maps a fresh zeroed 2 MiB page at `addr` (2 MiB aligned, nothing
    /// mapped in it yet), if the machine can; false: map 4 KiB pages.
    fn map_huge(&mut self, addr: u64, prot: u32) -> bool;

    /// A signal sent to uk-run that the program has not been given yet (0: none).
    fn take_host_signal(&mut self) -> u32;

    /// Bytes of the FPU image in a signal frame (xsave format, with room
    /// for its trailing magic word).
    fn fpu_image_size(&self) -> u64;
    /// Writes the running thread's FPU state to user memory at `addr`
    /// (64-byte aligned), as a signal frame holds it.
    fn save_fpu(&mut self, addr: u64) -> Result<(), Errno>;
    /// Loads the running thread's FPU state from a signal frame's image at
    /// `addr`; EFAULT for an image that cannot be loaded.
    fn restore_fpu(&mut self, addr: u64) -> Result<(), Errno>;

    /// Makes the kernel side of a new thread: it will start in user mode
    /// with `regs`, FS base `fs`, and a copy of the running thread's FPU state.
    fn spawn_thread(&mut self, tid: u32, regs: &crate::signal::Regs, fs: u64) -> Result<(), Errno>;
    /// Thread `tid` has ended: its kernel side can go once it no longer runs.
    fn thread_exit(&mut self, tid: u32);
    /// The running thread's id changes (execve from a thread other than the first).
    fn thread_renamed(&mut self, old: u32, new: u32);

    /// `n` zeroed frames for a shared memory segment (SysV shm), owned by it.
    fn alloc_frames(&mut self, n: u64) -> Result<Vec<u64>, Errno>;
    /// Maps a segment's frames at `addr` (unmapping them later does not free them).
    fn map_frames(&mut self, addr: u64, frames: &[u64], prot: u32) -> Result<(), Errno>;
    /// Gives a segment's frames back, once nothing maps them.
    fn free_frames(&mut self, frames: &[u64]);

    /// A new address space (see crate::procs): a copy of the running one's
    /// user memory (`copy`: fork), or an empty one (execve after vfork).
    /// Returns its handle.
    fn new_space(&mut self, copy: bool) -> Result<u64, Errno>;
    /// The running address space's handle.
    fn space(&self) -> u64;
    /// Runs address space `space` from now on.
    fn switch_space(&mut self, space: u64);
    /// Frees an address space that no longer runs.
    fn free_space(&mut self, space: u64);
    /// The running thread is gone (its process has ended): runs the others
    /// and never comes back.
    fn leave(&mut self) -> !;
}
