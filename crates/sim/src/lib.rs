//! Faithful simulators of the five vendor APIs dredge talks to.
//!
//! The real services cannot be reached from tests, the demo or benchmarks, and new
//! users have no accounts yet, so this crate reproduces each vendor's paths, methods,
//! status codes, headers, JSON shapes and error bodies — quirks included — from the
//! sourced facts in `docs/vendors/*.md` (each modelled answer names its section there),
//! plus fault injection and a request log that tests read to assert on what dredge sent.
//!
//! It owns: HTTP servers on 127.0.0.1, deterministic data from a seed, fault
//! scenarios. It does not know anything about dredge's executors, queue or daemon.

pub mod autoextract;
mod common;
pub mod log;
pub mod octoparse;
pub mod oxylabs;
mod server;
pub mod wds;
pub mod zyte;

pub use log::{LoggedRequest, RequestLog};
pub use server::SimServer;

use serde::Deserialize;

/// Which simulators to start and how they behave: the `--scenario FILE` of `dredge sim`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seed for all generated data; the same seed gives the same data.
    #[serde(default)]
    pub seed: u64,
    pub autoextract: Option<autoextract::Config>,
    pub octoparse: Option<octoparse::Config>,
    pub oxylabs: Option<oxylabs::Config>,
    pub wds: Option<wds::Config>,
    pub zyte: Option<zyte::Config>,
}

impl Scenario {
    /// All five simulators with their default (fault-free) configuration.
    pub fn all() -> Self {
        Scenario {
            seed: 0,
            autoextract: Some(Default::default()),
            octoparse: Some(Default::default()),
            oxylabs: Some(Default::default()),
            wds: Some(Default::default()),
            zyte: Some(Default::default()),
        }
    }

    /// Parse a scenario file's text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// The simulators started for one scenario. Dropping it stops them.
pub struct Sims {
    pub autoextract: Option<autoextract::Sim>,
    pub octoparse: Option<octoparse::Sim>,
    pub oxylabs: Option<oxylabs::Sim>,
    pub wds: Option<wds::Sim>,
    pub zyte: Option<zyte::Sim>,
}

/// Start the simulators the scenario names, each on `host:port` (port 0 = ephemeral).
///
/// `ports` gives a fixed port per vendor in the order autoextract, octoparse, oxylabs,
/// wds, zyte; `None` picks ephemeral ports.
pub async fn start(
    scenario: &Scenario,
    host: &str,
    ports: Option<[u16; 5]>,
) -> std::io::Result<Sims> {
    let port = |i: usize| ports.map(|p| p[i]).unwrap_or(0);
    let seed = scenario.seed;
    Ok(Sims {
        autoextract: match &scenario.autoextract {
            Some(c) => Some(autoextract::Sim::start(c.clone(), seed, host, port(0)).await?),
            None => None,
        },
        octoparse: match &scenario.octoparse {
            Some(c) => Some(octoparse::Sim::start(c.clone(), seed, host, port(1)).await?),
            None => None,
        },
        oxylabs: match &scenario.oxylabs {
            Some(c) => Some(oxylabs::Sim::start(c.clone(), seed, host, port(2)).await?),
            None => None,
        },
        wds: match &scenario.wds {
            Some(c) => Some(wds::Sim::start(c.clone(), seed, host, port(3)).await?),
            None => None,
        },
        zyte: match &scenario.zyte {
            Some(c) => Some(zyte::Sim::start(c.clone(), seed, host, port(4)).await?),
            None => None,
        },
    })
}
