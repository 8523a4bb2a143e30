//! dredge-scheduler
