//! Signal dispositions, the mask and pending set of the one thread.

use abi::linux::{sig, KSigaction, NSIG};

pub fn bit(signal: u32) -> u64 {
    1u64 << (signal - 1)
}

/// Signals that can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: u64 = (1 << (sig::SIGKILL - 1)) | (1 << (sig::SIGSTOP - 1));

#[derive(Debug)]
pub struct Signals {
    pub actions: [KSigaction; NSIG],
    pub mask: u64,
    pub pending: u64,
    pub altstack: [u64; 3],
}

impl Signals {
    /// execve: caught signals go back to their default action; ignored ones
    /// stay ignored, and the mask and pending set are kept.
    pub fn reset_handlers(&mut self) {
        for a in self.actions.iter_mut() {
            if a.handler > abi::linux::SIG_IGN {
                *a = KSigaction::default();
            }
        }
        self.altstack = [0, 2, 0];
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals { actions: [KSigaction::default(); NSIG], mask: 0, pending: 0, altstack: [0, 2, 0] }
    }
}

impl Signals {
    pub fn action(&self, signal: u32) -> &KSigaction {
        &self.actions[signal as usize - 1]
    }

    /// The lowest pending signal that is not blocked, taken off the pending set.
    pub fn take_deliverable(&mut self) -> Option<u32> {
        let ready = self.pending & !(self.mask & !UNBLOCKABLE);
        if ready == 0 {
            return None;
        }
        let signal = ready.trailing_zeros() + 1;
        self.pending &= !bit(signal);
        Some(signal)
    }
}
