//! Batches: the payload of one work item (the user's original queries, never the echoed
//! `userQuery`), the request body built from it, and packing queries into batches that
//! fit the service's limits by measuring the serialized body.

use dredge_core::job::PageType;
use serde::{Deserialize, Serialize};

/// Most queries the service accepts in one request.
pub const MAX_QUERIES: usize = 100;

/// Largest request body we send. The docs say 128 KB; we read it as 128,000 bytes, the
/// stricter of the two readings, so a body we build is never refused for its size.
pub const MAX_BODY_BYTES: usize = 128_000;

/// One query as we keep it: the URL and its index in the run's input list, sent as
/// `meta` so results are matched back whatever order they come in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    pub url: String,
    pub index: u32,
}

impl Query {
    /// The `meta` string sent with the query and echoed in `query.userQuery.meta`.
    pub fn meta(&self) -> String {
        self.index.to_string()
    }
}

/// An item's payload: the queries of one request and its retry bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub queries: Vec<Query>,
    /// Set on the halves of a batch the service rejected (413, malformed): a second
    /// rejection is final.
    #[serde(default)]
    pub split: bool,
}

/// How the queries of a job are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryShape {
    pub page_type: PageType,
    /// `articleBodyRaw`; sent for article extractions only.
    pub article_body_raw: bool,
}

/// One query as it goes over the wire.
#[derive(Serialize)]
struct WireQuery<'a> {
    url: &'a str,
    #[serde(rename = "pageType")]
    page_type: &'static str,
    meta: String,
    #[serde(rename = "articleBodyRaw", skip_serializing_if = "Option::is_none")]
    article_body_raw: Option<bool>,
}

impl QueryShape {
    fn wire<'a>(&self, query: &'a Query) -> WireQuery<'a> {
        WireQuery {
            url: &query.url,
            page_type: self.page_type.as_str(),
            meta: query.meta(),
            article_body_raw: (self.page_type == PageType::Article)
                .then_some(self.article_body_raw),
        }
    }

    /// The JSON request body for `queries`.
    pub fn body(&self, queries: &[Query]) -> Vec<u8> {
        let wire: Vec<WireQuery<'_>> = queries.iter().map(|q| self.wire(q)).collect();
        serde_json::to_vec(&wire).unwrap_or_else(|_| b"[]".to_vec())
    }

    /// Bytes `query` adds to a body: its serialized form (plus a comma when it is not
    /// the first).
    fn size_of(&self, query: &Query) -> usize {
        serde_json::to_vec(&self.wire(query)).map_or(usize::MAX / 4, |v| v.len())
    }
}

impl Batch {
    pub fn new(queries: Vec<Query>) -> Self {
        Batch {
            queries,
            split: false,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The item label: the first URL, and how many more ride along.
    pub fn label(&self) -> String {
        match self.queries.as_slice() {
            [] => "empty batch".into(),
            [one] => one.url.clone(),
            [first, rest @ ..] => format!("{} (+{} more)", first.url, rest.len()),
        }
    }

    /// The two halves of a rejected batch (one copy when it cannot be halved), marked
    /// as split.
    pub fn halves(&self) -> Vec<Batch> {
        let mid = self.queries.len().div_ceil(2);
        let (a, b) = self.queries.split_at(mid);
        [a, b]
            .into_iter()
            .filter(|h| !h.is_empty())
            .map(|h| Batch {
                queries: h.to_vec(),
                split: true,
            })
            .collect()
    }
}

/// Queries too large to send even alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Oversized(pub Query);

/// Pack `queries` (in order) into batches of at most [`MAX_QUERIES`] queries and
/// [`MAX_BODY_BYTES`] of body, measuring each query as serialized. A query that does not
/// fit even alone is returned apart.
pub(crate) fn pack(shape: &QueryShape, queries: Vec<Query>) -> (Vec<Batch>, Vec<Oversized>) {
    let mut batches = Vec::new();
    let mut oversized = Vec::new();
    let mut current: Vec<Query> = Vec::new();
    let mut size = 2; // the brackets
    for query in queries {
        let own = shape.size_of(&query);
        if 2 + own > MAX_BODY_BYTES {
            oversized.push(Oversized(query));
            continue;
        }
        let added = own + usize::from(!current.is_empty());
        if current.len() == MAX_QUERIES || size + added > MAX_BODY_BYTES {
            batches.push(Batch::new(std::mem::take(&mut current)));
            size = 2;
        }
        size += own + usize::from(!current.is_empty());
        current.push(query);
    }
    if !current.is_empty() {
        batches.push(Batch::new(current));
    }
    (batches, oversized)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: QueryShape = QueryShape {
        page_type: PageType::Article,
        article_body_raw: false,
    };

    fn queries(n: u32, url_len: usize) -> Vec<Query> {
        (0..n)
            .map(|index| Query {
                url: format!("https://example.com/{}", "a".repeat(url_len)),
                index,
            })
            .collect()
    }

    #[test]
    fn the_body_carries_page_type_meta_and_article_body_raw() {
        let body = ARTICLE.body(&queries(1, 1));
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            r#"[{"url":"https://example.com/a","pageType":"article","meta":"0","articleBodyRaw":false}]"#
        );
        let product = QueryShape {
            page_type: PageType::Product,
            article_body_raw: true,
        };
        let text = String::from_utf8(product.body(&queries(1, 1))).unwrap();
        assert!(!text.contains("articleBodyRaw"), "{text}");
    }

    #[test]
    fn small_queries_are_cut_at_one_hundred() {
        let (batches, oversized) = pack(&ARTICLE, queries(250, 10));
        let sizes: Vec<usize> = batches.iter().map(|b| b.queries.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(oversized.is_empty());
    }

    #[test]
    fn large_queries_are_cut_by_the_measured_body_size() {
        // ~3 KB per query: far fewer than 100 fit in 128,000 bytes.
        let (batches, _) = pack(&ARTICLE, queries(200, 3000));
        assert!(batches.len() > 2);
        for (i, batch) in batches.iter().enumerate() {
            let body = ARTICLE.body(&batch.queries).len();
            assert!(body <= MAX_BODY_BYTES, "batch {i} is {body} bytes");
            if let Some(next) = batches.get(i + 1) {
                let mut more = batch.queries.clone();
                more.push(next.queries[0].clone());
                assert!(
                    ARTICLE.body(&more).len() > MAX_BODY_BYTES,
                    "batch {i} was cut although the next query would have fit"
                );
            }
        }
        let total: usize = batches.iter().map(|b| b.queries.len()).sum();
        assert_eq!(total, 200);
    }

    #[test]
    fn a_query_too_large_to_send_alone_is_set_apart() {
        let mut list = queries(2, 10);
        list.push(Query {
            url: format!("https://example.com/{}", "b".repeat(MAX_BODY_BYTES)),
            index: 2,
        });
        let (batches, oversized) = pack(&ARTICLE, list);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].queries.len(), 2);
        assert_eq!(oversized.len(), 1);
        assert_eq!(oversized[0].0.index, 2);
    }

    #[test]
    fn halves_keep_every_query_once_and_are_marked_split() {
        let batch = Batch::new(queries(5, 1));
        let halves = batch.halves();
        assert_eq!(halves.len(), 2);
        assert!(halves.iter().all(|h| h.split));
        let indexes: Vec<u32> = halves
            .iter()
            .flat_map(|h| h.queries.iter().map(|q| q.index))
            .collect();
        assert_eq!(indexes, [0, 1, 2, 3, 4]);
        assert_eq!(Batch::new(queries(1, 1)).halves().len(), 1);
    }

    #[test]
    fn payload_round_trips_and_labels_name_the_first_url() {
        let batch = Batch::new(queries(3, 1));
        assert_eq!(Batch::decode(&batch.encode()).unwrap(), batch);
        assert_eq!(batch.label(), "https://example.com/a (+2 more)");
        assert!(Batch::decode(b"not json").is_err());
    }
}
