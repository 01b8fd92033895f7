//! The attribute arguments: `#[uhaha::machine(name = "...", version = "...")]`
//! on the struct, nothing on the impl block, and the markers on methods:
//! `#[write]`, `#[read]`, `#[intermediate]` and `#[write(name = "...")]` for
//! commands, and the argument-less `#[tick]` for the method run at each
//! replicated tick and `#[catch_all]` for the method that gets every command
//! the machine does not know.
//!
//! Parsing is kept apart from the model so that every malformed argument is
//! reported at its own token while the rest of the input is still read, and
//! the user sees all their mistakes in one build.

use crate::check::Ctxt;
use proc_macro2::TokenStream;
use quote::quote;
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
    /// `snapshot = "custom"`: the state is saved by the user's
    /// `uhaha::Snapshot` impl instead of serde; `"serde"` (the default)
    /// otherwise.
    pub snapshot: Option<LitStr>,
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
        } else if meta.path().is_ident("snapshot") {
            &mut out.snapshot
        } else {
            cx.error_spanned_by(
                meta.path(),
                format_args!(
                    "unknown argument `{}`: #[uhaha::machine] takes `name = \"...\"`, `version = \"...\"` and `snapshot = \"custom\"`",
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
    /// `#[intermediate]`: no `self`, run on the node that received the
    /// command, outside the log.
    Intermediate,
}

impl Kind {
    /// The marker as the user wrote it, for messages.
    pub fn marker(self) -> &'static str {
        match self {
            Kind::Write => "#[write]",
            Kind::Read => "#[read]",
            Kind::Intermediate => "#[intermediate]",
        }
    }
}

/// What a marker attribute makes of the method it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    /// `#[write]` or `#[read]`: a command.
    Command(Kind),
    /// `#[tick]`: the method run on every node at each replicated tick.
    Tick,
    /// `#[catch_all]`: the method that gets every unknown command.
    CatchAll,
}

impl MarkerKind {
    /// The marker as the user wrote it, for messages.
    pub fn marker(self) -> &'static str {
        match self {
            MarkerKind::Command(kind) => kind.marker(),
            MarkerKind::Tick => "#[tick]",
            MarkerKind::CatchAll => "#[catch_all]",
        }
    }

    /// Whether the method runs on the node that received a command,
    /// outside the log: no `self`, maybe `async`, maybe the connection.
    pub fn is_local(self) -> bool {
        matches!(
            self,
            MarkerKind::Command(Kind::Intermediate) | MarkerKind::CatchAll
        )
    }
}

/// A method's marker.
pub enum Marker<'a> {
    /// `#[write]`, `#[read]` or `#[intermediate]`: the method is a command.
    Command(CommandMarker),
    /// `#[tick]` or `#[catch_all]`: a method that is not a command and has
    /// no arguments in its marker. The attribute is kept for errors about
    /// the method as a whole (a second `#[tick]` method).
    Plain(MarkerKind, &'a Attribute),
}

impl Marker<'_> {
    /// Which marker it is.
    pub fn kind(&self) -> MarkerKind {
        match self {
            Marker::Command(marker) => MarkerKind::Command(marker.kind),
            Marker::Plain(kind, _) => *kind,
        }
    }
}

/// A method's `#[write]`, `#[read]` or `#[intermediate]` marker.
pub struct CommandMarker {
    /// Which marker it is.
    pub kind: Kind,
    /// `name = "..."`: the command's name instead of the method's.
    pub name: Option<LitStr>,
    /// `key = "..."`: the parameter that holds the command's key, for
    /// cluster clients that route commands by key.
    pub key: Option<LitStr>,
}

/// The kind of marker an attribute is, if it is one.
pub fn marker_kind(attr: &Attribute) -> Option<MarkerKind> {
    let path = attr.path();
    if path.is_ident("write") {
        Some(MarkerKind::Command(Kind::Write))
    } else if path.is_ident("read") {
        Some(MarkerKind::Command(Kind::Read))
    } else if path.is_ident("intermediate") {
        Some(MarkerKind::Command(Kind::Intermediate))
    } else if path.is_ident("tick") {
        Some(MarkerKind::Tick)
    } else if path.is_ident("catch_all") {
        Some(MarkerKind::CatchAll)
    } else {
        None
    }
}

/// Finds the marker among a method's attributes. A second marker and bad
/// marker arguments are reported; the first marker wins.
pub fn marker<'a>(cx: &Ctxt, attrs: &'a [Attribute]) -> Option<Marker<'a>> {
    let mut found: Option<Marker> = None;
    for attr in attrs {
        let Some(kind) = marker_kind(attr) else {
            continue;
        };
        let marker = match kind {
            MarkerKind::Command(kind) => {
                let (name, key) = marker_args(cx, kind, attr);
                Marker::Command(CommandMarker { kind, name, key })
            }
            MarkerKind::Tick | MarkerKind::CatchAll => {
                plain_args(cx, kind, attr);
                Marker::Plain(kind, attr)
            }
        };
        match found.as_ref().map(Marker::kind) {
            Some(first) if first == kind => {
                cx.error_spanned_by(attr, format_args!("duplicate {} marker", kind.marker()));
            }
            Some(first) => cx.error_spanned_by(
                attr,
                format_args!(
                    "a method has one marker: a command's (#[write], #[read] or #[intermediate]), #[tick] or #[catch_all]; it is already {}",
                    first.marker(),
                ),
            ),
            None => found = Some(marker),
        }
    }
    found
}

/// `#[tick]` and `#[catch_all]` take no arguments: they are not commands,
/// so they have no name; a tick's interval is the node's `--tick`, not the
/// method's.
fn plain_args(cx: &Ctxt, kind: MarkerKind, attr: &Attribute) {
    let message = match kind {
        MarkerKind::CatchAll => "#[catch_all] takes no arguments: the method gets every command the machine does not know, whatever its name",
        _ => "#[tick] takes no arguments: the method runs at each replicated tick, whose interval the node's `--tick` flag sets",
    };
    match &attr.meta {
        Meta::Path(_) => {}
        Meta::List(list) => cx.error_at(list.delimiter.span().join(), message),
        Meta::NameValue(meta) => {
            let (eq, value) = (&meta.eq_token, &meta.value);
            cx.error_spanned_by(quote!(#eq #value), message);
        }
    }
}

/// Reads a marker's arguments: `name = "..."` and `key = "..."`.
fn marker_args(cx: &Ctxt, kind: Kind, attr: &Attribute) -> (Option<LitStr>, Option<LitStr>) {
    let list = match &attr.meta {
        Meta::Path(_) => return (None, None),
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
            return (None, None);
        }
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(err) => {
            cx.syn_error(err);
            return (None, None);
        }
    };
    let (mut name, mut key) = (None, None);
    for meta in metas {
        let (slot, arg) = if meta.path().is_ident("name") {
            (&mut name, "name")
        } else if meta.path().is_ident("key") {
            (&mut key, "key")
        } else {
            cx.error_spanned_by(
                &meta,
                format_args!(
                    "unknown argument `{}` in {}: the arguments are `name = \"...\"` and `key = \"...\"`",
                    path_to_string(meta.path()),
                    kind.marker(),
                ),
            );
            continue;
        };
        let Some(value) = string_value(cx, &meta, arg) else {
            continue;
        };
        if slot.is_some() {
            cx.error_spanned_by(meta.path(), format_args!("duplicate argument `{arg}`"));
            continue;
        }
        *slot = Some(value);
    }
    (name, key)
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

    fn command(marker: Option<Marker>) -> CommandMarker {
        match marker {
            Some(Marker::Command(marker)) => marker,
            Some(Marker::Plain(kind, _)) => panic!("a {} marker, not a command's", kind.marker()),
            None => panic!("no marker"),
        }
    }

    #[test]
    fn markers_with_and_without_a_name() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![parse_quote!(#[inline]), parse_quote!(#[read])];
        let found = command(marker(&cx, &attrs));
        assert_eq!((found.kind, found.name.is_none()), (Kind::Read, true));

        let attrs: Vec<Attribute> = vec![parse_quote!(#[write(name = "SETX")])];
        let found = command(marker(&cx, &attrs));
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
        assert_eq!(command(marker(&cx, &attrs)).kind, Kind::Write);
        let errors = errors(cx);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("unknown argument `foo` in #[write]"));
        assert!(errors[1].contains("a method has one marker"));
        assert!(errors[2].contains("duplicate #[write]"));
    }

    #[test]
    fn tick_is_a_marker_without_arguments() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![parse_quote!(#[inline]), parse_quote!(#[tick])];
        let found = marker(&cx, &attrs).unwrap();
        assert_eq!(found.kind(), MarkerKind::Tick);
        assert!(matches!(found, Marker::Plain(_, attr) if attr.path().is_ident("tick")));
        assert!(errors(cx).is_empty());

        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[tick(every = 1)]),
            parse_quote!(#[tick = "fast"]),
            parse_quote!(#[tick()]),
        ];
        assert_eq!(marker(&cx, &attrs).unwrap().kind(), MarkerKind::Tick);
        let errors = errors(cx);
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].starts_with("#[tick] takes no arguments"));
        assert!(errors[1].starts_with("#[tick] takes no arguments"));
        assert!(errors[2].contains("duplicate #[tick]"));
        assert!(errors[3].starts_with("#[tick] takes no arguments"));
        assert!(errors[4].contains("duplicate #[tick]"));
    }

    #[test]
    fn tick_and_a_command_marker_are_errors_on_the_second() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![parse_quote!(#[write]), parse_quote!(#[tick])];
        assert_eq!(command(marker(&cx, &attrs)).kind, Kind::Write);
        let attrs: Vec<Attribute> = vec![parse_quote!(#[tick]), parse_quote!(#[read])];
        assert_eq!(marker(&cx, &attrs).unwrap().kind(), MarkerKind::Tick);
        let errors = errors(cx);
        assert_eq!(
            errors,
            [
                "a method has one marker: a command's (#[write], #[read] or #[intermediate]), #[tick] or #[catch_all]; it is already #[write]",
                "a method has one marker: a command's (#[write], #[read] or #[intermediate]), #[tick] or #[catch_all]; it is already #[tick]",
            ]
        );
    }

    #[test]
    fn every_marker_is_known_by_its_path() {
        let kind = |attr: Attribute| marker_kind(&attr);
        assert_eq!(
            kind(parse_quote!(#[write(name = "x")])),
            Some(MarkerKind::Command(Kind::Write))
        );
        assert_eq!(
            kind(parse_quote!(#[read])),
            Some(MarkerKind::Command(Kind::Read))
        );
        assert_eq!(kind(parse_quote!(#[tick])), Some(MarkerKind::Tick));
        assert_eq!(
            kind(parse_quote!(#[intermediate])),
            Some(MarkerKind::Command(Kind::Intermediate))
        );
        assert_eq!(kind(parse_quote!(#[catch_all])), Some(MarkerKind::CatchAll));
        assert_eq!(kind(parse_quote!(#[uhaha::tick])), None);
        assert_eq!(kind(parse_quote!(#[doc = "tick"])), None);
    }

    #[test]
    fn catch_all_takes_no_arguments_and_no_second_marker() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[catch_all(name = "x")]),
            parse_quote!(#[intermediate]),
        ];
        assert_eq!(marker(&cx, &attrs).unwrap().kind(), MarkerKind::CatchAll);
        let errors = errors(cx);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("#[catch_all] takes no arguments"));
        assert!(errors[1].ends_with("it is already #[catch_all]"));
    }

    #[test]
    fn intermediate_takes_a_name_like_other_commands() {
        let cx = Ctxt::new();
        let attrs: Vec<Attribute> = vec![parse_quote!(#[intermediate(name = "SETNOW")])];
        let Some(Marker::Command(found)) = marker(&cx, &attrs) else {
            panic!("not a command marker")
        };
        assert_eq!(found.kind, Kind::Intermediate);
        assert_eq!(found.name.unwrap().value(), "SETNOW");
        assert!(MarkerKind::Command(Kind::Intermediate).is_local());
        assert!(MarkerKind::CatchAll.is_local() && !MarkerKind::Tick.is_local());
        assert!(errors(cx).is_empty());
    }
}
