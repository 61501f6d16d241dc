//! A fake platform for host tests: user memory is a map of pages.

use crate::platform::{FaultInfo, Platform};
use abi::linux::{Errno, PROT_READ, PROT_WRITE};
use std::collections::HashMap;

#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Exit(i32),
    Killed(u32),
}

#[derive(Default)]
pub struct Fake {
    pub pages: HashMap<u64, (Vec<u8>, u32)>,
    pub console: Vec<(u32, Vec<u8>)>,
    pub warnings: Vec<String>,
    pub stdin: Vec<u8>,
    pub now: u64,
    pub fs: u64,
}

impl Fake {
    fn page(&self, addr: u64) -> Option<&(Vec<u8>, u32)> {
        self.pages.get(&(addr & !4095))
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.console.iter().filter(|(fd, _)| *fd == 1).flat_map(|(_, d)| d.clone()).collect()
    }
}

impl Platform for Fake {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            match self.page(a) {
                Some((d, prot)) if prot & PROT_READ != 0 => *b = d[(a & 4095) as usize],
                _ => return Err(Errno::EFAULT),
            }
        }
        Ok(())
    }

    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        for (i, b) in data.iter().enumerate() {
            let a = addr + i as u64;
            match self.pages.get_mut(&(a & !4095)) {
                Some((d, prot)) if *prot & PROT_WRITE != 0 => d[(a & 4095) as usize] = *b,
                _ => return Err(Errno::EFAULT),
            }
        }
        Ok(())
    }

    fn console_write(&mut self, host_fd: u32, data: &[u8]) -> Result<(), Errno> {
        self.console.push((host_fd, data.to_vec()));
        Ok(())
    }
    fn console_flush(&mut self) {}
    fn host_read(&mut self, _fd: u32, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = buf.len().min(self.stdin.len());
        buf[..n].copy_from_slice(&self.stdin[..n]);
        self.stdin.drain(..n);
        Ok(n)
    }
    fn host_file(
        &mut self,
        _call: &mut abi::hc::File,
        _path: &[u8],
        _path2: &[u8],
        _data: crate::platform::FileData<'_>,
    ) -> Result<u64, Errno> {
        // No shares in the fake: the VFS tests use the in-memory file system.
        Err(Errno::ENOSYS)
    }
    fn is_mapped(&self, addr: u64) -> bool {
        self.pages.contains_key(&(addr & !4095))
    }
    fn protect_mapped(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        for page in (addr..addr + len).step_by(4096) {
            if let Some((_, p)) = self.pages.get_mut(&page) {
                *p = prot;
            }
        }
        Ok(())
    }
    fn user_slice(&self, _addr: u64, _len: u64) -> Result<&[u8], Errno> {
        Err(Errno::EFAULT)
    }
    fn copy_in_user(&mut self, dst: u64, src: u64, len: u64) -> Result<(), Errno> {
        let mut b = vec![0u8; len as usize];
        self.read_user(src, &mut b)?;
        self.write_user(dst, &b)
    }
    fn set_cpuid_sites(&mut self, _sites: &[u64]) {}
    fn hwcap(&self) -> u64 {
        0
    }
    fn cpuid(&self, _leaf: u32, _subleaf: u32) -> [u32; 4] {
        [0; 4]
    }
    fn start_program(&mut self, entry: u64, sp: u64) -> ! {
        panic!("start_program({entry:#x}, {sp:#x})")
    }
    fn host_tty(&mut self, _call: &mut abi::hc::Tty) -> Result<(), Errno> {
        Ok(())
    }
    fn host_poll(&mut self, events: [u16; 3], _timeout_ms: i32) -> [u16; 3] {
        events
    }
    fn clock_ns(&mut self, _realtime: bool) -> u64 {
        self.now += 1000;
        self.now
    }
    fn sleep_ns(&mut self, ns: u64) {
        self.now += ns;
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
    fn exit(&mut self, status: i32) -> ! {
        std::panic::panic_any(End::Exit(status))
    }
    fn kill(&mut self, signal: u32, _fault: Option<FaultInfo>) -> ! {
        std::panic::panic_any(End::Killed(signal))
    }
    fn note(&mut self, msg: core::fmt::Arguments<'_>) {
        self.warnings.push(msg.to_string());
    }
    fn set_fs_base(&mut self, base: u64) {
        self.fs = base;
    }
    fn fs_base(&self) -> u64 {
        self.fs
    }
    fn map(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        for a in (addr..addr + len).step_by(4096) {
            self.pages.insert(a, (vec![0; 4096], prot));
        }
        Ok(())
    }
    fn unmap(&mut self, addr: u64, len: u64) {
        for a in (addr..addr + len).step_by(4096) {
            self.pages.remove(&a);
        }
    }
    fn protect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        for a in (addr..addr + len).step_by(4096) {
            self.pages.entry(a).or_insert_with(|| (vec![0; 4096], 0)).1 = prot;
        }
        Ok(())
    }
    fn remap(&mut self, old: u64, new: u64, len: u64) {
        for off in (0..len).step_by(4096) {
            if let Some(pg) = self.pages.remove(&(old + off)) {
                self.pages.insert(new + off, pg);
            }
        }
    }
    fn discard(&mut self, addr: u64, len: u64) {
        for a in (addr..addr + len).step_by(4096) {
            if let Some((d, _)) = self.pages.get_mut(&a) {
                d.fill(0);
            }
        }
    }

    fn reserve_lazy(&mut self, _addr: u64, _len: u64) {}

    fn tlb_generation(&self) -> u64 {
        0
    }

    fn map_huge(&mut self, _addr: u64, _prot: u32) -> bool {
        false
    }

    fn take_host_signal(&mut self) -> u32 {
        0
    }

    fn fpu_image_size(&self) -> u64 {
        516
    }

    fn save_fpu(&mut self, addr: u64) -> Result<(), Errno> {
        self.write_user(addr, &[0; 516])
    }

    fn restore_fpu(&mut self, addr: u64) -> Result<(), Errno> {
        let mut b = [0; 516];
        self.read_user(addr, &mut b)
    }

    fn spawn_thread(&mut self, _tid: u32, _regs: &crate::signal::Regs, _fs: u64) -> Result<(), Errno> {
        Ok(())
    }

    fn thread_exit(&mut self, _tid: u32) {}

    fn thread_renamed(&mut self, _old: u32, _new: u32) {}

    fn alloc_frames(&mut self, n: u64) -> Result<Vec<u64>, Errno> {
        Ok((0..n).collect())
    }

    fn map_frames(&mut self, addr: u64, frames: &[u64], prot: u32) -> Result<(), Errno> {
        self.map(addr, frames.len() as u64 * 4096, prot)
    }

    fn free_frames(&mut self, _frames: &[u64]) {}

    fn new_space(&mut self, _copy: bool) -> Result<u64, Errno> {
        Err(Errno::ENOMEM)
    }
    fn space(&self) -> u64 {
        0
    }
    fn switch_space(&mut self, _space: u64) {}
    fn free_space(&mut self, _space: u64) {}
    fn leave(&mut self) -> ! {
        panic!("leave")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::dispatch;
    use crate::Process;
    use abi::boot::BootInfo;
    use syscalls::Sysno;

    fn setup() -> (Process, Fake) {
        // SAFETY: BootInfo is plain integers and arrays; all-zero is a valid value.
        let mut b: BootInfo = unsafe { std::mem::zeroed() };
        b.pid = 42;
        b.rlimit_nofile = [1024, 4096];
        b.brk_start = 0x60_0000;
        for i in 0..3 {
            b.stdio[i].open = 1;
            b.stdio[i].status_flags = if i == 0 { 0 } else { 1 };
        }
        let mut f = Fake::default();
        f.map(0x10_0000, 0x4000, PROT_READ | PROT_WRITE).unwrap();
        (Process::from_boot(&b, 0, Vec::new()), f)
    }

    fn sys(pr: &mut Process, f: &mut Fake, s: Sysno, a: &[u64]) -> i64 {
        let mut args = [0u64; 6];
        args[..a.len()].copy_from_slice(a);
        dispatch(pr, f, s.id() as u64, args)
    }

    #[test]
    fn write_goes_to_the_console_and_checks_fds() {
        let (mut pr, mut f) = setup();
        f.write_user(0x10_0000, b"hello\n").unwrap();
        assert_eq!(sys(&mut pr, &mut f, Sysno::write, &[1, 0x10_0000, 6]), 6);
        assert_eq!(f.stdout(), b"hello\n");
        assert_eq!(sys(&mut pr, &mut f, Sysno::write, &[7, 0x10_0000, 6]), Errno::EBADF.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::write, &[1, 0xdead_0000, 6]), Errno::EFAULT.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::write, &[0, 0x10_0000, 6]), Errno::EBADF.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::close, &[1]), 0);
        assert_eq!(sys(&mut pr, &mut f, Sysno::write, &[1, 0x10_0000, 6]), Errno::EBADF.ret());
    }

    #[test]
    fn unknown_syscalls_warn_once() {
        let (mut pr, mut f) = setup();
        assert_eq!(sys(&mut pr, &mut f, Sysno::io_uring_setup, &[]), Errno::ENOSYS.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::io_uring_setup, &[]), Errno::ENOSYS.ret());
        assert_eq!(dispatch(&mut pr, &mut f, 100_000, [0; 6]), Errno::ENOSYS.ret());
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
        assert!(f.warnings[0].contains("io_uring_setup"));
        assert_eq!(sys(&mut pr, &mut f, Sysno::rseq, &[]), Errno::ENOSYS.ret());
        assert_eq!(f.warnings.len(), 2);
    }

    #[test]
    fn mmap_munmap_mremap_keep_contents() {
        let (mut pr, mut f) = setup();
        let a = sys(&mut pr, &mut f, Sysno::mmap, &[0, 8192, 3, 0x22, u64::MAX, 0]) as u64;
        assert!(a > 0x10000 && a % 4096 == 0);
        f.write_user(a, b"abc").unwrap();
        let b = sys(&mut pr, &mut f, Sysno::mremap, &[a, 8192, 1 << 20, 1, 0]) as u64;
        let mut buf = [0u8; 3];
        f.read_user(b, &mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        f.write_user(b + (1 << 20) - 1, b"z").unwrap();
        assert_eq!(sys(&mut pr, &mut f, Sysno::munmap, &[b, 1 << 20]), 0);
        assert_eq!(f.read_user(b, &mut buf), Err(Errno::EFAULT));
        assert_eq!(sys(&mut pr, &mut f, Sysno::munmap, &[b + 1, 10]), Errno::EINVAL.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::mmap, &[0, 0, 3, 0x22, u64::MAX, 0]), Errno::EINVAL.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::mprotect, &[0x5000_0000, 4096, 1]), Errno::ENOMEM.ret());
    }

    #[test]
    fn brk_grows_and_shrinks() {
        let (mut pr, mut f) = setup();
        assert_eq!(sys(&mut pr, &mut f, Sysno::brk, &[0]), 0x60_0000);
        assert_eq!(sys(&mut pr, &mut f, Sysno::brk, &[0x60_2010]), 0x60_2010);
        f.write_user(0x60_2000, b"x").unwrap();
        assert_eq!(sys(&mut pr, &mut f, Sysno::brk, &[0x60_1000]), 0x60_1000);
        assert_eq!(f.write_user(0x60_2000, b"x"), Err(Errno::EFAULT));
    }

    #[test]
    fn raise_with_default_action_kills_once_unblocked() {
        let (mut pr, mut f) = setup();
        f.write_user(0x10_0000, &(1u64 << 5).to_le_bytes()).unwrap();
        assert_eq!(sys(&mut pr, &mut f, Sysno::rt_sigprocmask, &[0, 0x10_0000, 0, 8]), 0);
        assert_eq!(sys(&mut pr, &mut f, Sysno::tgkill, &[42, 42, 6]), 0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sys(&mut pr, &mut f, Sysno::rt_sigprocmask, &[1, 0x10_0000, 0, 8])
        }));
        assert_eq!(r.unwrap_err().downcast_ref::<End>(), Some(&End::Killed(6)));
    }

    #[test]
    fn ignored_signal_is_dropped_and_exit_reports_status() {
        let (mut pr, mut f) = setup();
        let act = abi::linux::KSigaction { handler: 1, ..Default::default() };
        f.write_user(0x10_0000, abi::pod::as_bytes(&act)).unwrap();
        assert_eq!(sys(&mut pr, &mut f, Sysno::rt_sigaction, &[10, 0x10_0000, 0, 8]), 0);
        assert_eq!(sys(&mut pr, &mut f, Sysno::kill, &[42, 10]), 0);
        assert_eq!(sys(&mut pr, &mut f, Sysno::kill, &[43, 10]), Errno::ESRCH.ret());
        assert_eq!(sys(&mut pr, &mut f, Sysno::rt_sigaction, &[9, 0x10_0000, 0, 8]), Errno::EINVAL.ret());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sys(&mut pr, &mut f, Sysno::exit_group, &[3])));
        assert_eq!(r.unwrap_err().downcast_ref::<End>(), Some(&End::Exit(3)));
    }
}
