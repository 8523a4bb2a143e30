//! Fuzzing the daemon config and the status socket's line handling: no input panics
//! or hangs. `DREDGE_FUZZ_CASES=N` sets the inputs per test (default 256, what CI
//! runs).

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use crate::config::DaemonConfig;
use crate::rpc::fake::FakeApi;
use crate::rpc::fuzz_support::{Access, answer_line, read_lines};

/// Inputs per property test: `DREDGE_FUZZ_CASES`, default 256 (what CI runs).
pub(crate) fn cases() -> u32 {
    std::env::var("DREDGE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

const CONFIG_KEYS: &[&str] = &[
    "state_dir",
    "jobs_dir",
    "socket",
    "log_format",
    "callback_listen",
    "metrics_listen",
    "status_group",
    "control_group",
    "inputs_dir",
    "max_job_file_bytes",
    "max_input_file_bytes",
    "vendor",
    "base_url",
    "username",
    "password",
    "password_env",
    "password_file",
    "api_key",
    "token",
    "tenant",
    "requests_per_second",
    "max_concurrency",
    "timeout",
    "flavor",
    "unexported_ack",
    "scrape_via",
    "callback_allow",
    "max_response_bytes",
    "address",
    "public",
    "secret",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        Just("1e12".to_string()),
        Just("1e-30".to_string()),
        Just("-0.0".to_string()),
        Just("\"0.0.0.0:1\"".to_string()),
        Just("{ address = \"[::]:80\", public = false }".to_string()),
        Just("\"18446744073709551615s\"".to_string()),
        Just("\"autoextract\"".to_string()),
        Just("\"octoparse\"".to_string()),
        Just("\"/dev/zero\"".to_string()),
        Just("[\"10.0.0.0/99\"]".to_string()),
        "\"[^\"\\\\]{0,30}\"",
        Just("true".to_string()),
    ]
}

fn config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(CONFIG_KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        "[a-z]{1,8}".prop_map(|n| format!("[accounts.{n}]")),
        ".{0,40}",
    ]
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let mut methods = crate::protocol::Request::methods();
    methods.push("nope".into());
    let method = prop::sample::select(methods);
    prop_oneof![
        (method, any::<i64>(), "[a-z0-9\"{}:,\\[\\] ]{0,30}").prop_map(|(m, id, p)| {
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"{m}\",\"params\":{p}}}")
                .into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..300),
        ".{0,200}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn configs_never_panic(lines in prop::collection::vec(config_line(), 0..20)) {
        let text = lines.join("\n");
        if let Err(e) = DaemonConfig::parse(Path::new("/f/dredge.toml"), &text) {
            prop_assert!(e.to_string().starts_with("/f/dredge.toml:"), "{e}");
        }
    }

    #[test]
    fn socket_lines_never_panic(line in request(), read_only in any::<bool>()) {
        let access = if read_only { Access::ReadOnly } else { Access::Control };
        let api: Arc<dyn crate::protocol::Api> = Arc::new(FakeApi::default());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let answer = rt.block_on(answer_line(&api, &line, access));
        if let Some(answer) = answer {
            prop_assert_eq!(&answer["jsonrpc"], "2.0");
        }
    }

    #[test]
    fn any_byte_stream_splits_into_bounded_lines(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        chunk in 1usize..64,
        max in 1usize..200,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let lines = rt.block_on(read_lines(&bytes, chunk, max));
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
        prop_assert!(lines.len() <= newlines + 1);
        for line in lines.iter().flatten() {
            prop_assert!(line.len() <= max);
        }
    }
}
