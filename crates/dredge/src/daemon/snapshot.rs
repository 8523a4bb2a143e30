//! A run's job spec as stored with the run: version byte + bincode, like every other
//! stored value, so a future format change is detected rather than misread.

use dredge_core::JobSpec;

const VERSION: u8 = 1;

pub fn encode(spec: &JobSpec) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![VERSION];
    out.extend(bincode::serde::encode_to_vec(
        spec,
        bincode::config::standard(),
    )?);
    Ok(out)
}

pub fn decode(bytes: &[u8]) -> anyhow::Result<JobSpec> {
    match bytes.split_first() {
        Some((&VERSION, body)) => {
            let (spec, _) = bincode::serde::decode_from_slice(body, bincode::config::standard())?;
            Ok(spec)
        }
        Some((v, _)) => anyhow::bail!(
            "run snapshot has format version {v}, this dredge reads {VERSION}: upgrade dredge"
        ),
        None => anyhow::bail!("run snapshot is empty"),
    }
}
