//! WDS selectors (`CSS: h1`, `xpath: //a/@href`; the type prefix is case-insensitive)
//! evaluated with real engines — `scraper` for CSS, `sxd-xpath` for XPath — so a wrong
//! selector gets a real 400 and a selector that matches nothing a real empty list.

use sxd_xpath::nodeset::Node;

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    Css(String),
    XPath(String),
}

/// Why a selector cannot be used: the plain-text 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid(pub String);

impl Selector {
    // docs/vendors/wds.md §"Selectors": `CSS:` or `XPATH:`, the prefix case-insensitive;
    // `val` or no attribute is the inner text.
    pub(crate) fn parse(text: &str) -> Result<Selector, Invalid> {
        let Some((kind, expression)) = text.split_once(':') else {
            return Err(Invalid(format!(
                "Invalid selector '{text}': expected 'CSS: selector' or 'XPATH: selector'"
            )));
        };
        let expression = expression.trim().to_string();
        if expression.is_empty() {
            return Err(Invalid(format!(
                "Invalid selector '{text}': the selector is empty"
            )));
        }
        match kind.trim().to_ascii_lowercase().as_str() {
            "css" => Ok(Selector::Css(expression)),
            "xpath" => Ok(Selector::XPath(expression)),
            other => Err(Invalid(format!(
                "Invalid selector '{text}': unknown selector type '{other}', expected CSS or XPATH"
            ))),
        }
    }

    /// The values the selector finds in `html`: inner text when `attribute` is `None` or
    /// `val`, else that attribute's values (elements without it are skipped).
    pub(crate) fn values(
        &self,
        html: &str,
        attribute: Option<&str>,
    ) -> Result<Vec<String>, Invalid> {
        let attribute = attribute.filter(|a| !a.is_empty() && !a.eq_ignore_ascii_case("val"));
        match self {
            Selector::Css(css) => css_values(html, css, attribute),
            Selector::XPath(xpath) => xpath_values(html, xpath, attribute),
        }
    }
}

fn css_values(html: &str, css: &str, attribute: Option<&str>) -> Result<Vec<String>, Invalid> {
    let selector = scraper::Selector::parse(css)
        .map_err(|e| Invalid(format!("Invalid CSS selector '{css}': {e}")))?;
    let document = scraper::Html::parse_document(html);
    let values = document
        .select(&selector)
        .filter_map(|element| match attribute {
            Some(name) => element.value().attr(name).map(str::to_string),
            None => Some(element.text().collect::<String>().trim().to_string()),
        });
    Ok(values.collect())
}

fn xpath_values(html: &str, xpath: &str, attribute: Option<&str>) -> Result<Vec<String>, Invalid> {
    let compiled = sxd_xpath::Factory::new()
        .build(xpath)
        .map_err(|e| Invalid(format!("Invalid XPath selector '{xpath}': {e}")))?
        .ok_or_else(|| {
            Invalid(format!(
                "Invalid XPath selector '{xpath}': empty expression"
            ))
        })?;
    let package = sxd_document::parser::parse(html)
        .map_err(|e| Invalid(format!("The page is not well-formed XML: {e:?}")))?;
    let document = package.as_document();
    let context = sxd_xpath::Context::new();
    let value = compiled
        .evaluate(&context, document.root())
        .map_err(|e| Invalid(format!("XPath selector '{xpath}' failed: {e}")))?;
    Ok(match value {
        sxd_xpath::Value::Nodeset(nodes) => nodes
            .document_order()
            .into_iter()
            .filter_map(|node| node_value(node, attribute))
            .collect(),
        sxd_xpath::Value::String(text) => vec![text],
        sxd_xpath::Value::Number(number) => vec![number.to_string()],
        sxd_xpath::Value::Boolean(flag) => vec![flag.to_string()],
    })
}

fn node_value(node: Node<'_>, attribute: Option<&str>) -> Option<String> {
    match (node, attribute) {
        (Node::Element(element), Some(name)) => element.attribute_value(name).map(str::to_string),
        (Node::Attribute(attr), _) => Some(attr.value().to_string()),
        (node, _) => Some(node.string_value().trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str =
        "<html><body><h1 class=\"t\"> Hi </h1><a class=\"next\" href=\"/2\">n</a></body></html>";

    #[test]
    fn prefix_is_case_insensitive() {
        assert_eq!(Selector::parse("CsS: h1"), Ok(Selector::Css("h1".into())));
        assert_eq!(
            Selector::parse("XPATH://h1"),
            Ok(Selector::XPath("//h1".into()))
        );
    }

    #[test]
    fn selector_without_type_is_invalid() {
        assert!(Selector::parse("h1").is_err());
        assert!(Selector::parse("jq: .a").is_err());
    }

    #[test]
    fn css_and_xpath_find_the_same_values() {
        let css = Selector::parse("css: a.next").unwrap();
        let xpath = Selector::parse("xpath: //a[@class='next']").unwrap();
        assert_eq!(css.values(PAGE, Some("href")).unwrap(), vec!["/2"]);
        assert_eq!(xpath.values(PAGE, Some("href")).unwrap(), vec!["/2"]);
        assert_eq!(
            Selector::parse("xpath: //h1")
                .unwrap()
                .values(PAGE, None)
                .unwrap(),
            vec!["Hi"]
        );
    }

    #[test]
    fn broken_selectors_are_invalid() {
        assert!(
            Selector::parse("css: a[")
                .unwrap()
                .values(PAGE, None)
                .is_err()
        );
        assert!(
            Selector::parse("xpath: //a[")
                .unwrap()
                .values(PAGE, None)
                .is_err()
        );
    }
}
