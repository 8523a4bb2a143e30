//! End-to-end tests: the real `dredge` binary against the simulators (ARCHITECTURE.md,
//! "Crates": `tests/e2e/`).
//! Each file is one area; `support` starts daemons and reads their outputs.

mod support;

mod autoextract_daemon;
mod bad_input;
mod chaos;
mod cluster;
mod cluster_writers;
mod control;
mod crash;
mod demo;
mod examples;
mod faults;
mod hostile_config;
mod hostile_files;
mod hostile_socket;
mod hostile_vendors;
mod postgres;
mod retention;
mod schedule;
mod socket;
mod vendors;
mod zyte_daemon;
