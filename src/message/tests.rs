//! The assembler's and the message type's unit tests: their `unwrap`,
//! `expect` and `panic!` are test assertions, compiled only under
//! `cargo test`.

use super::*;
use crate::close::{CloseCode, CloseFrame};
use crate::frame::{Frame, Opcode};
use alloc::string::String;
use bytes::Bytes;

use alloc::vec;

fn fragment(opcode: Opcode, fin: bool, payload: &'static [u8]) -> Frame {
    let mut frame = Frame::new(opcode, Bytes::from_static(payload));
    frame.fin = fin;
    frame
}

#[test]
fn a_single_frame_message_shares_the_frame_buffer() {
    let mut assembler = MessageAssembler::new(100);
    let payload = Bytes::from(vec![1u8, 2, 3]);
    let pointer = payload.as_ptr();
    let Ok(Some(Message::Binary(out))) = assembler.push(Frame::new(Opcode::Binary, payload)) else {
        panic!("a binary message")
    };
    assert_eq!((out.as_ptr(), &out[..]), (pointer, &[1u8, 2, 3][..]));

    let payload = Bytes::from("héllo");
    let pointer = payload.as_ptr();
    let Ok(Some(Message::Text(out))) = assembler.push(Frame::new(Opcode::Text, payload)) else {
        panic!("a text message")
    };
    assert_eq!(out.as_bytes().as_ptr(), pointer);
    assert_eq!(out, "héllo");
}

#[test]
fn fragments_are_joined_in_order() {
    let mut assembler = MessageAssembler::new(100);
    assert_eq!(
        assembler.push(fragment(Opcode::Binary, false, b"ab")),
        Ok(None)
    );
    assert!(assembler.is_in_progress());
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, false, b"")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, false, b"cd")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"e")),
        Ok(Some(Message::Binary(Bytes::from_static(b"abcde"))))
    );
    assert!(!assembler.is_in_progress());
}

#[test]
fn one_non_empty_fragment_is_returned_without_a_copy() {
    let mut assembler = MessageAssembler::new(100);
    let payload = Bytes::from(vec![b'x'; 10]);
    let pointer = payload.as_ptr();
    let mut first = Frame::new(Opcode::Text, payload);
    first.fin = false;
    assert_eq!(assembler.push(first), Ok(None));
    let Ok(Some(Message::Text(out))) = assembler.push(fragment(Opcode::Continuation, true, b""))
    else {
        panic!("a text message")
    };
    assert_eq!((out.as_bytes().as_ptr(), out.len()), (pointer, 10));
}

#[test]
fn empty_messages() {
    let mut assembler = MessageAssembler::new(0);
    assert_eq!(
        assembler.push(fragment(Opcode::Text, true, b"")),
        Ok(Some(Message::Text(Utf8Bytes::default())))
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Binary, false, b"")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"")),
        Ok(Some(Message::Binary(Bytes::new())))
    );
}

#[test]
fn control_frames_pass_through_between_fragments() {
    let mut assembler = MessageAssembler::new(100);
    assert_eq!(
        assembler.push(fragment(Opcode::Text, false, b"a")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Ping, true, b"p")),
        Ok(Some(Message::Ping(Bytes::from_static(b"p"))))
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Pong, true, b"q")),
        Ok(Some(Message::Pong(Bytes::from_static(b"q"))))
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Close, true, b"\x03\xe8")),
        Ok(Some(Message::Close(Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: String::new(),
        }))))
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"b")),
        Ok(Some(Message::Text("ab".into())))
    );
}

#[test]
fn the_limit_is_inclusive_and_counts_every_fragment() {
    let mut assembler = MessageAssembler::new(4);
    assert_eq!(
        assembler.push(fragment(Opcode::Binary, true, b"abcd")),
        Ok(Some(Message::Binary(Bytes::from_static(b"abcd"))))
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Binary, true, b"abcde")),
        Err(MessageError::TooLarge { size: 5, limit: 4 })
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Text, false, b"ab")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, false, b"cd")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"e")),
        Err(MessageError::TooLarge { size: 5, limit: 4 })
    );
    // The refused message is dropped; the next one starts afresh.
    assert!(!assembler.is_in_progress());
    assert_eq!(
        assembler.push(fragment(Opcode::Text, true, b"ok")),
        Ok(Some(Message::Text("ok".into())))
    );
}

#[test]
fn frames_out_of_sequence_are_refused() {
    let mut assembler = MessageAssembler::new(100);
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"x")),
        Err(MessageError::UnexpectedContinuation)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Binary, false, b"a")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Text, true, b"b")),
        Err(MessageError::ExpectedContinuation)
    );
    assert!(!assembler.is_in_progress());
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"c")),
        Err(MessageError::UnexpectedContinuation)
    );
}

#[test]
fn invalid_utf8_is_refused_at_the_fragment_that_brings_it() {
    let mut assembler = MessageAssembler::new(100);
    assert!(matches!(
        assembler.push(fragment(Opcode::Text, true, b"\xff")),
        Err(MessageError::InvalidUtf8(_))
    ));
    // A character split across fragments is fine.
    assert_eq!(
        assembler.push(fragment(Opcode::Text, false, b"\xe2")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, false, b"\x82")),
        Ok(None)
    );
    assert_eq!(
        assembler.push(fragment(Opcode::Continuation, true, b"\xac")),
        Ok(Some(Message::Text("€".into())))
    );
    // A surrogate fails before the message ends.
    assert_eq!(
        assembler.push(fragment(Opcode::Text, false, b"a")),
        Ok(None)
    );
    assert!(matches!(
        assembler.push(fragment(Opcode::Continuation, false, b"\xed\xa0")),
        Err(MessageError::InvalidUtf8(_))
    ));
    // A message that ends inside a character.
    assert_eq!(
        assembler.push(fragment(Opcode::Text, false, b"\xe2\x82")),
        Ok(None)
    );
    assert!(matches!(
        assembler.push(fragment(Opcode::Continuation, true, b"")),
        Err(MessageError::InvalidUtf8(_))
    ));
    // Binary is not checked.
    assert_eq!(
        assembler.push(fragment(Opcode::Binary, true, b"\xff")),
        Ok(Some(Message::Binary(Bytes::from_static(b"\xff"))))
    );
}

#[test]
fn utf8_bytes_conversions() {
    let text = Utf8Bytes::from(String::from("abc"));
    assert_eq!(text.as_str(), "abc");
    assert_eq!(text.len(), 3);
    assert!(!text.is_empty());
    assert_eq!(alloc::format!("{text} {text:?}"), "abc \"abc\"");
    assert_eq!(Bytes::from(text.clone()), Bytes::from_static(b"abc"));
    assert_eq!(AsRef::<[u8]>::as_ref(&text), b"abc");
    assert_eq!(text.into_bytes(), Bytes::from_static(b"abc"));
    assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xc3")).is_err());
}

#[test]
fn a_message_answers_as_tungstenite_users_expect() {
    let text = Message::from("héllo");
    assert!(text.is_text() && text.is_data() && !text.is_binary());
    assert_eq!((text.len(), text.is_empty()), (6, false));
    assert_eq!(text.to_text(), Ok("héllo"));
    assert_eq!(text.as_text(), Some("héllo"));
    assert_eq!(alloc::format!("{text}"), "héllo");
    assert_eq!(
        text.clone().into_data(),
        Bytes::from_static("héllo".as_bytes())
    );
    assert_eq!(text.into_text().unwrap(), "héllo");

    let binary = Message::from(alloc::vec![0xffu8, 1]);
    assert!(binary.is_binary() && !binary.is_text());
    assert!(binary.to_text().is_err());
    assert_eq!(
        Message::from(Bytes::from_static(b"ab"))
            .into_text()
            .unwrap(),
        "ab"
    );
    assert_eq!(alloc::format!("{binary}"), "<binary, 2 bytes>");

    assert!(Message::Ping(Bytes::new()).is_ping() && Message::Pong(Bytes::new()).is_pong());
    let close = Message::Close(Some(CloseFrame {
        code: CloseCode::NORMAL,
        reason: String::from("bye"),
    }));
    assert!(close.is_close());
    assert_eq!((close.len(), close.to_text()), (3, Ok("bye")));
    assert!(Message::Close(None).is_empty());
    assert_eq!(Message::from(String::from("s")), Message::text("s"));
}

#[test]
fn utf8_bytes_is_a_str() {
    // From a `&str` of any lifetime, and read as a `str` without a check.
    let owned = String::from("dynamic");
    let text = Utf8Bytes::from(owned.as_str());
    drop(owned);
    let as_str: &str = &text;
    assert_eq!(as_str, "dynamic");
    assert!(text.starts_with("dyn"));
    assert_eq!(String::from(text), "dynamic");
    assert_eq!(Utf8Bytes::from_static("static"), "static");
}

/// A client's frames on the wire: `Frame::encode` with a mask.
#[cfg(feature = "std")]
fn client_wire(frames: &[Frame]) -> bytes::BytesMut {
    let mut wire = bytes::BytesMut::new();
    for frame in frames {
        frame.encode(Some([1, 2, 3, 4]), &mut wire);
    }
    wire
}

#[cfg(feature = "std")]
#[test]
#[allow(unsafe_code)]
fn a_text_from_a_connection_is_checked_once_on_its_way_through() {
    use crate::config::Config;
    use crate::utf8::checked_bytes;
    use crate::{Event, Server};
    use core::time::Duration;

    // One text in a frame, and one in three fragments cut inside characters.
    let whole = "héllo wörld €".repeat(40);
    let split = "ünïcode ✓ ".repeat(60);
    let (a, rest) = split.as_bytes().split_at(1);
    let (b, c) = rest.split_at(294);
    let mut first = Frame::new(Opcode::Text, Bytes::copy_from_slice(a));
    first.fin = false;
    let mut middle = Frame::new(Opcode::Continuation, Bytes::copy_from_slice(b));
    middle.fin = false;
    let last = Frame::new(Opcode::Continuation, Bytes::copy_from_slice(c));
    let wire = client_wire(&[
        Frame::new(Opcode::Text, Bytes::copy_from_slice(whole.as_bytes())),
        first,
        middle,
        last,
    ]);
    let text_bytes = whole.len() + split.len();

    let mut counts = Vec::new();
    for trusting in [true, false] {
        let mut server = Server::new_open(Config::default(), Duration::ZERO);
        checked_bytes::take();
        server.receive(Duration::ZERO, &wire).unwrap();
        let mut assembler = if trusting {
            // SAFETY: every frame pushed is this connection's own, unmodified.
            unsafe { MessageAssembler::for_connection(usize::MAX) }
        } else {
            MessageAssembler::new(usize::MAX)
        };
        let mut texts = Vec::new();
        while let Some(event) = server.poll_event() {
            if let Event::Frame(frame) = event
                && let Some(message) = assembler.push(frame).unwrap()
            {
                texts.push(message);
            }
        }
        // What an app does with them: read them as `str`, print them, and
        // send them back.
        let read: Vec<String> = texts
            .iter()
            .map(alloc::string::ToString::to_string)
            .collect();
        assert_eq!(read, [whole.clone(), split.clone()]);
        for message in texts {
            let Message::Text(text) = message else {
                panic!("a text message")
            };
            assert!(text.chars().count() > 0);
            server.send_text_owned(text).unwrap();
        }
        counts.push(checked_bytes::take());
    }
    // Each byte once; the bytes of a character that a fragment boundary
    // cuts (at most 3 at each of the 2 cuts) are looked at again when the
    // character completes.
    let (once, again) = (counts[0], counts[1]);
    assert!(
        (text_bytes..=text_bytes + 6).contains(&once),
        "{once} bytes checked for {text_bytes}"
    );
    // An assembler that checks for itself scans every byte a second time.
    assert!(again >= once + text_bytes, "{again} against {once}");
}
