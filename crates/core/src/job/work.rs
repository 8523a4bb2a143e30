//! A vendor's typed job section as its executor takes it out of a [`JobSpec`]: the
//! daemon hands each job to its own vendor's executor, so a section of another vendor
//! is a bug, refused in one wording here rather than in every executor.

use crate::executor::PlanError;

use super::{InputList, JobSpec, Vendor, VendorJob};

/// A vendor's job section: which `VendorJob` variant holds it.
pub trait VendorWork: Sized {
    const VENDOR: Vendor;

    /// The section, if `work` is this vendor's.
    fn of(work: &VendorJob) -> Option<&Self>;
}

/// A job handed to another vendor's executor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not {} {} job", article(.0.key()), .0.key())]
pub struct WrongVendor(pub Vendor);

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl JobSpec {
    /// This job's section for vendor `T`: "not an octoparse job" when it is another's.
    pub fn work_of<T: VendorWork>(&self) -> Result<&T, WrongVendor> {
        T::of(&self.work).ok_or(WrongVendor(T::VENDOR))
    }

    /// [`JobSpec::work_of`] for `Executor::plan`: another vendor's section is a
    /// [`PlanError`].
    pub fn work_to_plan<T: VendorWork>(&self) -> Result<&T, PlanError> {
        self.work_of()
            .map_err(|wrong| PlanError::new(self, wrong.to_string()))
    }
}

/// The list of inputs a run copies before it plans (one item or batch per value),
/// for the jobs that take one; `None` for the jobs whose work is named in the job
/// itself (Octoparse tasks, a WDS crawl). Implemented beside each vendor's job type.
pub trait JobInputs {
    fn inputs(&self) -> Option<&InputList>;
}

/// `VendorJob`, the one vendor section of a job, from its `Variant(JOB)` list, with
/// `impl VendorWork` for each `JOB` and `VendorJob::{vendor, inputs}`: a new vendor is
/// its line in the list.
macro_rules! vendor_jobs {
    ($( $variant:ident($job:ident) ),* $(,)?) => {
        /// The one vendor section of a job.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum VendorJob {
            $( $variant($job), )*
        }

        $(
            impl VendorWork for $job {
                const VENDOR: Vendor = Vendor::$variant;

                fn of(work: &VendorJob) -> Option<&Self> {
                    match work {
                        VendorJob::$variant(w) => Some(w),
                        _ => None,
                    }
                }
            }
        )*

        impl VendorJob {
            pub fn vendor(&self) -> Vendor {
                match self {
                    $( VendorJob::$variant(_) => Vendor::$variant, )*
                }
            }

            /// The job's input list ([`JobInputs`]), if it takes one.
            pub fn inputs(&self) -> Option<&InputList> {
                match self {
                    $( VendorJob::$variant(job) => job.inputs(), )*
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{AutoextractJob, InputList, OctoparseJob, PageType, WdsJob};
    use crate::testing::job_spec;

    #[test]
    fn a_job_gives_its_own_vendors_section_and_names_the_one_asked_for_otherwise() {
        let work = AutoextractJob {
            page_type: PageType::Article,
            urls: InputList::Inline(Vec::new()),
            article_body_raw: false,
        };
        let job = job_spec("t", "a", VendorJob::Autoextract(work.clone()));
        assert_eq!(job.work_of::<AutoextractJob>(), Ok(&work));
        let e = job.work_of::<OctoparseJob>().unwrap_err();
        assert_eq!(e.to_string(), "not an octoparse job");
        let e = job.work_of::<WdsJob>().unwrap_err();
        assert_eq!(e.to_string(), "not a wds job");
    }
}
