//! A vendor's typed job section as its executor takes it out of a [`JobSpec`]: the
//! daemon hands each job to its own vendor's executor, so a section of another vendor
//! is a bug, refused in one wording here rather than in every executor.

use crate::executor::PlanError;

use super::{JobSpec, Vendor, VendorJob};

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

/// `impl VendorWork` for each `JOB => Variant` pair; invoked beside `VendorJob`, so a
/// new vendor adds its line where it adds its variant.
macro_rules! vendor_work {
    ($($job:ident => $variant:ident),* $(,)?) => {
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
