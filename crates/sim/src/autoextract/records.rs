//! Products and articles synthesised from a URL: the same seed and URL always give the
//! same record, so tests can compare a client's output with [`product`] / [`article`].

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use crate::common::rng_for;

/// The ten `pageType` values of the final AutoExtract documentation
/// (automatic-extraction/api.html): "Must be article, articleList, comments,
/// forumPosts, jobPosting, product, productList, realEstate, reviews or vehicle."
pub const PAGE_TYPES: [&str; 10] = [
    "article",
    "articleList",
    "comments",
    "forumPosts",
    "jobPosting",
    "product",
    "productList",
    "realEstate",
    "reviews",
    "vehicle",
];

/// A record for the page types other than `product` and `article`: the URL, a name
/// and a probability, under the page type's own key in the result.
pub fn other(seed: u64, url: &str, page_type: &str) -> Value {
    let mut rng = rng_for(seed, &format!("{page_type}:{url}"));
    json!({
        "url": url,
        "name": format!("{page_type} {}", rng.random_range(1..10_000)),
        "probability": probability(&mut rng),
    })
}

const ADJECTIVES: &[&str] = &[
    "Classic",
    "Compact",
    "Deluxe",
    "Ergonomic",
    "Portable",
    "Rugged",
    "Smart",
    "Vintage",
];
const NOUNS: &[&str] = &[
    "Backpack",
    "Desk Lamp",
    "Kettle",
    "Headphones",
    "Notebook",
    "Running Shoe",
    "Tent",
    "Watch",
];
const BRANDS: &[&str] = &["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay"];
const CURRENCIES: &[&str] = &["USD", "$", "EUR", "£"];
const AUTHORS: &[&str] = &[
    "Ian Kerins",
    "Alice Johnes",
    "Bob Marley",
    "Chen Wei",
    "Dana Scully",
    "Erik Satie",
];
const TOPICS: &[&str] = &[
    "Alternative Data",
    "Web Scraping",
    "Price Monitoring",
    "Data Quality",
    "Crawling at Scale",
];
const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// `scheme://host` of `url`, for images and breadcrumbs on the same site.
fn site_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find('/').unwrap_or(rest.len());
            format!("{}{}", &url[..i + 3], &rest[..end])
        }
        None => url.to_string(),
    }
}

fn breadcrumbs(site: &str, last: &str) -> Value {
    json!([
        {"name": "Home", "link": format!("{site}/")},
        {"name": last, "link": format!("{site}/{}", last.to_lowercase().replace(' ', "-"))},
    ])
}

/// The product record the simulator extracts from `url`.
pub fn product(seed: u64, url: &str) -> Value {
    let mut rng = rng_for(seed, &format!("product:{url}"));
    let site = site_of(url);
    let name = format!("{} {}", pick(&mut rng, ADJECTIVES), pick(&mut rng, NOUNS));
    let cents: u32 = rng.random_range(199..99_999);
    let mut record = Map::new();
    record.insert("name".into(), json!(name));
    let mut offer = Map::new();
    offer.insert(
        "price".into(),
        json!(format!("{}.{:02}", cents / 100, cents % 100)),
    );
    offer.insert("currency".into(), json!(pick(&mut rng, CURRENCIES)));
    let availability = if rng.random_bool(0.8) {
        "InStock"
    } else {
        "OutOfStock"
    };
    offer.insert("availability".into(), json!(availability));
    record.insert("offers".into(), json!([offer]));
    record.insert(
        "sku".into(),
        json!(format!("SKU-{:06}", rng.random_range(0..1_000_000))),
    );
    // Optional fields are sometimes absent, as on real pages: "fields without a valid
    // value are excluded".
    if rng.random_bool(0.7) {
        record.insert(
            "mpn".into(),
            json!(format!("MPN{:05}", rng.random_range(0..100_000))),
        );
    }
    if rng.random_bool(0.6) {
        let ean: u64 = rng.random_range(1_000_000_000_000..10_000_000_000_000);
        record.insert(
            "gtin".into(),
            json!([{"type": "ean13", "value": ean.to_string()}]),
        );
    }
    record.insert("brand".into(), json!(pick(&mut rng, BRANDS)));
    record.insert("breadcrumbs".into(), breadcrumbs(&site, "Catalogue"));
    let image = format!("{site}/images/{:08x}.jpg", rng.random::<u32>());
    record.insert("mainImage".into(), json!(image));
    record.insert("images".into(), json!([image]));
    record.insert(
        "description".into(),
        json!(format!("The {name} you always wanted.")),
    );
    if rng.random_bool(0.75) {
        let rating = f64::from(rng.random_range(10..50_u32)) / 10.0;
        record.insert(
            "aggregateRating".into(),
            json!({"ratingValue": rating, "bestRating": 5.0,
                   "reviewCount": rng.random_range(1..500)}),
        );
    }
    record.insert(
        "additionalProperty".into(),
        json!([{"name": "weight", "value": format!("{} g", rng.random_range(50..5000))}]),
    );
    record.insert("probability".into(), json!(probability(&mut rng)));
    record.insert("url".into(), json!(url));
    Value::Object(record)
}

/// The article record the simulator extracts from `url`; `with_raw` adds `articleBodyRaw`.
pub fn article(seed: u64, url: &str, with_raw: bool) -> Value {
    let mut rng = rng_for(seed, &format!("article:{url}"));
    let site = site_of(url);
    let topic = pick(&mut rng, TOPICS);
    let headline = format!("What We Learned About {topic}");
    let (year, month, day) = (
        rng.random_range(2015..2026),
        rng.random_range(1..=12_usize),
        rng.random_range(1..=28),
    );
    let first = pick(&mut rng, AUTHORS);
    let authors: Vec<&str> = if rng.random_bool(0.3) {
        vec![first, pick(&mut rng, AUTHORS)]
    } else {
        vec![first]
    };
    let body = format!(
        "{headline}\n{topic} keeps changing how teams work.\nThis piece looks at what changed in {year}."
    );
    let mut record = Map::new();
    record.insert("headline".into(), json!(headline));
    record.insert(
        "datePublished".into(),
        json!(format!("{year}-{month:02}-{day:02}T00:00:00")),
    );
    record.insert(
        "datePublishedRaw".into(),
        json!(format!("{} {day}, {year}", MONTHS[month - 1])),
    );
    record.insert("author".into(), json!(authors.join(" and ")));
    record.insert("authorsList".into(), json!(authors));
    record.insert("inLanguage".into(), json!("en"));
    record.insert("breadcrumbs".into(), breadcrumbs(&site, "Blog"));
    let image = format!("{site}/hubfs/{:08x}.jpg", rng.random::<u32>());
    record.insert("mainImage".into(), json!(image));
    record.insert("images".into(), json!([image]));
    record.insert("description".into(), json!(headline));
    let paragraphs: String = body.lines().map(|l| format!("<p>{l}</p>")).collect();
    record.insert("articleBody".into(), json!(body));
    if with_raw {
        record.insert(
            "articleBodyRaw".into(),
            json!(format!("<div>{paragraphs}</div>")),
        );
    }
    if rng.random_bool(0.3) {
        record.insert(
            "videoUrls".into(),
            json!([format!("{site}/media/talk.mp4")]),
        );
    }
    record.insert("probability".into(), json!(probability(&mut rng)));
    record.insert("url".into(), json!(url));
    Value::Object(record)
}

fn probability(rng: &mut StdRng) -> f64 {
    f64::from(rng.random_range(500..1000_u32)) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_url_gives_same_product_and_different_urls_differ() {
        let a = product(7, "https://shop.example.com/p/1");
        assert_eq!(a, product(7, "https://shop.example.com/p/1"));
        assert_ne!(a, product(7, "https://shop.example.com/p/2"));
        assert_eq!(a["url"], "https://shop.example.com/p/1");
    }

    #[test]
    fn article_body_raw_only_when_asked() {
        let url = "https://blog.example.com/a";
        assert!(article(1, url, true).get("articleBodyRaw").is_some());
        assert!(article(1, url, false).get("articleBodyRaw").is_none());
    }
}
