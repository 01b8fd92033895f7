//! The attribute arguments: `#[uhaha::machine(name = "...", version = "...")]`
//! on the struct, nothing on the impl block, and the `#[write]`, `#[read]`,
//! `#[write(name = "...")]` markers on methods.
//!
//! Parsing is kept apart from the model so that every malformed argument is
//! reported at its own token while the rest of the input is still read, and
//! the user sees all their mistakes in one build.

use crate::check::Ctxt;
use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, LitStr, Meta, Token};

/// The arguments of `#[uhaha::machine(...)]` on the struct.
#[derive(Default)]
pub struct MachineArgs {
    /// `name = "..."`: the service's name; the Cargo package's when absent.
    pub name: Option<LitStr>,
    /// `version = "..."`: the service's version; the package's when absent.
    pub version: Option<LitStr>,
}

/// Reads the struct half's arguments. A bad argument is reported and
/// ignored, so the struct still gets its impls (with the default for that
/// argument) and the error does not cascade.
pub fn machine_args(cx: &Ctxt, args: TokenStream) -> MachineArgs {
    let mut out = MachineArgs::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(err) => {
            cx.syn_error(err);
            return out;
        }
    };
    for meta in metas {
        let slot = if meta.path().is_ident("name") {
            &mut out.name
        } else if meta.path().is_ident("version") {
            &mut out.version
        } else {
            cx.error_spanned_by(
                meta.path(),
                format_args!(
                    "unknown argument `{}`: #[uhaha::machine] takes `name = \"...\"` and `version = \"...\"`",
                    path_to_string(meta.path()),
                ),
            );
            continue;
        };
        let key = path_to_string(meta.path());
        let Some(value) = string_value(cx, &meta, &key) else {
            continue;
        };
        if slot.is_some() {
            cx.error_spanned_by(meta.path(), format_args!("duplicate argument `{key}`"));
            continue;
        }
        *slot = Some(value);
    }
    out
}

/// The impl half takes no arguments: name and version belong to the struct.
pub fn no_args(cx: &Ctxt, args: TokenStream) {
    if !args.is_empty() {
        cx.error_spanned_by(
            args,
            "#[uhaha::machine] on an impl block takes no arguments; put `name` and `version` on the struct",
        );
    }
}

/// Whether a method's command runs through the log or on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[write]`: `&mut self`, replicated.
    Write,
    /// `#[read]`: `&self`, run against the applied state.
    Read,
}

impl Kind {
    /// The marker as the user wrote it, for messages.
    pub fn marker(self) -> &'static str {
        match self {
            Kind::Write => "#[write]",
            Kind::Read => "#[read]",
        }
    }
}

/// A method's `#[write]` or `#[read]` marker.
pub struct Marker {
    /// Which marker it is.
    pub kind: Kind,
    /// `name = "..."`: the command's name instead of the method's.
    pub name: Option<LitStr>,
}

/// The kind of marker an attribute is, if it is one.
pub fn marker_kind(attr: &Attribute) -> Option<Kind> {
    let path = attr.path();
    if path.is_ident("write") {
        Some(Kind::Write)
    } else if path.is_ident("read") {
        Some(Kind::Read)
    } else {
        None
    }
}

/// Finds the marker among a method's attributes. A second marker and bad
/// marker arguments are reported; the first marker wins.
pub fn marker(cx: &Ctxt, attrs: &[Attribute]) -> Option<Marker> {
    let mut found: Option<Marker> = None;
    for attr in attrs {
        let Some(kind) = marker_kind(attr) else {
            continue;
        };
        let name = marker_args(cx, kind, attr);
        match &found {
            Some(first) if first.kind == kind => {
                cx.error_spanned_by(attr, format_args!("duplicate {} marker", kind.marker()));
            }
            Some(first) => cx.error_spanned_by(
                attr,
                format_args!(
                    "a method is either #[write] or #[read], not both; it is already {}",
                    first.kind.marker(),
                ),
            ),
            None => found = Some(Marker { kind, name }),
        }
    }
    found
}

/// Reads `name = "..."` inside a marker, the only argument markers take.
fn marker_args(cx: &Ctxt, kind: Kind, attr: &Attribute) -> Option<LitStr> {
    let list = match &attr.meta {
        Meta::Path(_) => return None,
        Meta::List(list) => list,
        Meta::NameValue(meta) => {
            cx.error_spanned_by(
                meta,
                format_args!(
                    "expected {} or {}(name = \"...\")",
                    kind.marker(),
                    kind.marker().trim_end_matches(']'),
                ),
            );
            return None;
        }
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(err) => {
            cx.syn_error(err);
            return None;
        }
    };
    let mut name = None;
    for meta in metas {
        if !meta.path().is_ident("name") {
            cx.error_spanned_by(
                &meta,
                format_args!(
                    "unknown argument `{}` in {}: the only argument is `name = \"...\"`",
                    path_to_string(meta.path()),
                    kind.marker(),
                ),
            );
            continue;
        }
        let Some(value) = string_value(cx, &meta, "name") else {
            continue;
        };
        if name.is_some() {
            cx.error_spanned_by(meta.path(), "duplicate argument `name`");
            continue;
        }
        name = Some(value);
    }
    name
}

/// The string literal of `key = "..."`, or an error at whatever is there.
fn string_value(cx: &Ctxt, meta: &Meta, key: &str) -> Option<LitStr> {
    let expected = format!("expected `{key} = \"...\"`");
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(lit),
                attrs,
            }) if attrs.is_empty() => Some(lit.clone()),
            value => {
                cx.error_spanned_by(
                    value,
                    format_args!("{expected}: the value must be a string literal"),
                );
                None
            }
        },
        meta => {
            cx.error_spanned_by(meta, expected);
            None
        }
    }
}

/// A path as the user wrote it, for messages.
fn path_to_string(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    fn errors(cx: Ctxt) -> Vec<String> {
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn machine_args_keep_what_parses_and_report_the_rest() {
        let cx = Ctxt::new();
        let args = machine_args(
            &cx,
            quote!(name = "kv", version = 2, port = "1", name = "other"),
        );
        assert_eq!(args.name.map(|l| l.value()).as_deref(), Some("kv"));
        assert!(args.version.is_none());
        let errors = errors(cx);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("must be a string literal"));
        assert!(errors[1].contains("unknown argument `port`"));
        assert!(errors[2].contains("duplicate argument `name`"));
    }

    #[test]
    fn markers_with_and_without_a_name() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![parse_quote!(#[inline]), parse_quote!(#[read])];
        let found = marker(&cx, &attrs).unwrap();
        assert_eq!((found.kind, found.name.is_none()), (Kind::Read, true));

        let attrs: Vec<Attribute> = vec![parse_quote!(#[write(name = "SETX")])];
        let found = marker(&cx, &attrs).unwrap();
        assert_eq!(found.kind, Kind::Write);
        assert_eq!(found.name.unwrap().value(), "SETX");
        assert!(errors(cx).is_empty());
    }

    #[test]
    fn second_markers_and_unknown_arguments_are_errors() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[write(foo)]),
            parse_quote!(#[read]),
            parse_quote!(#[write]),
        ];
        assert_eq!(marker(&cx, &attrs).unwrap().kind, Kind::Write);
        let errors = errors(cx);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("unknown argument `foo` in #[write]"));
        assert!(errors[1].contains("not both"));
        assert!(errors[2].contains("duplicate #[write]"));
    }
}
