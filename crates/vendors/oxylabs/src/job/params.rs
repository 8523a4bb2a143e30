//! `[oxylabs]` rules that depend on Oxylabs' documentation: which sources take a `url`
//! and which a `query`, which parameters may be lists or objects, and the flag each
//! result type needs on the job (a job submitted without it comes back empty).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use dredge_core::job::{OxylabsResults, toml_to_json};

/// Whether a job's values are sent as `url` or as `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum InputKind {
    Url,
    Query,
}

/// Sources without a `_search`/`_product` suffix that still take `query` (the official
/// SDK's source modules, 2026).
const OTHER_QUERY_SOURCES: &[&str] = &[
    "amazon_pricing",
    "amazon_reviews",
    "amazon_questions",
    "amazon_bestsellers",
    "amazon_sellers",
    "google_ads",
    "google_maps",
    "google_lens",
    "google_travel_hotels",
    "google_trends_explore",
    "google_ai_mode",
];

/// What the documented source takes: bare targets (`universal`, `google`, `amazon`, …)
/// a `url`; `*_search`, `*_product`, the sources above and every `youtube_*` a `query`.
pub(super) fn documented_kind(source: &str) -> InputKind {
    let takes_query = source.ends_with("_search")
        || source.ends_with("_product")
        || source.starts_with("youtube_")
        || OTHER_QUERY_SOURCES.contains(&source);
    if takes_query {
        InputKind::Query
    } else {
        InputKind::Url
    }
}

/// Parameters whose documented value is a list or an object.
const STRUCTURED: &[&str] = &["context", "parsing_instructions", "browser_instructions"];

/// The job's pass-through parameters as JSON, with the flag its result type needs set
/// (`parse = true` for parsed, `render = "png"` for png, `markdown = true` for
/// markdown) or refused when the job says otherwise: a type the job did not enable
/// comes back with empty content (docs/vendors/oxylabs.md §"Result types"). Errors are
/// for the job file's author.
pub fn params(
    raw: BTreeMap<String, toml::Value>,
    results: OxylabsResults,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (key, value) in raw {
        check_shape(&key, &value)?;
        out.insert(key, toml_to_json(value));
    }
    match results {
        OxylabsResults::Parsed => {
            need(&mut out, "parse", Value::Bool(true), "results = \"parsed\"")?
        }
        OxylabsResults::Png => need(&mut out, "render", "png".into(), "results = \"png\"")?,
        OxylabsResults::Markdown => need(
            &mut out,
            "markdown",
            Value::Bool(true),
            "results = \"markdown\"",
        )?,
        OxylabsResults::Raw => {}
    }
    if out.contains_key("parsing_instructions") {
        need(&mut out, "parse", Value::Bool(true), "parsing_instructions")?;
    }
    if out.contains_key("browser_instructions") {
        let render = out.get("render").and_then(Value::as_str);
        if !matches!(render, None | Some("html" | "png")) {
            return Err("browser_instructions need render = \"html\" (or \"png\"): Oxylabs runs them only in a browser".into());
        }
        out.entry("render").or_insert_with(|| "html".into());
    }
    Ok(out)
}

fn check_shape(key: &str, value: &toml::Value) -> Result<(), String> {
    let structured = matches!(value, toml::Value::Array(_) | toml::Value::Table(_));
    if !structured {
        return Ok(());
    }
    if !STRUCTURED.contains(&key) {
        return Err(format!(
            "parameter `{key}` must be a single string, number or boolean: only {} take lists or tables (the values to collect go in queries, urls or input_file)",
            STRUCTURED.join(", ")
        ));
    }
    if key == "context" {
        let pairs = value.as_array().is_some_and(|items| {
            items.iter().all(|i| {
                i.as_table()
                    .is_some_and(|t| t.contains_key("key") && t.contains_key("value"))
            })
        });
        if !pairs {
            return Err("context must be a list of { key = \"...\", value = ... } tables".into());
        }
    }
    Ok(())
}

/// Set `key` to `want` when absent; refuse another value.
fn need(out: &mut Map<String, Value>, key: &str, want: Value, why: &str) -> Result<(), String> {
    match out.get(key) {
        None => {
            out.insert(key.to_string(), want);
            Ok(())
        }
        Some(v) if *v == want => Ok(()),
        Some(v) => Err(format!(
            "{why} needs {key} = {want} on the job (it has {key} = {v}): Oxylabs would return empty results"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> BTreeMap<String, toml::Value> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn sources_take_url_or_query_as_documented() {
        for s in [
            "universal",
            "google",
            "amazon",
            "walmart",
            "google_shopping",
        ] {
            assert_eq!(documented_kind(s), InputKind::Url, "{s}");
        }
        for s in [
            "google_search",
            "amazon_product",
            "amazon_reviews",
            "youtube_transcript",
            "bing_search",
        ] {
            assert_eq!(documented_kind(s), InputKind::Query, "{s}");
        }
    }

    #[test]
    fn context_and_instructions_pass_through_as_json() {
        let out = params(
            table("context = [{ key = \"results_language\", value = \"en\" }]\nparsing_instructions = { title = { _fns = [{ _fn = \"xpath_one\", _args = [\"//h1\"] }] } }\n"),
            OxylabsResults::Raw,
        )
        .unwrap();
        assert_eq!(
            out["context"],
            serde_json::json!([{"key": "results_language", "value": "en"}])
        );
        assert_eq!(
            out["parsing_instructions"]["title"]["_fns"][0]["_fn"],
            "xpath_one"
        );
        assert_eq!(out["parse"], true, "parsing instructions need parse = true");
    }

    #[test]
    fn a_result_type_gets_its_flag_or_the_job_is_refused() {
        assert_eq!(
            params(table(""), OxylabsResults::Parsed).unwrap()["parse"],
            true
        );
        assert_eq!(
            params(table(""), OxylabsResults::Png).unwrap()["render"],
            "png"
        );
        let e = params(table("parse = false"), OxylabsResults::Parsed).unwrap_err();
        assert!(e.contains("needs parse = true"), "{e}");
        let e = params(table("render = \"html\""), OxylabsResults::Png).unwrap_err();
        assert!(e.contains("render = \"png\""), "{e}");
        assert_eq!(
            params(table(""), OxylabsResults::Markdown).unwrap()["markdown"],
            true
        );
        let e = params(table("markdown = false"), OxylabsResults::Markdown).unwrap_err();
        assert!(e.contains("needs markdown = true"), "{e}");
        let out = params(
            table("browser_instructions = [{ type = \"click\" }]"),
            OxylabsResults::Raw,
        )
        .unwrap();
        assert_eq!(out["render"], "html");
    }

    #[test]
    fn other_lists_and_malformed_context_are_refused() {
        assert!(
            params(table("geo = [\"x\"]"), OxylabsResults::Raw)
                .unwrap_err()
                .contains("geo")
        );
        assert!(
            params(table("context = [\"en\"]"), OxylabsResults::Raw)
                .unwrap_err()
                .contains("key")
        );
    }
}
