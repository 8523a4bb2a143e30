//! dredge-oxylabs
