//! A run's job spec as stored with the run: version byte + bincode, like every other
//! stored value, so a future format change is detected rather than misread.
//!
//! bincode is not self-describing: a field added to `JobSpec` changes the format, and
//! `#[serde(default)]` cannot fill it in (the decoder would read the next value's bytes
//! as the new field). So each change bumps [`VERSION`], and the older formats dredge
//! still reads are decoded through their own types here, with what was added taking
//! the value that matches what the older dredge did.

use dredge_core::JobSpec;

/// 2: `[wds] restart` (format 1 had none; its runs started `FromScratch`).
const VERSION: u8 = 2;

pub(super) fn encode(spec: &JobSpec) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![VERSION];
    out.extend(bincode::serde::encode_to_vec(
        spec,
        bincode::config::standard(),
    )?);
    Ok(out)
}

pub(super) fn decode(bytes: &[u8]) -> anyhow::Result<JobSpec> {
    match bytes.split_first() {
        Some((&VERSION, body)) => body_of(body),
        Some((&1, body)) => Ok(body_of::<v1::JobSpec>(body)?.into()),
        Some((v, _)) => anyhow::bail!(
            "run snapshot has format version {v}, this dredge reads {VERSION}: upgrade dredge"
        ),
        None => anyhow::bail!("run snapshot is empty"),
    }
}

fn body_of<T: serde::de::DeserializeOwned>(body: &[u8]) -> anyhow::Result<T> {
    let (value, _) = bincode::serde::decode_from_slice(body, bincode::config::standard())?;
    Ok(value)
}

/// Format 1: `JobSpec` as it was before `[wds] restart` existed. Only the types that
/// changed are copied; the rest are today's (unchanged since).
mod v1 {
    use std::time::Duration;

    use dredge_core::job::{
        self, AutoextractJob, CatchUp, HttpUrl, JobName, OctoparseJob, Overlap, OxylabsJob,
        Schedule, WdsField, WdsFollow, WdsRestart, ZyteJob,
    };
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct JobSpec {
        name: JobName,
        account: String,
        schedule: Option<Schedule>,
        catch_up: CatchUp,
        overlap: Overlap,
        enabled: bool,
        max_attempts: u32,
        deadline: Duration,
        work: VendorJob,
    }

    #[derive(Deserialize)]
    enum VendorJob {
        Octoparse(OctoparseJob),
        Oxylabs(OxylabsJob),
        Wds(WdsJob),
        Autoextract(AutoextractJob),
        Zyte(ZyteJob),
    }

    #[derive(Deserialize)]
    struct WdsJob {
        job_name: String,
        start_urls: Vec<HttpUrl>,
        crawl_delay: Option<job::CrawlDelay>,
        follow: Vec<WdsFollow>,
        max_depth: u32,
        max_pages: u64,
        fields: Vec<WdsField>,
    }

    impl From<JobSpec> for job::JobSpec {
        fn from(old: JobSpec) -> Self {
            let work = match old.work {
                VendorJob::Octoparse(j) => job::VendorJob::Octoparse(j),
                VendorJob::Oxylabs(j) => job::VendorJob::Oxylabs(j),
                VendorJob::Autoextract(j) => job::VendorJob::Autoextract(j),
                VendorJob::Zyte(j) => job::VendorJob::Zyte(j),
                VendorJob::Wds(w) => job::VendorJob::Wds(job::WdsJob {
                    job_name: w.job_name,
                    start_urls: w.start_urls,
                    crawl_delay: w.crawl_delay,
                    follow: w.follow,
                    max_depth: w.max_depth,
                    max_pages: w.max_pages,
                    fields: w.fields,
                    // What every run of format 1 started with.
                    restart: WdsRestart::FromScratch,
                }),
            };
            job::JobSpec {
                name: old.name,
                account: old.account,
                schedule: old.schedule,
                catch_up: old.catch_up,
                overlap: old.overlap,
                enabled: old.enabled,
                max_attempts: old.max_attempts,
                deadline: old.deadline,
                work,
                // Never stored (the current job file's word counts).
                retention: Default::default(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use dredge_core::job::{FileRules, VendorJob, WdsRestart, parse_job};

    use super::*;

    fn wds_spec(extra: &str) -> JobSpec {
        let text = format!(
            "vendor = \"wds\"\naccount = \"wds\"\nschedule = \"@daily\"\n[wds]\njob_name = \"shop.example\"\nstart_urls = [\"https://shop.example/catalog/1.html\"]\ncrawl_delay = \"1-5\"\nfollow = [{{ selector = \"css: a.next\" }}]\nmax_depth = 2\nmax_pages = 50\nfields = [{{ name = \"title\", selector = \"css: h1\" }}]\n{extra}"
        );
        parse_job(
            Path::new("/jobs/shop.toml"),
            &text,
            None,
            &FileRules::default(),
            &crate::vendors::JOB_SECTIONS,
        )
        .expect("a valid job")
    }

    /// `snapshot::encode` of `wds_spec("")` by dredge before format 2 (commit 6d0223d).
    const FORMAT_1_WDS: &str = "010473686f70037764730106406461696c7900000108fb605400020c73686f702e6578616d706c65012368747470733a2f2f73686f702e6578616d706c652f636174616c6f672f312e68746d6c0103312d35010b6373733a20612e6e65787400023201057469746c65076373733a20683100";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn a_format_1_snapshot_decodes_with_the_restart_it_ran_with() {
        let old = unhex(FORMAT_1_WDS);
        assert_eq!(old[0], 1);
        let spec = decode(&old).expect("format 1 still decodes");
        assert_eq!(spec, wds_spec(""));
        let VendorJob::Wds(wds) = &spec.work else {
            panic!("a WDS job");
        };
        assert_eq!(wds.restart, WdsRestart::FromScratch);
    }

    #[test]
    fn the_current_format_keeps_the_restart_mode() {
        let spec = wds_spec("restart = \"continue\"\n");
        let bytes = encode(&spec).unwrap();
        assert_eq!(bytes[0], VERSION);
        assert_eq!(decode(&bytes).unwrap(), spec);
        let mut newer = bytes;
        newer[0] = VERSION + 1;
        let e = decode(&newer).unwrap_err().to_string();
        assert!(e.contains("upgrade dredge"), "{e}");
    }
}
