//! The `tracing` feature's one event per failure. Without the feature the
//! driver logs nothing.

use crate::error::Error;

/// Reports a failure at DEBUG, its kind as a field.
#[cfg(feature = "tracing")]
pub(crate) fn failure(error: &Error) {
    tracing::debug!(kind = error.kind_str(), error = %error, "websocket failure");
}

/// Reports a failure: nothing, without the `tracing` feature.
#[cfg(not(feature = "tracing"))]
pub(crate) fn failure(_error: &Error) {}
