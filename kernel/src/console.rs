//! The console: the program's writes to the host's stdio, buffered in the
//! guest as ordered records and sent in one hypercall per flush.
//!
//! Flushed when full, after a newline on a terminal, before the guest
//! blocks (read, sleep) and before it ends, however it ends.

use crate::hypercall;
use abi::hc::ConsoleRecord;
use abi::linux::Errno;

const SIZE: usize = 64 * 1024;
const HEADER: usize = core::mem::size_of::<ConsoleRecord>();

pub struct Console {
    buf: &'static mut [u8; SIZE],
    len: usize,
    /// The open record: (host fd, offset of its header).
    open: Option<(u32, usize)>,
    tty: [bool; 3],
    /// A host write failed (EPIPE, ...): later writes fail too.
    error: Option<Errno>,
    pub flushes: u64,
}

static mut BUF: [u8; SIZE] = [0; SIZE];

impl Console {
    pub fn new(tty: [bool; 3]) -> Console {
        // SAFETY: called once at boot; the console owns the buffer from then on.
        let buf = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
        Console { buf, len: 0, open: None, tty, error: None, flushes: 0 }
    }

    pub fn write(&mut self, fd: u32, mut data: &[u8]) -> Result<(), Errno> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let flush_on_newline = self.tty.get(fd as usize).copied().unwrap_or(false) && data.contains(&b'\n');
        while !data.is_empty() {
            if self.open.map(|(f, _)| f) != Some(fd) {
                if SIZE - self.len < HEADER + 1 {
                    self.flush();
                }
                self.open = Some((fd, self.len));
                self.len += HEADER;
                self.set_header(fd);
            }
            let n = data.len().min(SIZE - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            self.set_header(fd);
            data = &data[n..];
            if self.len == SIZE {
                self.flush();
            }
        }
        if flush_on_newline {
            self.flush();
        }
        self.error.map_or(Ok(()), Err)
    }

    fn set_header(&mut self, fd: u32) {
        let (_, at) = self.open.expect("open record");
        let rec = ConsoleRecord { fd, len: (self.len - at - HEADER) as u32 };
        self.buf[at..at + HEADER].copy_from_slice(abi::pod::as_bytes(&rec));
    }

    pub fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        let err = hypercall::console_write(&self.buf[..self.len]);
        self.flushes += 1;
        if err != 0 && self.error.is_none() {
            self.error = Some(if err == Errno::EPIPE as i32 { Errno::EPIPE } else { Errno::EIO });
        }
        self.len = 0;
        self.open = None;
    }
}
