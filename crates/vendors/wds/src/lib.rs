//! dredge-wds
