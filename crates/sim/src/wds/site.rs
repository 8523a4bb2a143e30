//! The simulated web site behind WDS: a deterministic graph of catalog listing pages
//! (with `a.next` / `a.prev` pagination) and product pages (linking back to their
//! listing and to related products, so the graph has cycles). Pages are well-formed
//! XHTML without a namespace, so both the CSS engine and the XPath engine read them.

use std::collections::BTreeSet;

use rand::Rng;

use crate::common::rng_for;

/// The pages of one simulator, fixed at start from the seed and the config.
#[derive(Debug, Clone)]
pub struct Site {
    seed: u64,
    pages: usize,
    listings: usize,
    per_listing: usize,
    robots_denied: BTreeSet<usize>,
    gates_exhausted: BTreeSet<usize>,
}

/// Which kind of page an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Catalog listing number `n` (0-based).
    Listing(usize),
    /// Product number `n` (0-based).
    Product(usize),
}

impl Site {
    pub(crate) fn new(seed: u64, config: &super::Config) -> Site {
        let pages = config.pages.max(1);
        let per_listing = config.products_per_listing.max(1);
        let listings = pages.div_ceil(per_listing + 1).max(1);
        let mut site = Site {
            seed,
            pages,
            listings,
            per_listing,
            robots_denied: config.robots_denied.iter().copied().collect(),
            gates_exhausted: config.gates_exhausted.iter().copied().collect(),
        };
        site.deny_random_products(config.robots_denied_count);
        site
    }

    /// Add `count` seeded product pages to the robots-denied set.
    fn deny_random_products(&mut self, count: usize) {
        let mut products: Vec<usize> = (self.listings..self.pages).collect();
        let mut rng = rng_for(self.seed, "robots");
        for i in (1..products.len()).rev() {
            products.swap(i, rng.random_range(0..=i));
        }
        self.robots_denied.extend(products.into_iter().take(count));
    }

    /// Number of pages in the graph.
    pub fn len(&self) -> usize {
        self.pages
    }

    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }

    pub fn kind(&self, id: usize) -> PageKind {
        if id < self.listings {
            PageKind::Listing(id)
        } else {
            PageKind::Product(id - self.listings)
        }
    }

    /// The path of page `id` (`/catalog/1.html`, `/product/17.html`).
    pub fn path(&self, id: usize) -> String {
        match self.kind(id) {
            PageKind::Listing(n) => format!("/catalog/{}.html", n + 1),
            PageKind::Product(n) => format!("/product/{}.html", n + 1),
        }
    }

    /// The page a URL path names; `/` is the first listing.
    pub fn page_for_path(&self, path: &str) -> Option<usize> {
        if path.is_empty() || path == "/" || path == "/index.html" {
            return Some(0);
        }
        let number = |prefix: &str| -> Option<usize> {
            let n: usize = path
                .strip_prefix(prefix)?
                .strip_suffix(".html")?
                .parse()
                .ok()?;
            n.checked_sub(1)
        };
        if let Some(n) = number("/catalog/") {
            return (n < self.listings).then_some(n);
        }
        let n = number("/product/")?;
        (n < self.pages - self.listings).then_some(self.listings + n)
    }

    pub fn is_robots_denied(&self, id: usize) -> bool {
        self.robots_denied.contains(&id)
    }

    pub fn is_gates_exhausted(&self, id: usize) -> bool {
        self.gates_exhausted.contains(&id)
    }

    /// The robots-denied page ids, ascending.
    pub fn robots_denied(&self) -> Vec<usize> {
        self.robots_denied.iter().copied().collect()
    }

    /// The product ids listed on listing `n`.
    pub fn products_of(&self, n: usize) -> std::ops::Range<usize> {
        let products = self.pages - self.listings;
        let start = (n * self.per_listing).min(products);
        let end = if n + 1 == self.listings {
            products
        } else {
            ((n + 1) * self.per_listing).min(products)
        };
        self.listings + start..self.listings + end
    }

    /// The listing a product page belongs to.
    fn listing_of(&self, product: usize) -> usize {
        (product / self.per_listing).min(self.listings - 1)
    }

    /// The page's HTML.
    pub fn html(&self, id: usize) -> String {
        match self.kind(id) {
            PageKind::Listing(n) => self.listing_html(n),
            PageKind::Product(n) => self.product_html(n),
        }
    }

    fn listing_html(&self, n: usize) -> String {
        let mut body = format!(
            "<h1 class=\"title\">Catalog page {}</h1>\n<ul class=\"products\">\n",
            n + 1
        );
        for id in self.products_of(n) {
            let product = Product::new(self.seed, id - self.listings);
            body += &format!(
                "<li class=\"product\"><a class=\"product-link\" href=\"{}\">{}</a> <span class=\"price\">{}</span></li>\n",
                self.path(id),
                escape(&product.name),
                product.price
            );
        }
        body += "</ul>\n<div class=\"pagination\">";
        if n > 0 {
            body += &format!(
                "<a class=\"prev\" href=\"{}\">Previous</a>",
                self.path(n - 1)
            );
        }
        if n + 1 < self.listings {
            body += &format!("<a class=\"next\" href=\"{}\">Next</a>", self.path(n + 1));
        }
        body += "</div>\n<a class=\"home\" href=\"/catalog/1.html\">Home</a>";
        page(&format!("Catalog page {}", n + 1), &body)
    }

    fn product_html(&self, n: usize) -> String {
        let product = Product::new(self.seed, n);
        let products = self.pages - self.listings;
        let mut rng = rng_for(self.seed, &format!("related/{n}"));
        let related: String = (0..3)
            .map(|_| self.listings + rng.random_range(0..products))
            .map(|id| {
                format!(
                    "<a class=\"related\" href=\"{}\">Related</a>",
                    self.path(id)
                )
            })
            .collect();
        let body = format!(
            "<h1 class=\"title\">{name}</h1>\n\
             <div class=\"product\" data-sku=\"{sku}\">\n\
             <span class=\"price\" data-currency=\"USD\">{price}</span>\n\
             <p class=\"description\">{description}</p>\n\
             <table class=\"params\"><tr><td>Color</td><td><b>{color}</b></td></tr>\
             <tr><td>Rating</td><td><b>{rating}</b></td></tr></table>\n\
             <img class=\"photo\" src=\"/img/{sku}.png\" alt=\"{name}\"/>\n\
             </div>\n<a class=\"category\" href=\"{back}\">Back to catalog</a>\n<div class=\"related\">{related}</div>",
            name = escape(&product.name),
            sku = product.sku,
            price = product.price,
            description = escape(&product.description),
            color = product.color,
            rating = product.rating,
            back = self.path(self.listing_of(n)),
        );
        page(&product.name, &body)
    }
}

/// A page the site does not have: what a target site answers with its 404.
pub(crate) fn not_found_html() -> String {
    page("Not Found", "<h1 class=\"title\">Not Found</h1>")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<html>\n<head><meta charset=\"utf-8\"/><title>{}</title></head>\n<body>\n{}\n</body>\n</html>\n",
        escape(title),
        body
    )
}

/// Fields of one product, stable for the seed and product number.
#[derive(Debug, Clone)]
pub struct Product {
    pub name: String,
    pub sku: String,
    pub price: String,
    pub description: String,
    pub color: &'static str,
    pub rating: String,
}

const ADJECTIVES: &[&str] = &[
    "Sturdy", "Compact", "Deluxe", "Rustic", "Smart", "Vintage", "Light",
];
const NOUNS: &[&str] = &[
    "Kettle",
    "Backpack",
    "Lamp",
    "Chair",
    "Headphones",
    "Blender",
    "Tent",
];
const COLORS: &[&str] = &["Red", "Black", "White", "Green", "Blue", "Grey"];

impl Product {
    pub fn new(seed: u64, n: usize) -> Product {
        let mut rng = rng_for(seed, &format!("product/{n}"));
        let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
        let noun = NOUNS[rng.random_range(0..NOUNS.len())];
        let cents: u32 = rng.random_range(199..99_999);
        Product {
            name: format!("{adjective} {noun} {}", n + 1),
            sku: format!("SKU-{:06}", rng.random_range(0..1_000_000)),
            price: format!("{}.{:02}", cents / 100, cents % 100),
            description: format!(
                "A {} {} & more, built to last <{}>.",
                adjective.to_lowercase(),
                noun.to_lowercase(),
                n + 1
            ),
            color: COLORS[rng.random_range(0..COLORS.len())],
            rating: format!("{:.1}", f64::from(rng.random_range(10..=50_u32)) / 10.0),
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(pages: usize) -> Site {
        let config = super::super::Config {
            pages,
            robots_denied_count: 3,
            ..Default::default()
        };
        Site::new(9, &config)
    }

    #[test]
    fn every_page_is_well_formed_xml() {
        let site = site(60);
        for id in 0..site.len() {
            let html = site.html(id);
            assert!(
                sxd_document::parser::parse(&html).is_ok(),
                "page {id}: {html}"
            );
        }
        assert!(sxd_document::parser::parse(&not_found_html()).is_ok());
    }

    #[test]
    fn paths_name_their_pages() {
        let site = site(60);
        for id in 0..site.len() {
            assert_eq!(site.page_for_path(&site.path(id)), Some(id));
        }
        assert_eq!(site.page_for_path("/"), Some(0));
        assert_eq!(site.page_for_path("/product/999.html"), None);
    }

    #[test]
    fn same_seed_gives_same_pages_and_denials() {
        assert_eq!(site(60).html(20), site(60).html(20));
        assert_eq!(site(60).robots_denied(), site(60).robots_denied());
        assert_eq!(site(60).robots_denied().len(), 3);
    }

    #[test]
    fn every_product_is_listed_exactly_once() {
        let site = site(57);
        let listed: usize = (0..site.listings).map(|n| site.products_of(n).len()).sum();
        assert_eq!(listed, site.len() - site.listings);
    }
}
