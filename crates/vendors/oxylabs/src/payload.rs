//! What an item carries between `plan`/`execute` calls: a submission (a batch of values,
//! or one value resubmitted) or the poll of one submitted job.
//!
//! Everything the executor needs later lives here, because the daemon may restart
//! between two executions of the same item. Job ids stay strings: they are 19 digits,
//! beyond what a JSON number survives as a float.

use serde::{Deserialize, Serialize};

/// One item's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Work {
    Submit(Submit),
    Poll(Poll),
}

/// Submit `values` (queries or URLs, as the job says): one value goes to
/// `POST /v1/queries`, more to `POST /v1/queries/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Submit {
    pub values: Vec<String>,
    /// A resubmission of a faulted job: its polls keep the attempts spent so far, so
    /// `max_attempts` bounds the faults of one value across its whole chain.
    #[serde(default)]
    pub resubmit: bool,
}

/// Collect the results of one submitted job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Poll {
    /// The vendor's job id, kept as text.
    pub job_id: String,
    /// The query or URL the job was submitted for (the records' `source`, and what a
    /// resubmission sends again).
    pub value: String,
}

impl Work {
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Serializing plain strings and vectors cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Work, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_payload_keeps_a_19_digit_job_id_exactly() {
        let work = Work::Poll(Poll {
            job_id: "7173957294344910849".into(),
            value: "adidas".into(),
        });
        let text = String::from_utf8(work.encode()).unwrap();
        assert!(text.contains("\"7173957294344910849\""), "{text}");
        assert_eq!(Work::decode(text.as_bytes()).unwrap(), work);
    }
}
