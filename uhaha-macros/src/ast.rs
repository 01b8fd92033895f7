//! A model of the two halves of `#[uhaha::machine]`, built from syn's tree.
//!
//! The model records what the user wrote (receivers, parameter types, return
//! types, markers) without judging it: [`check`](crate::check) decides what
//! is an error, [`expand`](crate::expand) what code to generate. Building it
//! never fails, so that every mistake in the input can be reported at once.

use crate::attr::{self, CommandMarker, Kind, MachineArgs, Marker, MarkerKind};
use crate::check::Ctxt;
use crate::doc;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{
    FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, ItemStruct, Pat, PatType,
    PathArguments, ReturnType, Token, Type,
};

/// The struct half: the replicated state.
pub struct MachineStruct<'a> {
    /// The struct as written.
    pub item: &'a ItemStruct,
    /// `name = ".."` and `version = ".."`.
    pub args: MachineArgs,
    /// Whether the user derives `Serialize` themselves.
    pub derives_serialize: bool,
    /// Whether the user derives `Deserialize` themselves.
    pub derives_deserialize: bool,
}

impl<'a> MachineStruct<'a> {
    /// Reads the struct half.
    pub fn from_syn(item: &'a ItemStruct, args: MachineArgs) -> Self {
        let derived = derived_traits(item);
        let derives = |name: &str| derived.iter().any(|ident| ident == name);
        MachineStruct {
            item,
            args,
            derives_serialize: derives("Serialize"),
            derives_deserialize: derives("Deserialize"),
        }
    }
}

/// The last segment of every path in the struct's `#[derive(..)]`s.
fn derived_traits(item: &ItemStruct) -> Vec<syn::Ident> {
    let parser = Punctuated::<syn::Path, Token![,]>::parse_terminated;
    item.attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| attr.parse_args_with(parser).ok())
        .flatten()
        .filter_map(|path| path.segments.last().map(|s| s.ident.clone()))
        .collect()
}

/// The impl half: the commands, the tick and the catch-all.
pub struct MachineImpl<'a> {
    /// The impl block as written.
    pub item: &'a ItemImpl,
    /// The methods with a `#[write]`, `#[read]` or `#[intermediate]`
    /// marker, in order: a command's index in the runtime's table is its
    /// position here.
    pub commands: Vec<Command<'a>>,
    /// The methods with a `#[tick]` marker, in order. A machine has at most
    /// one; the others are errors.
    pub ticks: Vec<MarkedMethod<'a>>,
    /// The methods with a `#[catch_all]` marker, in order. A machine has at
    /// most one; the others are errors.
    pub catch_alls: Vec<MarkedMethod<'a>>,
    /// Markers on items that are not methods (consts, macros).
    pub misplaced_markers: Vec<&'a syn::Attribute>,
}

impl<'a> MachineImpl<'a> {
    /// Reads the impl half. Marker arguments are parsed here, so their
    /// errors go to `cx`.
    pub fn from_syn(cx: &Ctxt, item: &'a ItemImpl) -> Self {
        let mut commands = Vec::new();
        let mut ticks = Vec::new();
        let mut catch_alls = Vec::new();
        let mut misplaced_markers = Vec::new();
        for impl_item in &item.items {
            match impl_item {
                ImplItem::Fn(method) => match attr::marker(cx, &method.attrs) {
                    Some(Marker::Command(marker)) => {
                        commands.push(Command::from_syn(method, marker));
                    }
                    Some(Marker::Plain(MarkerKind::CatchAll, marker)) => {
                        catch_alls.push(MarkedMethod::from_syn(method, marker));
                    }
                    Some(Marker::Plain(_, marker)) => {
                        ticks.push(MarkedMethod::from_syn(method, marker));
                    }
                    None => {}
                },
                other => misplaced_markers.extend(
                    item_attrs(other)
                        .iter()
                        .filter(|a| attr::marker_kind(a).is_some()),
                ),
            }
        }
        MachineImpl {
            item,
            commands,
            ticks,
            catch_alls,
            misplaced_markers,
        }
    }
}

/// The attributes of an impl item that is not a method.
fn item_attrs(item: &ImplItem) -> &[syn::Attribute] {
    match item {
        ImplItem::Const(item) => &item.attrs,
        ImplItem::Fn(item) => &item.attrs,
        ImplItem::Type(item) => &item.attrs,
        ImplItem::Macro(item) => &item.attrs,
        _ => &[],
    }
}

/// One command: a marked method.
pub struct Command<'a> {
    /// The method as written.
    pub method: &'a ImplItemFn,
    /// Its `#[write]` / `#[read]` marker.
    pub marker: CommandMarker,
    /// The command's name, upper-case: the marker's `name = ".."` or the
    /// method's name.
    pub name: String,
    /// Where the name comes from (the literal or the method's name), for
    /// errors about the name.
    pub name_span: Span,
    /// How the method takes `self`.
    pub receiver: Receiver<'a>,
    /// The parameters after `self`, in order.
    pub args: Vec<Arg<'a>>,
    /// The doc comment, for `HELP`.
    pub doc: String,
}

impl<'a> Command<'a> {
    fn from_syn(method: &'a ImplItemFn, marker: CommandMarker) -> Self {
        let (name, name_span) = match &marker.name {
            Some(lit) => (lit.value().to_ascii_uppercase(), lit.span()),
            None => {
                let ident = &method.sig.ident;
                (ident.unraw().to_string().to_ascii_uppercase(), ident.span())
            }
        };
        let (receiver, args) = inputs(method);
        Command {
            method,
            marker,
            name,
            name_span,
            receiver,
            args,
            doc: doc::text(&method.attrs),
        }
    }

    /// `#[write]`, `#[read]` or `#[intermediate]`.
    pub fn kind(&self) -> Kind {
        self.marker.kind
    }

    /// The value parameter called `name`: its position among the value
    /// parameters (the command's arguments) and its arity.
    pub fn value_param(&self, name: &str) -> Option<(usize, Arity)> {
        values(&self.args)
            .find(|value| value.name == name)
            .map(|value| (value.pos, value.arity))
    }

    /// The declared return type, if any.
    pub fn output(&self) -> Option<&'a Type> {
        output(self.method)
    }
}

/// A method's declared return type, if any; for an `async fn`, the type
/// its future yields.
pub fn output(method: &ImplItemFn) -> Option<&Type> {
    match &method.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(ty),
    }
}

/// A value parameter: one that is read from the command's arguments.
pub struct Value<'c, 'a> {
    /// Its position among the value parameters, which is the position of
    /// its (first) argument.
    pub pos: usize,
    /// The parameter.
    pub arg: &'c Arg<'a>,
    /// The name shown in help.
    pub name: &'c str,
    /// How many values it takes.
    pub arity: Arity,
    /// The type each value is read as.
    pub elem: &'a Type,
}

/// The value parameters among `args`, with their positions: the context
/// and the connection take no argument.
pub fn values<'c, 'a>(args: &'c [Arg<'a>]) -> impl Iterator<Item = Value<'c, 'a>> + 'c {
    args.iter()
        .filter_map(|arg| match &arg.ty {
            ArgType::Value { name, arity, elem } => Some((arg, name.as_str(), *arity, *elem)),
            ArgType::Context { .. } | ArgType::Conn { .. } => None,
        })
        .enumerate()
        .map(|(pos, (arg, name, arity, elem))| Value {
            pos,
            arg,
            name,
            arity,
            elem,
        })
}

/// A method with a marker that is not a command's: the `#[tick]` method,
/// run on every node at each replicated tick, and the `#[catch_all]`
/// method, run for every command the machine does not know. Neither has a
/// name, an entry in the command table or help.
pub struct MarkedMethod<'a> {
    /// The method as written.
    pub method: &'a ImplItemFn,
    /// Its `#[tick]` or `#[catch_all]` attribute.
    pub marker: &'a syn::Attribute,
    /// How the method takes `self`.
    pub receiver: Receiver<'a>,
    /// The parameters after `self`, in order ([`check`](crate::check)
    /// allows only a context in a tick, and the connection and the
    /// command in a catch-all).
    pub args: Vec<Arg<'a>>,
}

impl<'a> MarkedMethod<'a> {
    fn from_syn(method: &'a ImplItemFn, marker: &'a syn::Attribute) -> Self {
        let (receiver, args) = inputs(method);
        MarkedMethod {
            method,
            marker,
            receiver,
            args,
        }
    }
}

/// How a method takes `self`, and its other parameters.
fn inputs(method: &ImplItemFn) -> (Receiver<'_>, Vec<Arg<'_>>) {
    let mut receiver = Receiver::Missing;
    let mut args = Vec::new();
    for input in &method.sig.inputs {
        match input {
            FnArg::Receiver(r) => receiver = Receiver::from_syn(r),
            FnArg::Typed(pat_ty) => args.push(Arg::from_syn(pat_ty)),
        }
    }
    (receiver, args)
}

/// How a method takes `self`.
pub enum Receiver<'a> {
    /// `&self` (or `self: &Self`).
    Shared(&'a syn::Receiver),
    /// `&mut self` (or `self: &mut Self`).
    Mut(&'a syn::Receiver),
    /// `self`, `mut self`, `self: Box<Self>`, ...
    Value(&'a syn::Receiver),
    /// An associated function: no `self` at all.
    Missing,
}

impl<'a> Receiver<'a> {
    fn from_syn(r: &'a syn::Receiver) -> Self {
        // `ty` is filled in for the short forms too (`&self` has `&Self`).
        match ungroup(&r.ty) {
            Type::Reference(ty) if ty.mutability.is_some() => Receiver::Mut(r),
            Type::Reference(_) => Receiver::Shared(r),
            _ => Receiver::Value(r),
        }
    }
}

/// One parameter after `self`.
pub struct Arg<'a> {
    /// The parameter as written (`key: String`).
    pub pat_ty: &'a PatType,
    /// What it is to the command.
    pub ty: ArgType<'a>,
}

impl<'a> Arg<'a> {
    fn from_syn(pat_ty: &'a PatType) -> Self {
        let ty = if let Some(mutable) = reference_to(&pat_ty.ty, "Ctx") {
            ArgType::Context { mutable }
        } else if let Some(mutable) = reference_to(&pat_ty.ty, "Conn") {
            ArgType::Conn { mutable }
        } else {
            let (arity, elem) = classify(&pat_ty.ty);
            ArgType::Value {
                name: param_name(&pat_ty.pat),
                arity,
                elem,
            }
        };
        Arg { pat_ty, ty }
    }

    /// The parameter's type as written.
    pub fn full_ty(&self) -> &'a Type {
        &self.pat_ty.ty
    }
}

/// What a parameter is to the command.
pub enum ArgType<'a> {
    /// `&mut Ctx` or `&Ctx`: the machine's context, not an argument.
    Context {
        /// Whether it is `&mut Ctx`.
        mutable: bool,
    },
    /// `&Conn` (or, wrongly, `&mut Conn`): the connection the command came
    /// from, for methods that run on the node that received it.
    Conn {
        /// Whether it is `&mut Conn`.
        mutable: bool,
    },
    /// A value read from the command's arguments.
    Value {
        /// The name shown in help: the pattern's identifier.
        name: String,
        /// How many values it takes.
        arity: Arity,
        /// The type each value is read as: `T` of `Option<T>` and of a
        /// variadic `Vec<T>`, else the parameter's type.
        elem: &'a Type,
    },
}

/// How many values a parameter takes; mirrors the runtime's `Arity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly one.
    Required,
    /// `Option<T>`: zero or one.
    Optional,
    /// `Vec<T>` (other than `Vec<u8>`): zero or more.
    Variadic,
}

/// Looks through the invisible groups and parentheses that macro_rules and
/// users put around types.
pub fn ungroup(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

/// `Some(mutable)` for `&mut Ctx` and `&Ctx` (with or without a lifetime or
/// a path) when `name` is `Ctx`, `None` for anything else.
fn reference_to(ty: &Type, name: &str) -> Option<bool> {
    match ungroup(ty) {
        Type::Reference(r) if ends_in(&r.elem, name) => Some(r.mutability.is_some()),
        _ => None,
    }
}

/// Whether a type is `()`, the type of a method that returns nothing.
pub fn is_unit(ty: &Type) -> bool {
    matches!(ungroup(ty), Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// Whether a type is a path that ends in `Ctx`.
pub fn is_ctx(ty: &Type) -> bool {
    ends_in(ty, "Ctx")
}

/// Whether a type is a path that ends in `Conn`.
pub fn is_conn(ty: &Type) -> bool {
    ends_in(ty, "Conn")
}

fn ends_in(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name)
}

/// Sorts a parameter type by arity, syntactically on its last path segment:
/// the macro sees tokens, not resolved types.
pub fn classify(ty: &Type) -> (Arity, &Type) {
    if let Some(elem) = only_type_argument(ty, "Option") {
        (Arity::Optional, elem)
    } else if let Some(elem) = only_type_argument(ty, "Vec") {
        if last_segment(elem).is_some_and(|s| s.ident == "u8" && s.arguments.is_none()) {
            // `Vec<u8>` is one binary-safe argument, not many bytes.
            (Arity::Required, ty)
        } else {
            (Arity::Variadic, elem)
        }
    } else {
        (Arity::Required, ty)
    }
}

/// `T` of `Wrapper<T>` when the type's last segment is `wrapper`.
fn only_type_argument<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let segment = last_segment(ty).filter(|s| s.ident == wrapper)?;
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [GenericArgument::Type(elem)] => Some(elem),
        _ => None,
    }
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ungroup(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

/// The name a parameter has in help: its identifier without leading
/// underscores or `r#`, or `arg` for other patterns.
fn param_name(pat: &Pat) -> String {
    let name = match pat {
        Pat::Ident(pat) => pat.ident.unraw().to_string(),
        _ => String::new(),
    };
    let name = name.trim_start_matches('_');
    if name.is_empty() {
        "arg".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;
    use syn::parse_quote;

    fn arity_and_elem(ty: Type) -> (Arity, String) {
        let (arity, elem) = classify(&ty);
        (arity, elem.to_token_stream().to_string())
    }

    #[test]
    fn types_are_classified_by_their_last_segment() {
        assert_eq!(
            arity_and_elem(parse_quote!(String)),
            (Arity::Required, "String".into())
        );
        assert_eq!(
            arity_and_elem(parse_quote!(Option<f64>)),
            (Arity::Optional, "f64".into())
        );
        assert_eq!(
            arity_and_elem(parse_quote!(std::option::Option<i64>)),
            (Arity::Optional, "i64".into())
        );
        assert_eq!(
            arity_and_elem(parse_quote!(Vec<String>)),
            (Arity::Variadic, "String".into())
        );
        assert_eq!(
            arity_and_elem(parse_quote!(Vec<u8>)),
            (Arity::Required, "Vec < u8 >".into())
        );
        assert_eq!(
            arity_and_elem(parse_quote!(Vec<Vec<u8>>)),
            (Arity::Variadic, "Vec < u8 >".into())
        );
        assert_eq!(
            arity_and_elem(parse_quote!(Bytes)),
            (Arity::Required, "Bytes".into())
        );
    }

    #[test]
    fn context_parameters_are_references_to_ctx() {
        let context = |ty: Type| reference_to(&ty, "Ctx");
        assert_eq!(context(parse_quote!(&mut Ctx)), Some(true));
        assert_eq!(context(parse_quote!(&Ctx<'_>)), Some(false));
        assert_eq!(context(parse_quote!(&mut uhaha::Ctx)), Some(true));
        assert_eq!(context(parse_quote!(Ctx)), None);
        assert_eq!(context(parse_quote!(&str)), None);
    }

    #[test]
    fn connection_parameters_are_references_to_conn() {
        let item: ImplItemFn = parse_quote! {
            fn setnow(conn: &uhaha::Conn, key: String, by_value: Conn) {}
        };
        let (receiver, args) = inputs(&item);
        assert!(matches!(receiver, Receiver::Missing));
        assert!(matches!(args[0].ty, ArgType::Conn { mutable: false }));
        let names: Vec<(usize, &str)> = values(&args).map(|v| (v.pos, v.name)).collect();
        assert_eq!(names, [(0, "key"), (1, "by_value")]);
    }

    #[test]
    fn unit_is_the_empty_tuple() {
        assert!(is_unit(&parse_quote!(())));
        assert!(is_unit(&parse_quote!((()))));
        assert!(!is_unit(&parse_quote!((i64,))));
        assert!(!is_unit(&parse_quote!(Result<(), String>)));
        assert!(!is_unit(&parse_quote!(Unit)));
    }

    #[test]
    fn ticks_are_kept_apart_from_commands() {
        let item: ItemImpl = parse_quote! {
            impl Kv {
                #[write]
                fn set(&mut self, key: String) {}

                #[tick]
                fn expire(&mut self, ctx: &mut Ctx) {}

                fn helper(&self) {}

                #[tick]
                fn again(&mut self) {}

                #[read]
                fn get(&self, key: String) -> Option<String> {}

                #[tick]
                const LIMIT: usize = 1;
            }
        };
        let cx = Ctxt::new();
        let machine = MachineImpl::from_syn(&cx, &item);
        assert!(cx.check().is_ok());
        let names = |methods: Vec<&ImplItemFn>| -> Vec<String> {
            methods.iter().map(|m| m.sig.ident.to_string()).collect()
        };
        assert_eq!(
            names(machine.commands.iter().map(|c| c.method).collect()),
            ["set", "get"]
        );
        assert_eq!(
            names(machine.ticks.iter().map(|t| t.method).collect()),
            ["expire", "again"]
        );
        assert!(matches!(
            machine.ticks[0].args[..],
            [Arg {
                ty: ArgType::Context { mutable: true },
                ..
            }]
        ));
        assert!(machine.ticks[1].args.is_empty());
        assert_eq!(machine.misplaced_markers.len(), 1);
    }

    #[test]
    fn parameter_names_come_from_the_pattern() {
        assert_eq!(param_name(&parse_quote!(key)), "key");
        assert_eq!(param_name(&parse_quote!(mut key)), "key");
        assert_eq!(param_name(&parse_quote!(_seconds)), "seconds");
        assert_eq!(param_name(&parse_quote!(r#type)), "type");
        assert_eq!(param_name(&parse_quote!(_)), "arg");
        assert_eq!(param_name(&parse_quote!((a, b))), "arg");
    }
}
