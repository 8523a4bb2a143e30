//! The extracted objects the simulator answers with: deterministic per seed and URL,
//! shaped like Zyte API's schemas (Zyte API reference, `Response200`): every object
//! carries its `url` and `metadata` (`probability` for single items, `dateDownloaded`
//! always).

use rand::Rng;
use serde_json::{Value, json};

use crate::common::rng_for;

/// The automatic-extraction fields of the request, in the reference's order.
pub const EXTRACTION_FIELDS: [&str; 11] = [
    "article",
    "articleList",
    "articleNavigation",
    "forumThread",
    "jobPosting",
    "jobPostingNavigation",
    "pageContent",
    "product",
    "productList",
    "productNavigation",
    "serp",
];

/// The object `field` extracted from `url`.
pub fn extracted(seed: u64, field: &str, url: &str) -> Value {
    let mut rng = rng_for(seed, url);
    let n: u32 = rng.random_range(1..10_000);
    let metadata = json!({"probability": 0.97, "dateDownloaded": "2026-12-07T12:00:00Z"});
    match field {
        "product" => json!({
            "url": url,
            "name": format!("Product {n}"),
            "price": format!("{}.{:02}", n % 500, n % 100),
            "currency": "USD",
            "availability": "InStock",
            "brand": {"name": format!("Brand {}", n % 17)},
            "mainImage": {"url": format!("{url}/image.jpg")},
            "metadata": metadata,
        }),
        "article" => json!({
            "url": url,
            "headline": format!("Headline {n}"),
            "articleBody": format!("Body of article {n}."),
            "authors": [{"name": "A. Writer", "nameRaw": "by A. Writer"}],
            "metadata": metadata,
        }),
        "productList" | "articleList" | "serp" => {
            let key = match field {
                "productList" => "products",
                "articleList" => "articles",
                _ => "organicResults",
            };
            json!({
                "url": url,
                key: (0..3).map(|i| json!({"url": format!("{url}/{i}"), "name": format!("Entry {i}")})).collect::<Vec<_>>(),
                "metadata": {"dateDownloaded": "2026-12-07T12:00:00Z"},
            })
        }
        _ => json!({
            "url": url,
            "name": format!("{field} {n}"),
            "metadata": metadata,
        }),
    }
}
