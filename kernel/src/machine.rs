//! The kernel's implementation of the syscall layer's [`Platform`]: user
//! memory through the page tables, the console, the TSC clock, the random
//! generator, and the hypercalls that end the program.

use crate::console::Console;
use crate::hypercall;
use crate::mem::Memory;
use abi::hc::Killed;
use abi::linux::Errno;
use abi::layout::{CPUID_TRAMPOLINES, PAGE_SIZE, TRAMPOLINE, USER_END};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use shim::platform::FileData;
use shim::{FaultInfo, Platform};

pub struct Clock {
    tsc_ref: u64,
    /// Nanoseconds per TSC tick, as a 32.32 fixed-point number.
    mult: u64,
    realtime_ref: u64,
    monotonic_ref: u64,
}

impl Clock {
    pub fn new(tsc_khz: u64, tsc_ref: u64, realtime_ref: u64, monotonic_ref: u64) -> Clock {
        let mult = ((1_000_000u128 << 32) / tsc_khz.max(1) as u128) as u64;
        Clock { tsc_ref, mult, realtime_ref, monotonic_ref }
    }

    pub fn tsc_ref(&self) -> u64 {
        self.tsc_ref
    }

    pub fn mult(&self) -> u64 {
        self.mult
    }

    /// Nanoseconds since the reference point.
    fn elapsed(&self) -> u64 {
        let d = crate::arch::rdtsc().wrapping_sub(self.tsc_ref);
        ((d as u128 * self.mult as u128) >> 32) as u64
    }
}

pub struct Machine {
    pub mem: Memory,
    pub console: Console,
    pub clock: Clock,
    pub cpuid: crate::cpuid::Cpuid,
    pub tasks: crate::task::Tasks,
    rng: ChaCha20Rng,
}

impl Machine {
    pub fn new(mem: Memory, console: Console, clock: Clock, seed: [u8; 32], cpuid: crate::cpuid::Cpuid, first_tid: u32) -> Machine {
        let tasks = crate::task::Tasks::new(first_tid, &cpuid);
        Machine { mem, console, clock, cpuid, tasks, rng: ChaCha20Rng::from_seed(seed) }
    }

    /// Reads user memory by walking the page tables: for exception
    /// handlers, where a fault must not happen (see arch::copy_user).
    pub fn read_user_walked(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0usize;
        while done < buf.len() {
            let va = addr.checked_add(done as u64).ok_or(Errno::EFAULT)?;
            let n = ((PAGE_SIZE - (va & (PAGE_SIZE - 1))) as usize).min(buf.len() - done);
            let p = self.mem.translate(va, false).ok_or(Errno::EFAULT)?;
            // SAFETY: p..p+n is inside one user page the page tables map
            // readable, seen through the direct map; buf has room for n more.
            unsafe { core::ptr::copy_nonoverlapping(p as *const u8, buf.as_mut_ptr().add(done), n) };
            done += n;
        }
        Ok(())
    }

    /// Whether [addr, addr+len) is program memory the kernel may copy
    /// through: in the user half, and not a trampoline page (mapped for the
    /// CPU, not for the program: a NULL buffer must give EFAULT).
    fn user_range(addr: u64, len: usize) -> Result<(), Errno> {
        let end = addr.checked_add(len as u64).filter(|&e| e <= USER_END).ok_or(Errno::EFAULT)?;
        let hits = |t: u64| addr < t + PAGE_SIZE && end > t;
        if len > 0 && (hits(TRAMPOLINE) || CPUID_TRAMPOLINES.iter().any(|&t| hits(t))) {
            return Err(Errno::EFAULT);
        }
        Ok(())
    }

    fn end(&mut self) {
        self.console.flush();
    }
}

impl Platform for Machine {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        Self::user_range(addr, buf.len())?;
        // SAFETY: buf is kernel memory of that length; the source is in the
        // user half, and its faults end the copy.
        if unsafe { crate::arch::copy_user(buf.as_mut_ptr(), addr as *const u8, buf.len()) } {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        Self::user_range(addr, data.len())?;
        // SAFETY: as read_user, the other way round; a page the program may
        // not write faults, so the copy cannot write it either.
        if unsafe { crate::arch::copy_user(addr as *mut u8, data.as_ptr(), data.len()) } {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    fn console_write(&mut self, host_fd: u32, data: &[u8]) -> Result<(), Errno> {
        self.console.write(host_fd, data)
    }

    fn console_flush(&mut self) {
        self.console.flush();
    }

    fn host_read(&mut self, host_fd: u32, buf: &mut [u8]) -> Result<usize, Errno> {
        self.console.flush();
        let r = hypercall::read(host_fd, buf);
        if r < 0 {
            return Err(errno_from(-r as i32));
        }
        Ok(r as usize)
    }

    fn host_file(&mut self, call: &mut abi::hc::File, path: &[u8], path2: &[u8], data: FileData<'_>) -> Result<u64, Errno> {
        // SAFETY: the kernel is single-threaded and FILE_IO is used only here,
        // never across a call that could come back into this function.
        let io = unsafe { &mut *core::ptr::addr_of_mut!(FILE_IO) };
        if path.len() > PATH_ROOM || path2.len() > PATH_ROOM {
            return Err(Errno::ENAMETOOLONG);
        }
        let (p1, p2) = (path.len(), path2.len());
        io.path[..p1].copy_from_slice(&path[..p1]);
        io.path2[..p2].copy_from_slice(&path2[..p2]);
        call.path = abi::GuestPhys(hypercall::virt_to_phys(io.path.as_ptr() as u64));
        call.path_len = if call.path_len == u64::MAX { u64::MAX } else { p1 as u64 };
        call.path2 = abi::GuestPhys(hypercall::virt_to_phys(io.path2.as_ptr() as u64));
        call.path2_len = p2 as u64;
        call.buf = abi::GuestPhys(hypercall::virt_to_phys(io.data.as_ptr() as u64));
        let once = |call: &mut abi::hc::File, n: usize| {
            call.len = n as u64;
            hypercall::file(call);
            if call.ret < 0 {
                Err(errno_from(-call.ret as i32))
            } else {
                Ok(call.ret as u64)
            }
        };
        // Positional (pread/pwrite) calls advance the offset chunk by chunk;
        // the others use the host file's own position (offset -1 IN, the
        // new position OUT).
        let positional = call.offset >= 0;
        match data {
            // No data through the guest: `len` is the caller's (Sendfile).
            FileData::None => {
                let n = call.len as usize;
                once(call, n)
            }
            FileData::In(bytes) => {
                let n = bytes.len().min(DATA_ROOM);
                io.data[..n].copy_from_slice(&bytes[..n]);
                once(call, n)
            }
            FileData::Out(buf) => {
                let n = buf.len().min(DATA_ROOM);
                let got = once(call, n)?;
                let m = (got as usize).min(n);
                buf[..m].copy_from_slice(&io.data[..m]);
                Ok(got)
            }
            FileData::FromUser(addr, len) => {
                let mut done = 0u64;
                while done < len {
                    let n = ((len - done) as usize).min(DATA_ROOM);
                    if !positional {
                        call.offset = -1;
                    }
                    if let Err(e) = self.read_user(addr + done, &mut io.data[..n]) {
                        return if done > 0 { Ok(done) } else { Err(e) };
                    }
                    let got = match once(call, n) {
                        Ok(g) => g,
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => return Ok(done),
                    };
                    done += got;
                    if positional {
                        call.offset += got as i64;
                    }
                    if (got as usize) < n {
                        break;
                    }
                }
                Ok(done)
            }
            FileData::ToUser(addr, len) => {
                let staged = call.buf;
                let mut done = 0u64;
                while done < len {
                    if !positional {
                        call.offset = -1;
                    }
                    // A long run of physically contiguous program memory (a
                    // 2 MiB page: execve's staging, big reads) is filled by
                    // the monitor in place, in one call; the rest comes
                    // through the kernel's buffer.
                    let direct = self.mem.phys_run(addr + done, (len - done).min(16 << 20), true).filter(|&(_, r)| r > DATA_ROOM as u64);
                    let n = match direct {
                        Some((phys, run)) => {
                            call.buf = abi::GuestPhys(phys);
                            run as usize
                        }
                        None => ((len - done) as usize).min(DATA_ROOM),
                    };
                    let got = once(call, n);
                    call.buf = staged;
                    let got = match got {
                        Ok(g) => g as usize,
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => return Ok(done),
                    };
                    if direct.is_none() {
                        if let Err(e) = self.write_user(addr + done, &io.data[..got.min(n)]) {
                            // What earlier rounds delivered stays delivered.
                            return if done > 0 { Ok(done) } else { Err(e) };
                        }
                    }
                    done += got as u64;
                    if positional {
                        call.offset += got as i64;
                    }
                    if got < n {
                        break;
                    }
                }
                Ok(done)
            }
        }
    }

    fn host_tty(&mut self, call: &mut abi::hc::Tty) -> Result<(), Errno> {
        self.console.flush();
        hypercall::tty(call);
        if call.ret < 0 {
            return Err(errno_from(-call.ret as i32));
        }
        Ok(())
    }

    fn host_poll(&mut self, events: [u16; 3], timeout_ms: i32) -> [u16; 3] {
        self.console.flush();
        hypercall::poll(events, timeout_ms)
    }

    fn clock_ns(&mut self, realtime: bool) -> u64 {
        let e = self.clock.elapsed();
        if realtime {
            self.clock.realtime_ref + e
        } else {
            self.clock.monotonic_ref + e
        }
    }

    fn sleep_ns(&mut self, ns: u64) {
        self.console.flush();
        hypercall::sleep(ns);
    }

    fn random(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
    }

    fn exit(&mut self, status: i32) -> ! {
        self.end();
        let k = crate::kernel();
        hypercall::exit(status, k.syscalls, k.rewritten_sites, self.mem.flushes)
    }

    fn kill(&mut self, signal: u32, fault: Option<FaultInfo>) -> ! {
        self.end();
        let f = fault.unwrap_or(FaultInfo { vector: u32::MAX, ..Default::default() });
        hypercall::killed(Killed { signal, vector: f.vector, addr: f.addr, rip: f.rip, error_code: f.error_code })
    }

    fn note(&mut self, msg: core::fmt::Arguments<'_>) {
        let line = alloc::format!("uk-run: {msg}\n");
        let _ = self.console.write(2, line.as_bytes());
    }

    fn is_mapped(&self, addr: u64) -> bool {
        self.mem.pte(addr) & abi::layout::pte::PRESENT != 0
    }

    fn protect_mapped(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.mem.protect_pages(addr, len, prot, false)
    }

    fn user_slice(&self, addr: u64, len: u64) -> Result<&[u8], Errno> {
        Self::user_range(addr, len as usize)?;
        let mut page = addr & !(PAGE_SIZE - 1);
        while page < addr + len {
            self.mem.translate(page, false).ok_or(Errno::EFAULT)?;
            page += PAGE_SIZE;
        }
        // SAFETY: every page of the range is mapped readable in the one
        // address space the kernel shares with the program, and the kernel
        // changes no mapping while the slice is borrowed (&self).
        Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) })
    }

    fn copy_in_user(&mut self, dst: u64, src: u64, len: u64) -> Result<(), Errno> {
        Self::user_range(dst, len as usize)?;
        Self::user_range(src, len as usize)?;
        // SAFETY: both ranges are in the user half, away from the kernel;
        // faults on either end the copy (see arch::copy_user).
        if unsafe { crate::arch::copy_user(dst as *mut u8, src as *const u8, len as usize) } {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    fn set_cpuid_sites(&mut self, sites: &[u64]) {
        self.cpuid.set_sites(sites);
    }

    fn hwcap(&self) -> u64 {
        self.cpuid.hwcap()
    }

    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4] {
        self.cpuid.query(leaf, subleaf)
    }

    fn start_program(&mut self, entry: u64, sp: u64) -> ! {
        // SAFETY: execve mapped the new program and its stack at these
        // addresses; the current syscall's kernel stack is abandoned (each
        // syscall starts at its top).
        unsafe { crate::arch::enter_user(entry, sp) }
    }

    fn take_host_signal(&mut self) -> u32 {
        crate::take_host_signal()
    }

    fn fpu_image_size(&self) -> u64 {
        let t = &self.tasks;
        if t.xsave {
            t.fpu_size as u64 + 4
        } else {
            512
        }
    }

    fn save_fpu(&mut self, addr: u64) -> Result<(), Errno> {
        use shim::signal::frame::{FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2};
        let (xsave, size, xcr0) = (self.tasks.xsave, self.tasks.fpu_size, self.tasks.xcr0);
        let area = self.tasks.scratch.bytes();
        // SAFETY: the scratch area holds fpu_size + 64 bytes, 64-byte aligned.
        unsafe { crate::arch::fpu_save(area.as_mut_ptr(), xsave) };
        if xsave {
            // The software bytes of the fxsave area say an xsave image follows (struct _fpx_sw_bytes).
            area[464..468].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
            area[468..472].copy_from_slice(&(size as u32 + 4).to_le_bytes());
            area[472..480].copy_from_slice(&xcr0.to_le_bytes());
            area[480..484].copy_from_slice(&(size as u32).to_le_bytes());
            area[484..512].fill(0);
            area[size..size + 4].copy_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
        }
        let n = self.fpu_image_size() as usize;
        let bytes = self.tasks.scratch.bytes()[..n].to_vec();
        self.write_user(addr, &bytes)
    }

    fn restore_fpu(&mut self, addr: u64) -> Result<(), Errno> {
        use shim::signal::frame::FP_XSTATE_MAGIC1;
        let (xsave, size, xcr0, mask) = (self.tasks.xsave, self.tasks.fpu_size, self.tasks.xcr0, self.tasks.mxcsr_mask);
        let mut img = alloc::vec![0u8; size];
        self.read_user(addr, &mut img[..if xsave { size } else { 512 }])?;
        let area = self.tasks.scratch.bytes();
        area[..size].copy_from_slice(&img);
        // Only what the CPU accepts: MXCSR bits it has, a header naming
        // enabled features in the standard format.
        let mxcsr = u32::from_le_bytes(area[24..28].try_into().unwrap_or([0; 4])) & mask;
        area[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        if xsave {
            let magic = u32::from_le_bytes(area[464..468].try_into().unwrap_or([0; 4]));
            let bv = if magic == FP_XSTATE_MAGIC1 { u64::from_le_bytes(area[512..520].try_into().unwrap_or([0; 8])) & xcr0 } else { 3 };
            area[512..520].copy_from_slice(&bv.to_le_bytes());
            area[520..576].fill(0);
        }
        // SAFETY: a sanitized image in the aligned scratch area.
        unsafe { crate::arch::fpu_restore(area.as_ptr(), xsave) };
        Ok(())
    }

    fn spawn_thread(&mut self, tid: u32, regs: &shim::Regs, fs: u64) -> Result<(), Errno> {
        self.tasks.spawn(&mut self.mem, tid, regs, fs)
    }

    fn thread_exit(&mut self, tid: u32) {
        self.tasks.exit(tid);
    }

    fn thread_renamed(&mut self, old: u32, new: u32) {
        self.tasks.rename(old, new);
    }

    fn alloc_frames(&mut self, n: u64) -> Result<alloc::vec::Vec<u64>, Errno> {
        let mut v = alloc::vec::Vec::with_capacity(n as usize);
        for _ in 0..n {
            match self.mem.alloc_frame() {
                Ok(f) => v.push(f),
                Err(e) => {
                    self.mem.free_frames(&v);
                    return Err(e);
                }
            }
        }
        Ok(v)
    }

    fn map_frames(&mut self, addr: u64, frames: &[u64], prot: u32) -> Result<(), Errno> {
        self.mem.map_frames(addr, frames, prot)
    }

    fn free_frames(&mut self, frames: &[u64]) {
        self.mem.free_frames(frames)
    }

    fn set_fs_base(&mut self, base: u64) {
        crate::arch::set_fs_base(base);
    }

    fn fs_base(&self) -> u64 {
        crate::arch::fs_base()
    }

    fn map(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.mem.map(addr, len, prot)
    }

    fn map_large(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        self.mem.map_large(addr, len)
    }

    fn unmap(&mut self, addr: u64, len: u64) {
        self.mem.unmap(addr, len)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.mem.protect(addr, len, prot)
    }

    fn remap(&mut self, old: u64, new: u64, len: u64) {
        // Only fails for want of page-table frames: leave the rest unmoved.
        let _ = self.mem.remap(old, new, len);
    }

    fn discard(&mut self, addr: u64, len: u64) {
        self.mem.discard(addr, len)
    }

    fn tlb_generation(&self) -> u64 {
        self.mem.flushes
    }

    fn reserve_lazy(&mut self, addr: u64, len: u64) {
        self.mem.forget_stale(addr, len)
    }

    fn map_huge(&mut self, addr: u64, prot: u32) -> bool {
        self.mem.map_huge(addr, prot)
    }

    fn new_space(&mut self, copy: bool) -> Result<u64, Errno> {
        self.mem.new_space(copy)
    }

    fn space(&self) -> u64 {
        self.mem.space()
    }

    fn switch_space(&mut self, space: u64) {
        self.mem.switch_space(space)
    }

    fn free_space(&mut self, space: u64) {
        self.mem.free_space(space)
    }

    fn leave(&mut self) -> ! {
        crate::leave()
    }
}

const PATH_ROOM: usize = 4096;
/// Bytes one File call moves at most: a static buffer in the kernel image,
/// whose chunk is contiguous guest-physical memory.
const DATA_ROOM: usize = 128 << 10;

struct FileIo {
    path: [u8; PATH_ROOM],
    path2: [u8; PATH_ROOM],
    data: [u8; DATA_ROOM],
}

static mut FILE_IO: FileIo = FileIo { path: [0; PATH_ROOM], path2: [0; PATH_ROOM], data: [0; DATA_ROOM] };

fn errno_from(e: i32) -> Errno {
    Errno::from_raw(e)
}
