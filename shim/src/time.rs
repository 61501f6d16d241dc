//! Clock ids and conversions.

use abi::linux::{Errno, Timespec};

pub const CLOCK_REALTIME: u64 = 0;
pub const CLOCK_MONOTONIC: u64 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
pub const CLOCK_MONOTONIC_RAW: u64 = 4;
pub const CLOCK_REALTIME_COARSE: u64 = 5;
pub const CLOCK_MONOTONIC_COARSE: u64 = 6;
pub const CLOCK_BOOTTIME: u64 = 7;
pub const CLOCK_REALTIME_ALARM: u64 = 8;
pub const CLOCK_BOOTTIME_ALARM: u64 = 9;
pub const CLOCK_TAI: u64 = 11;

pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// How a clock id is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    Realtime,
    Monotonic,
    /// Time the process has been running and not blocked.
    CpuTime,
    /// Time the calling thread has been running.
    ThreadCpuTime,
}

pub fn source(clock: u64) -> Result<ClockSource, Errno> {
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_REALTIME_ALARM | CLOCK_TAI => Ok(ClockSource::Realtime),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => {
            Ok(ClockSource::Monotonic)
        }
        CLOCK_PROCESS_CPUTIME_ID => Ok(ClockSource::CpuTime),
        CLOCK_THREAD_CPUTIME_ID => Ok(ClockSource::ThreadCpuTime),
        _ => Err(Errno::EINVAL),
    }
}

pub fn to_timespec(ns: u64) -> Timespec {
    Timespec { tv_sec: (ns / NSEC_PER_SEC) as i64, tv_nsec: (ns % NSEC_PER_SEC) as i64 }
}

/// A user-supplied timespec as nanoseconds; EINVAL when out of range.
pub fn from_timespec(ts: &Timespec) -> Result<u64, Errno> {
    if ts.tv_sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((ts.tv_sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(ts.tv_nsec as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespec_round_trip_and_range() {
        assert_eq!(from_timespec(&to_timespec(3_000_000_123)), Ok(3_000_000_123));
        assert_eq!(from_timespec(&Timespec { tv_sec: 0, tv_nsec: 1_000_000_000 }), Err(Errno::EINVAL));
        assert_eq!(from_timespec(&Timespec { tv_sec: -1, tv_nsec: 0 }), Err(Errno::EINVAL));
        assert_eq!(source(99), Err(Errno::EINVAL));
    }
}
