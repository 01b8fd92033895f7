//! Doc comments to help text.
//!
//! A command's `///` comment is its `HELP` and `COMMAND DOCS` text, so the
//! user documents a command once, for rustdoc and for clients alike. Like
//! rustdoc and clap, one leading space is removed from each line: that is
//! the space after `///`, not indentation the user meant.

use syn::{Attribute, Expr, Lit, Meta};

/// The text of the `#[doc = "..."]` attributes (what `///` and `/** */`
/// become), lines joined with `\n`, blank lines at both ends dropped.
/// Docs that are not string literals (`#[doc = include_str!(..)]`) are
/// skipped: their text is not known to the macro.
pub fn text(attrs: &[Attribute]) -> String {
    join(
        attrs
            .iter()
            .filter_map(literal)
            .flat_map(|doc| fragment_lines(&doc)),
    )
}

/// The lines of one doc attribute. A `///` line loses one leading space; a
/// `/** */` block also loses the indentation its continuation lines share,
/// which is the source's indentation, not the text's.
fn fragment_lines(doc: &str) -> Vec<String> {
    let mut lines = doc.lines();
    let first = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.collect();
    let indent = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let first = first.strip_prefix(' ').unwrap_or(first);
    std::iter::once(first)
        .chain(rest.iter().map(|l| l.get(indent..).unwrap_or("")))
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// The string of one `#[doc = "..."]`.
fn literal(attr: &Attribute) -> Option<String> {
    match &attr.meta {
        Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(lit), ..
            }) => Some(lit.value()),
            _ => None,
        },
        _ => None,
    }
}

/// Joins lines with `\n` without the blank lines at either end.
fn join(lines: impl Iterator<Item = String>) -> String {
    let lines: Vec<String> = lines.collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn doc_of(item: syn::ItemFn) -> String {
        text(&item.attrs)
    }

    #[test]
    fn line_comments_lose_one_leading_space() {
        let item = parse_quote! {
            /// Sets a key.
            ///
            ///     indented example
            ///No space.
            fn set() {}
        };
        assert_eq!(
            doc_of(item),
            "Sets a key.\n\n    indented example\nNo space."
        );
    }

    #[test]
    fn blank_lines_at_the_ends_are_dropped() {
        let item = parse_quote! {
            ///
            /// Body.
            ///
            #[inline]
            ///
            fn f() {}
        };
        assert_eq!(doc_of(item), "Body.");
    }

    #[test]
    fn block_comments_and_non_literal_docs() {
        let item = parse_quote! {
            /** First.
             Second. */
            #[doc = include_str!("x.md")]
            #[doc(hidden)]
            fn f() {}
        };
        assert_eq!(doc_of(item), "First.\nSecond.");
    }

    #[test]
    fn no_doc_is_empty() {
        assert_eq!(
            doc_of(parse_quote!(
                fn f() {}
            )),
            ""
        );
    }
}
