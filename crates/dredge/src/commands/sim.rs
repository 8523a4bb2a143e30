//! `dredge sim`: the five vendor simulators, standalone, for trying jobs by hand.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use dredge_sim::Scenario;

pub(super) fn run(listen: SocketAddr, scenario: Option<&Path>) -> anyhow::Result<ExitCode> {
    let scenario = match scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read scenario {}", path.display()))?;
            Scenario::from_toml(&text)
                .map_err(|e| dredge_core::FileError::from_toml(path, &text, &e))?
        }
        None => Scenario::all(),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(listen, scenario))
}

async fn serve(listen: SocketAddr, scenario: Scenario) -> anyhow::Result<ExitCode> {
    let host = listen.ip().to_string();
    let ports = match listen.port() {
        0 => None,
        p => Some([p, p + 1, p + 2, p + 3, p + 4]),
    };
    let sims = dredge_sim::start(&scenario, &host, ports)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("{}", describe(&sims));
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(ExitCode::SUCCESS)
}

/// Base URLs and an account config to paste into dredge.toml.
fn describe(sims: &dredge_sim::Sims) -> String {
    let mut out = String::from("# vendor simulators running; Ctrl-C stops them\n");
    if let Some(s) = &sims.zyte {
        out += &format!(
            "\n[accounts.zyte]\nvendor = \"zyte\"\nbase_url = \"{}\"\napi_key = \"test-key\"\n",
            s.base_url()
        );
    }
    if let Some(s) = &sims.autoextract {
        out += &format!(
            "\n[accounts.autoextract]\nvendor = \"autoextract\"\nbase_url = \"{}\"\napi_key = \"test-key\"\n",
            s.base_url()
        );
    }
    if let Some(s) = &sims.octoparse {
        out += &format!(
            "\n[accounts.octo]\nvendor = \"octoparse\"\nbase_url = \"{}\"\nusername = \"test-user\"\npassword = \"test-pass\"\n",
            s.base_url()
        );
    }
    if let Some(s) = &sims.oxylabs {
        out += &format!(
            "\n[accounts.oxy]\nvendor = \"oxylabs\"\nbase_url = \"{}\"\nusername = \"user\"\npassword = \"pass\"\n",
            s.base_url()
        );
    }
    if let Some(s) = &sims.wds {
        out += &format!(
            "\n[accounts.wds]\nvendor = \"wds\"\nbase_url = \"{}\"\ntenant = \"default\"\n",
            s.base_url()
        );
    }
    out
}
