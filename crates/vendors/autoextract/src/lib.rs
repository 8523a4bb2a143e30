//! dredge-autoextract
