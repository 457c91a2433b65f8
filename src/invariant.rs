//! Values the code's own bookkeeping guarantees: a slice at bounds it
//! computed, an element it just checked is there.
//!
//! Such a value is asserted, so that a broken invariant fails a test or a
//! fuzz run loudly; in a release build it falls back to the type's default
//! instead of panicking, since the core must not take a server down, and
//! the input that reaches these places was checked where it entered.

/// Takes the value an invariant guarantees; see the module's docs.
pub(crate) trait Kept<T> {
    /// The value, asserted present in debug builds and tests.
    fn kept(self) -> T;
}

impl<T: Default> Kept<T> for Option<T> {
    #[inline]
    #[track_caller]
    fn kept(self) -> T {
        debug_assert!(self.is_some(), "an invariant the code keeps is broken");
        self.unwrap_or_default()
    }
}

/// Takes the value an invariant guarantees, or `fallback` in a release
/// build if it is broken (asserted in debug builds and tests): for types
/// with no default.
#[inline]
#[track_caller]
pub(crate) fn kept_or<T>(value: Option<T>, fallback: T) -> T {
    debug_assert!(value.is_some(), "an invariant the code keeps is broken");
    value.unwrap_or(fallback)
}
