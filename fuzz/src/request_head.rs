//! Placeholder: being written.

/// Placeholder.
pub fn run(_data: &[u8]) {}
