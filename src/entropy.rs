//! Randomness supplied by the caller: the client's `Sec-WebSocket-Key` and
//! the per-frame masking keys.
//!
//! RFC 6455 §5.3 asks for masking keys from "a strong source of entropy", so
//! that a hostile script cannot predict the bytes a client puts on the wire.
//! The core never draws randomness of its own: a client is given an
//! [`Entropy`] source when it is built.

#[cfg(feature = "os-entropy")]
use crate::invariant::Kept;
#[cfg(feature = "os-entropy")]
use rand_chacha::ChaCha12Rng;
#[cfg(feature = "os-entropy")]
use rand_core::{RngCore, SeedableRng};

/// The random source could not deliver bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the entropy source failed")]
pub struct EntropyError;

/// A source of random bytes for keys and masks.
///
/// Implement it over your platform's generator on no_std targets; with the
/// default `os-entropy` feature, [`OsEntropy`] reads the operating system's.
pub trait Entropy {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    /// [`EntropyError`] when the source cannot deliver; the operation that
    /// needed the bytes fails instead of using weak ones.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

impl<E: Entropy + ?Sized> Entropy for &mut E {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyError> {
        (**self).fill(dest)
    }
}

/// A deterministic source that repeats a fixed byte sequence: for tests and
/// reproducible examples only, never for a real connection.
///
/// ```
/// use wsmachine::entropy::{Entropy, FixedEntropy};
///
/// let mut entropy = FixedEntropy::new(&[1, 2, 3]);
/// let mut out = [0u8; 5];
/// entropy.fill(&mut out).unwrap();
/// assert_eq!(out, [1, 2, 3, 1, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct FixedEntropy {
    bytes: alloc::vec::Vec<u8>,
    position: usize,
}

impl FixedEntropy {
    /// A source that yields `bytes` in order, over and over. An empty
    /// sequence yields zeros.
    pub fn new(bytes: &[u8]) -> Self {
        FixedEntropy {
            bytes: bytes.to_vec(),
            position: 0,
        }
    }
}

impl Entropy for FixedEntropy {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyError> {
        for byte in dest {
            *byte = self.bytes.get(self.position).copied().unwrap_or(0);
            self.position = (self.position + 1) % self.bytes.len().max(1);
        }
        Ok(())
    }
}

/// Random bytes from a ChaCha12 generator that the operating system's
/// random source seeds, and reseeds after every 64 KiB of output.
///
/// Masking keys are drawn for every frame a client sends; taking each from
/// the kernel cost a system call per 128 keys and, in the kernel, several
/// nanoseconds per byte (40% of a 16-byte send). ChaCha12 is the generator
/// behind `rand`'s `StdRng`: a cryptographically strong stream, as RFC 6455
/// §5.3 asks. Output is buffered 512 bytes at a time, and each byte is wiped
/// from the buffer once handed out. A clone starts a stream of its own.
#[cfg(feature = "os-entropy")]
#[cfg_attr(docsrs, doc(cfg(feature = "os-entropy")))]
pub struct OsEntropy {
    buffer: [u8; OS_BUFFER_LEN],
    position: usize,
    /// `None` until the first refill, which seeds it from the OS.
    generator: Option<ChaCha12Rng>,
    /// Bytes generated since the last seeding.
    generated: usize,
}

#[cfg(feature = "os-entropy")]
const OS_BUFFER_LEN: usize = 512;

/// Output after which the generator is seeded afresh from the OS.
#[cfg(feature = "os-entropy")]
const RESEED_AFTER: usize = 64 * 1024;

#[cfg(feature = "os-entropy")]
impl OsEntropy {
    /// A source with an empty buffer; the first use seeds and fills it.
    pub const fn new() -> Self {
        OsEntropy {
            buffer: [0; OS_BUFFER_LEN],
            position: OS_BUFFER_LEN,
            generator: None,
            generated: 0,
        }
    }

    /// Fills the buffer from the generator, seeding it first when it has
    /// none or has produced `RESEED_AFTER` bytes since its seed.
    fn refill(&mut self) -> Result<(), EntropyError> {
        let generator = match &mut self.generator {
            Some(generator) if self.generated < RESEED_AFTER => generator,
            slot => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|_| EntropyError)?;
                self.generated = 0;
                let generator = slot.insert(ChaCha12Rng::from_seed(seed));
                seed.fill(0);
                generator
            }
        };
        generator.fill_bytes(&mut self.buffer);
        self.generated += OS_BUFFER_LEN;
        self.position = 0;
        Ok(())
    }
}

/// A clone must not repeat the original's keys: it starts unseeded.
#[cfg(feature = "os-entropy")]
impl Clone for OsEntropy {
    fn clone(&self) -> Self {
        OsEntropy::new()
    }
}

#[cfg(feature = "os-entropy")]
impl Default for OsEntropy {
    fn default() -> Self {
        OsEntropy::new()
    }
}

#[cfg(feature = "os-entropy")]
impl core::fmt::Debug for OsEntropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The buffered bytes are future keys: never print them.
        f.debug_struct("OsEntropy").finish_non_exhaustive()
    }
}

#[cfg(feature = "os-entropy")]
impl Entropy for OsEntropy {
    // A masking key is the request made for every frame a client sends: a
    // fixed-size copy when the buffer holds enough, inlined into the
    // caller. The rest is a call of its own; inlined here, it made every
    // key save and restore six registers (half of this function's time in
    // a profile of 16-byte sends).
    #[inline]
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), EntropyError> {
        if let Ok(key) = <&mut [u8; 4]>::try_from(&mut *dest)
            && let Some(buffered) = self
                .buffer
                .get_mut(self.position..)
                .and_then(|rest| rest.first_chunk_mut::<4>())
        {
            *key = *buffered;
            // Used bytes are wiped so they cannot be read back later.
            *buffered = [0; 4];
            self.position += 4;
            return Ok(());
        }
        self.fill_from_generator(dest)
    }
}

#[cfg(feature = "os-entropy")]
impl OsEntropy {
    /// `fill` for what the buffer cannot give in one fixed-size copy.
    #[cold]
    #[inline(never)]
    fn fill_from_generator(&mut self, mut dest: &mut [u8]) -> Result<(), EntropyError> {
        // Large requests bypass the buffer.
        if dest.len() >= OS_BUFFER_LEN {
            return getrandom::fill(dest).map_err(|_| EntropyError);
        }
        while !dest.is_empty() {
            if self.position >= OS_BUFFER_LEN {
                self.refill()?;
            }
            let available = self.buffer.get(self.position..).kept();
            let take = available.len().min(dest.len());
            let (head, tail) = core::mem::take(&mut dest).split_at_mut(take);
            head.copy_from_slice(available.get(..take).kept());
            // Used bytes are wiped so they cannot be read back later.
            if let Some(used) = self.buffer.get_mut(self.position..self.position + take) {
                used.fill(0);
            }
            self.position += take;
            dest = tail;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_source_cycles_and_handles_empty() {
        let mut empty = FixedEntropy::new(&[]);
        let mut out = [9u8; 3];
        empty.fill(&mut out).unwrap();
        assert_eq!(out, [0, 0, 0]);
    }

    #[cfg(feature = "os-entropy")]
    #[test]
    fn os_source_fills_across_refills() {
        let mut entropy = OsEntropy::new();
        let mut seen_nonzero = false;
        for len in [4usize, 16, 511, 512, 1000, 4] {
            let mut out = alloc::vec![0u8; len];
            entropy.fill(&mut out).unwrap();
            seen_nonzero |= out.iter().any(|b| *b != 0);
        }
        assert!(seen_nonzero);
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        entropy.fill(&mut a).unwrap();
        entropy.fill(&mut b).unwrap();
        assert_ne!(a, b, "two keys in a row must differ");
    }

    #[cfg(feature = "os-entropy")]
    #[test]
    fn os_source_reseeds_and_clones_do_not_repeat_it() {
        let mut entropy = OsEntropy::new();
        let mut key = [0u8; 4];
        entropy.fill(&mut key).unwrap();
        let mut clone = entropy.clone();
        let mut from_original = [0u8; 64];
        let mut from_clone = [0u8; 64];
        entropy.fill(&mut from_original).unwrap();
        clone.fill(&mut from_clone).unwrap();
        assert_ne!(from_original, from_clone);
        // Past the reseeding point keys keep coming, from a new seed: the
        // count of bytes since seeding started over.
        for _ in 0..(RESEED_AFTER / 4 + 200) {
            entropy.fill(&mut key).unwrap();
        }
        assert!(entropy.generated < RESEED_AFTER);
        assert!(entropy.generated > 0);
    }
}
