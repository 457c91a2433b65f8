//! Ops from fuzz input.

use wsmachine::{DataKind, Fragment};

use super::{Op, Side};

/// Reads ops from fuzz input.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = usize::from(self.byte().unwrap_or(0)) % (max + 1);
        let len = len.min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken.to_vec()
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte().unwrap_or(0), self.byte().unwrap_or(0)])
    }

    fn fragment(&mut self) -> Fragment {
        match self.byte().unwrap_or(0) % 4 {
            0 => Fragment::First(DataKind::Text),
            1 => Fragment::First(DataKind::Binary),
            2 => Fragment::Continue,
            _ => Fragment::Last,
        }
    }
}

/// Close codes worth trying: valid ones and ones `close` must refuse.
const CLOSE_CODES: [u16; 12] = [
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1011, 1015, 3000, 4999, 5000,
];

/// Decodes ops from fuzz input: a kind byte (low nibble: the kind; bit 4:
/// the side), then the kind's arguments.
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut reader = Reader { data };
    let mut ops = Vec::new();
    while let Some(kind) = reader.byte() {
        let side = if kind & 0x10 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let op = match kind & 0x0f {
            0 => Op::Text(
                side,
                String::from_utf8_lossy(&reader.bytes(64)).into_owned(),
            ),
            1 => Op::Binary(side, reader.bytes(255)),
            2 => {
                let fragment = match reader.byte().unwrap_or(0) % 5 {
                    0 => Some(Fragment::First(DataKind::Text)),
                    1 => Some(Fragment::First(DataKind::Binary)),
                    2 => Some(Fragment::Continue),
                    3 => Some(Fragment::Last),
                    _ => None,
                };
                Op::Large(side, fragment, reader.byte().unwrap_or(0))
            }
            3 => {
                let fragment = reader.fragment();
                Op::Fragment(side, fragment, reader.bytes(64))
            }
            4 => Op::Ping(side, reader.bytes(130)),
            5 => Op::Pong(side, reader.bytes(130)),
            6 => {
                let choice = reader.byte().unwrap_or(0);
                let code = match CLOSE_CODES.get(usize::from(choice)) {
                    Some(&code) => code,
                    None => reader.u16(),
                };
                let reason = String::from_utf8_lossy(&reader.bytes(130)).into_owned();
                Op::Close(side, code, reason)
            }
            7 => Op::Advance(reader.u16()),
            8 => Op::Drive,
            9 => {
                let amount = reader.byte().unwrap_or(0);
                let amount = if amount < 128 {
                    u16::from(amount)
                } else {
                    u16::from(amount - 128) * 512
                };
                Op::Deliver(side, amount)
            }
            10 => Op::Eof(side),
            11 => Op::Garbage(side, reader.bytes(32)),
            _ => Op::Drive,
        };
        ops.push(op);
    }
    ops
}
