//! The size of a `runs.list` page, checked where it is read.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

/// The size of a `runs.list` page: 1..=1000. Bigger pages would let one call hold the
/// daemon's answer (and the client's memory) hostage to the length of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct PageLimit(u16);

impl PageLimit {
    pub(crate) const MAX: u16 = 1000;
    pub(crate) const DEFAULT: PageLimit = PageLimit(50);

    /// `None` outside 1..=[`PageLimit::MAX`].
    pub(crate) fn new(n: u64) -> Option<PageLimit> {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(PageLimit)
    }

    pub(crate) fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<'de> Deserialize<'de> for PageLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = PageLimit;
            // Serde's messages name the expectation, not the field: say the field here.
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "`limit` as a whole number in 1..={}", PageLimit::MAX)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PageLimit, E> {
                PageLimit::new(n).ok_or_else(|| E::invalid_value(Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PageLimit, E> {
                u64::try_from(n)
                    .ok()
                    .and_then(PageLimit::new)
                    .ok_or_else(|| E::invalid_value(Unexpected::Signed(n), &self))
            }
        }
        deserializer.deserialize_u64(LimitVisitor)
    }
}
