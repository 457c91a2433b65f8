//! The connection's timers: one deadline slot per kind, on the caller's
//! clock.

use core::time::Duration;

/// A kind of timer; each has one slot in a [`TimerTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The opening handshake's deadline.
    Handshake,
    /// The closing handshake's deadline.
    Close,
    /// The deadline for the pong to a keepalive ping.
    PongDeadline,
    /// When the next keepalive ping is due.
    KeepalivePing,
}

impl Timer {
    /// Every timer, in the order their slots are checked.
    pub(crate) const ALL: [Timer; 4] = [
        Timer::Handshake,
        Timer::Close,
        Timer::PongDeadline,
        Timer::KeepalivePing,
    ];
}

/// A deadline per [`Timer`], indexed by the kind itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    deadlines: [Option<Duration>; Timer::ALL.len()],
}

impl TimerTable {
    /// Arms `timer` at `deadline`, or stops it with `None`.
    pub(crate) fn set(&mut self, timer: Timer, deadline: Option<Duration>) {
        self.deadlines[timer as usize] = deadline;
    }

    /// When `timer` fires, if armed.
    pub(crate) fn get(&self, timer: Timer) -> Option<Duration> {
        self.deadlines[timer as usize]
    }

    /// Stops every timer.
    pub(crate) fn clear(&mut self) {
        *self = TimerTable::default();
    }

    /// The earliest armed deadline.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Stops and returns `timer` if it is due at `now`.
    pub(crate) fn take_expired(&mut self, timer: Timer, now: Duration) -> bool {
        let expired = self.get(timer).is_some_and(|deadline| deadline <= now);
        if expired {
            self.set(timer, None);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_timer_has_its_own_slot() {
        let mut table = TimerTable::default();
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            table.set(timer, Some(Duration::from_secs(10 + i as u64)));
        }
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            assert_eq!(table.get(timer), Some(Duration::from_secs(10 + i as u64)));
        }
        assert_eq!(table.next_deadline(), Some(Duration::from_secs(10)));
        assert!(!table.take_expired(Timer::Close, Duration::from_secs(10)));
        assert!(table.take_expired(Timer::Close, Duration::from_secs(11)));
        assert_eq!(table.get(Timer::Close), None);
        table.clear();
        assert_eq!(table.next_deadline(), None);
    }
}
