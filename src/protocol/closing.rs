//! The closing handshake and the timers: the handshake deadline, the close
//! timeout, and keepalive pings with their pong deadline. Every timer runs
//! on the caller's clock.

use alloc::string::String;
use core::time::Duration;

use super::{Engine, MaskSource, Timer};
use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::error::{Error, SendError};
use crate::event::Initiator;
use crate::frame::Opcode;
use crate::state::{Input, Phase, step};

impl Engine {
    /// When `handle_timeout` is due. Until the connection has seen the
    /// caller's clock it asks for a call at once: its handshake deadline
    /// counts from then.
    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        if !self.clock_started && self.phase == Phase::Handshake {
            return Some(Duration::ZERO);
        }
        self.timers.next_deadline()
    }

    /// Notes the caller's clock at an input. The first reading starts the
    /// handshake deadline.
    pub(crate) fn note_time(&mut self, now: Duration) {
        self.latest_now = now;
        if !self.clock_started {
            self.clock_started = true;
            if self.phase == Phase::Handshake {
                let deadline = now.checked_add(self.config.handshake_timeout);
                self.timers.set(Timer::Handshake, deadline);
            }
        }
    }

    /// Stops the handshake deadline: a server has the whole request, and
    /// the app's decision is the app's to time.
    pub(crate) fn stop_handshake_timer(&mut self) {
        self.timers.set(Timer::Handshake, None);
    }

    /// Whether the handshake deadline has passed at `now` while the
    /// handshake is still under way. It is cleared, so this is true once;
    /// the role then fails the handshake.
    pub(crate) fn handshake_deadline_passed(&mut self, now: Duration) -> bool {
        self.timers.take_expired(Timer::Handshake, now) && self.phase == Phase::Handshake
    }

    /// Fires the connection's timers due at `now`.
    pub(crate) fn handle_timeout(&mut self, masks: &mut impl MaskSource, now: Duration) {
        self.note_time(now);
        for timer in Timer::ALL {
            if !self.timers.take_expired(timer, now) {
                continue;
            }
            match timer {
                // Fired by the role, through `handshake_deadline_passed`.
                Timer::Handshake => {}
                Timer::Close => self.close_timed_out(now),
                Timer::PongDeadline => {
                    self.fail(masks, now, Error::PongTimeout);
                }
                Timer::KeepalivePing => self.send_keepalive_ping(masks, now),
            }
        }
    }

    fn close_timed_out(&mut self, now: Duration) {
        let Some(next) = step(self.is_client, self.phase, Input::CloseTimeout) else {
            return;
        };
        let error = next.emit_close.then_some(Error::CloseTimeout);
        self.report_close(
            &next,
            CloseCode::ABNORMAL,
            String::new(),
            Initiator::Local,
            error,
        );
        self.enter(next, now);
    }

    fn send_keepalive_ping(&mut self, masks: &mut impl MaskSource, now: Duration) {
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        if !self.phase.sends_frames() {
            return;
        }
        if self.awaited_pong.is_some() {
            // The last ping is still unanswered. Sending another would move
            // its deadline, and with an interval shorter than the timeout a
            // silent peer would never be caught; its deadline stands, and the
            // next ping waits for its pong (so even a zero interval cannot
            // make the caller spin).
            return;
        }
        // A counter tells this ping's pong from earlier and unsolicited ones.
        self.pings_sent = self.pings_sent.wrapping_add(1);
        let payload = self.pings_sent.to_be_bytes();
        if let Err(error) = self.queue_frame(masks, Opcode::Ping, true, &payload) {
            self.fail(masks, now, error.into());
            return;
        }
        self.awaited_pong = Some(payload);
        self.timers
            .set(Timer::PongDeadline, now.checked_add(keepalive.timeout));
    }

    /// Starts the closing handshake: queues the app's Close and arms the
    /// close timer.
    pub(crate) fn close(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), SendError> {
        // Checked before anything changes, so a refused close does nothing.
        CloseFrame::encode(code, reason, &mut &mut [0u8; 2 + MAX_REASON_LEN][..])?;
        if self.outgoing.frame.is_some() {
            return Err(SendError::FrameInProgress);
        }
        let Some(next) = step(self.is_client, self.phase, Input::LocalClose) else {
            return Err(SendError::NotOpen {
                state: self.state(),
            });
        };
        if next.send_close {
            self.queue_close(masks, Some((code, reason)))?;
        }
        self.enter(next, now);
        Ok(())
    }

    /// Ends keepalive: once a Close is sent, no ping is due and no pong
    /// awaited.
    pub(super) fn stop_keepalive(&mut self) {
        self.timers.set(Timer::KeepalivePing, None);
        self.timers.set(Timer::PongDeadline, None);
        self.awaited_pong = None;
    }
}
