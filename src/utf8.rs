//! Placeholder with the final API's shape; replaced by the bytes branch.
#![allow(missing_docs)]

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utf8ErrorKind {
    InvalidByte,
    IncompleteAtEnd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8")]
pub struct Utf8Error {
    kind: Utf8ErrorKind,
}

#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    pending: alloc::vec::Vec<u8>,
}

impl Utf8Validator {
    pub const fn new() -> Self {
        Utf8Validator {
            pending: alloc::vec::Vec::new(),
        }
    }
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Utf8Error> {
        self.pending.extend_from_slice(input);
        match core::str::from_utf8(&self.pending) {
            Ok(_) => {
                self.pending.clear();
                Ok(())
            }
            Err(e) if e.error_len().is_none() => {
                let v = e.valid_up_to();
                self.pending.drain(..v);
                Ok(())
            }
            Err(_) => Err(Utf8Error {
                kind: Utf8ErrorKind::InvalidByte,
            }),
        }
    }
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let empty = self.pending.is_empty();
        self.pending.clear();
        if empty {
            Ok(())
        } else {
            Err(Utf8Error {
                kind: Utf8ErrorKind::IncompleteAtEnd,
            })
        }
    }
    pub fn reset(&mut self) {
        self.pending.clear();
    }
    pub fn is_boundary(&self) -> bool {
        self.pending.is_empty()
    }
}
