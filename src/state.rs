//! Every state transition of a connection, in one table.
//!
//! A connection moves through four public states: Connecting, Open, Closing
//! and Closed. Inside Closing it distinguishes two phases: waiting for the
//! peer's Close after sending ours, and (a client only) waiting for the server
//! to close the transport after the closing handshake, as RFC 6455 §7.1.1
//! asks. The rules, in words:
//!
//! - The opening handshake ends in Open when it succeeds and in Closed when it
//!   fails or is rejected. No Close frame is sent before Open.
//! - In Open, our own close sends a Close frame and arms the close timer; the
//!   peer's Close is answered with the same code and reported to the app.
//! - A failure (a protocol violation, a keepalive timeout) sends a Close frame
//!   if we have not sent one yet, reports the Close event and ends in Closed.
//! - After the closing handshake a server closes the transport at once; a
//!   client waits for the server's close under the close timer.
//! - The end of the transport before a Close is an abnormal closure (1006).
//! - The Close event is emitted exactly once for a connection that opened.
//!
//! ```text
//!                 handshake done
//!  Connecting ─────────────────────► Open
//!      │ failed, rejected, EOF         │ │ │
//!      │                 our close     │ │ │ peer Close (client: reply,
//!      │            (send, arm timer)  │ │ │ arm timer)
//!      │                 ┌─────────────┘ │ └──────────────┐
//!      │                 ▼               │                ▼
//!      │            CloseSent            │           AwaitingEof ──┐
//!      │   peer Close │  │ client:       │ peer Close     ▲        │ EOF,
//!      │   (server),  │  │ peer Close ───┼────────────────┘        │ timeout
//!      │   failure,   │  │               │ (server: reply),        │
//!      │   EOF,       │  │               │ failure, EOF            │
//!      │   timeout    ▼  ▼               ▼                         │
//!      └──────────────────────────────► Closed ◄───────────────────┘
//! ```
//!
//! CloseSent and AwaitingEof are both the public state Closing.
//!
//! `step` is the only function that decides a next phase. Its `match`
//! names every pair of phase and input, so a new phase or input cannot compile
//! until its transitions are decided.

use crate::event::Initiator;

/// The public state of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// The opening handshake is in progress.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// The closing handshake has started.
    Closing,
    /// The connection is over; the transport should be closed.
    Closed,
}

/// The internal phase: [`State`] with Closing split in two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Handshake,
    Open,
    /// We sent a Close and wait for the peer's.
    CloseSent,
    /// The closing handshake is complete; a client waits for the server to
    /// close the transport.
    AwaitingEof,
    Closed,
}

impl Phase {
    /// Whether frames are read: from the handshake's end until the peer's
    /// Close (ours may have been sent).
    pub(crate) fn reads_frames(self) -> bool {
        matches!(self, Phase::Open | Phase::CloseSent)
    }

    /// Whether the app may send data and control frames, and pings are
    /// answered: only until a Close is sent (RFC 6455 §5.5.1).
    pub(crate) fn sends_frames(self) -> bool {
        self == Phase::Open
    }

    /// Whether received bytes are ignored: after the closing handshake
    /// nothing counts (RFC 6455 §5.5.1).
    pub(crate) fn ignores_input(self) -> bool {
        matches!(self, Phase::AwaitingEof | Phase::Closed)
    }

    /// Who started the closing handshake, for the peer's Close or the end
    /// of the transport met in this phase: this side once its Close is out,
    /// else the peer.
    pub(crate) fn close_initiator(self) -> Initiator {
        if self == Phase::CloseSent {
            Initiator::Local
        } else {
            Initiator::Remote
        }
    }

    pub(crate) fn state(self) -> State {
        match self {
            Phase::Handshake => State::Connecting,
            Phase::Open => State::Open,
            Phase::CloseSent | Phase::AwaitingEof => State::Closing,
            Phase::Closed => State::Closed,
        }
    }
}

/// What happened to the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// The opening handshake succeeded.
    HandshakeDone,
    /// The opening handshake failed or was rejected.
    HandshakeFailed,
    /// The app asked to close.
    LocalClose,
    /// The peer's Close frame arrived.
    PeerClose,
    /// The connection failed: a protocol violation or a keepalive timeout.
    Failure,
    /// The peer closed the transport.
    Eof,
    /// The close timer fired.
    CloseTimeout,
}

/// The decision for one input: the next phase and what to do on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) next: Phase,
    /// Send a Close frame (our close, a reply, or a failure's code).
    pub(crate) send_close: bool,
    /// Report the Close event to the app.
    pub(crate) emit_close: bool,
    /// Arm the close timer.
    pub(crate) arm_close_timer: bool,
}

const fn to(next: Phase) -> Step {
    Step {
        next,
        send_close: false,
        emit_close: false,
        arm_close_timer: false,
    }
}

impl Step {
    const fn sending_close(mut self) -> Self {
        self.send_close = true;
        self
    }

    const fn emitting_close(mut self) -> Self {
        self.emit_close = true;
        self
    }

    const fn arming_timer(mut self) -> Self {
        self.arm_close_timer = true;
        self
    }
}

/// The transition for `input` in `phase`, or `None` when the input has no
/// meaning there (the caller ignores it or reports a misuse).
pub(crate) fn step(is_client: bool, phase: Phase, input: Input) -> Option<Step> {
    // After the closing handshake the server closes the transport first; the
    // client waits for it (RFC 6455 §7.1.1).
    let after_handshake = if is_client {
        to(Phase::AwaitingEof).arming_timer()
    } else {
        to(Phase::Closed)
    };
    match (phase, input) {
        (Phase::Handshake, Input::HandshakeDone) => Some(to(Phase::Open)),
        (Phase::Handshake, Input::HandshakeFailed) => Some(to(Phase::Closed)),
        (Phase::Handshake, Input::Failure) => Some(to(Phase::Closed)),
        (Phase::Handshake, Input::Eof) => Some(to(Phase::Closed)),
        (Phase::Handshake, Input::LocalClose) => None,
        (Phase::Handshake, Input::PeerClose) => None,
        (Phase::Handshake, Input::CloseTimeout) => None,

        (Phase::Open, Input::LocalClose) => {
            Some(to(Phase::CloseSent).sending_close().arming_timer())
        }
        (Phase::Open, Input::PeerClose) => Some(after_handshake.sending_close().emitting_close()),
        (Phase::Open, Input::Failure) => Some(to(Phase::Closed).sending_close().emitting_close()),
        (Phase::Open, Input::Eof) => Some(to(Phase::Closed).emitting_close()),
        (Phase::Open, Input::HandshakeDone) => None,
        (Phase::Open, Input::HandshakeFailed) => None,
        (Phase::Open, Input::CloseTimeout) => None,

        (Phase::CloseSent, Input::PeerClose) => Some(after_handshake.emitting_close()),
        (Phase::CloseSent, Input::Failure) => Some(to(Phase::Closed).emitting_close()),
        (Phase::CloseSent, Input::Eof) => Some(to(Phase::Closed).emitting_close()),
        (Phase::CloseSent, Input::CloseTimeout) => Some(to(Phase::Closed).emitting_close()),
        (Phase::CloseSent, Input::LocalClose) => None,
        (Phase::CloseSent, Input::HandshakeDone) => None,
        (Phase::CloseSent, Input::HandshakeFailed) => None,

        (Phase::AwaitingEof, Input::Eof) => Some(to(Phase::Closed)),
        (Phase::AwaitingEof, Input::CloseTimeout) => Some(to(Phase::Closed)),
        (Phase::AwaitingEof, Input::LocalClose) => None,
        // RFC 6455 §5.5.1: nothing after the closing handshake is processed.
        (Phase::AwaitingEof, Input::PeerClose) => None,
        (Phase::AwaitingEof, Input::Failure) => None,
        (Phase::AwaitingEof, Input::HandshakeDone) => None,
        (Phase::AwaitingEof, Input::HandshakeFailed) => None,

        (Phase::Closed, Input::HandshakeDone) => None,
        (Phase::Closed, Input::HandshakeFailed) => None,
        (Phase::Closed, Input::LocalClose) => None,
        (Phase::Closed, Input::PeerClose) => None,
        (Phase::Closed, Input::Failure) => None,
        (Phase::Closed, Input::Eof) => None,
        (Phase::Closed, Input::CloseTimeout) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHASES: [Phase; 5] = [
        Phase::Handshake,
        Phase::Open,
        Phase::CloseSent,
        Phase::AwaitingEof,
        Phase::Closed,
    ];
    const INPUTS: [Input; 7] = [
        Input::HandshakeDone,
        Input::HandshakeFailed,
        Input::LocalClose,
        Input::PeerClose,
        Input::Failure,
        Input::Eof,
        Input::CloseTimeout,
    ];

    #[test]
    fn states_only_move_forward() {
        for is_client in [false, true] {
            for phase in PHASES {
                for input in INPUTS {
                    if let Some(step) = step(is_client, phase, input) {
                        assert!(step.next.state() >= phase.state(), "{phase:?} {input:?}");
                        assert_ne!(step.next, phase, "a transition changes the phase");
                    }
                }
            }
        }
    }

    #[test]
    fn close_is_sent_at_most_once_and_never_before_open() {
        for is_client in [false, true] {
            for phase in PHASES {
                for input in INPUTS {
                    let Some(step) = step(is_client, phase, input) else {
                        continue;
                    };
                    if step.send_close {
                        assert_eq!(phase, Phase::Open, "{input:?}");
                    }
                    if step.emit_close {
                        assert!(
                            matches!(phase, Phase::Open | Phase::CloseSent),
                            "{phase:?} {input:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_server_closes_the_transport_first() {
        let server = step(false, Phase::Open, Input::PeerClose).unwrap();
        assert_eq!(server.next, Phase::Closed);
        let client = step(true, Phase::Open, Input::PeerClose).unwrap();
        assert_eq!(client.next, Phase::AwaitingEof);
        assert!(client.arm_close_timer);
        assert_eq!(
            step(true, Phase::AwaitingEof, Input::Eof).unwrap().next,
            Phase::Closed
        );
    }
}
