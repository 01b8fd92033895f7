//! Validation of both halves, and [`Ctxt`], which collects the errors.
//!
//! Every rule that the macro itself enforces lives here, each with a message
//! that says what to write instead and a span on the offending tokens. Rules
//! that need types (can this parameter be parsed? can this value be a
//! reply? is this name a built-in's?) are left to the compiler, through the
//! runtime's traits and their `on_unimplemented` messages, because only the
//! compiler knows the types.

use crate::ast::{
    self, Arg, ArgType, Arity, Command, MachineImpl, MachineStruct, MarkedMethod, Receiver,
};
use crate::attr::{self, Kind, MarkerKind};
use proc_macro2::Span;
use quote::{quote, ToTokens};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use syn::Type;

/// Collects errors so that the user sees every mistake in one build, each
/// at its own span, instead of fixing them one compile at a time.
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    /// A context with no errors yet.
    pub fn new() -> Self {
        Ctxt::default()
    }

    /// Adds an error that points at `tokens`.
    pub fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Adds an error that points at one span.
    pub fn error_at(&self, span: Span, message: impl Display) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// Adds an error from a parser.
    pub fn syn_error(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// All errors combined into one, or `Ok` when there were none.
    pub fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        combined.extend(errors);
        Err(combined)
    }
}

/// Checks the struct half.
pub fn struct_half(cx: &Ctxt, machine: &MachineStruct) {
    let generics = &machine.item.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            "a uhaha machine cannot be generic: its state is one concrete type, saved in snapshots",
        );
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(where_clause, "a uhaha machine cannot have a where clause");
    }
    if let Some(name) = &machine.args.name {
        if let Err(message) = machine_name(&name.value()) {
            cx.error_spanned_by(name, message);
        }
    }
    if let Some(version) = &machine.args.version {
        if version.value().trim().is_empty() {
            cx.error_spanned_by(version, "the version must not be empty");
        }
    }
    if let Some(snapshot) = &machine.args.snapshot {
        if !matches!(snapshot.value().as_str(), "serde" | "custom") {
            cx.error_spanned_by(
                snapshot,
                "`snapshot` is \"serde\" (the default) or \"custom\" (implement `uhaha::Snapshot`)",
            );
        }
    }
}

/// Why a service name is not usable, if it is not. The name is a directory
/// under the data dir, so it must not be able to leave it.
fn machine_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the machine name must not be empty");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !name.chars().all(allowed) || name.starts_with('.') {
        return Err(
            "the machine name names its data directory: use ASCII letters, digits, `-`, `_` and `.`, not starting with `.`",
        );
    }
    Ok(())
}

/// Checks the impl half.
pub fn impl_half(cx: &Ctxt, machine: &MachineImpl) {
    let item = machine.item;
    if let Some((_, path, for_token)) = &item.trait_ {
        cx.error_spanned_by(
            quote!(#path #for_token),
            format_args!(
                "#[uhaha::machine] goes on the struct's own impl block (`impl {} {{ .. }}`), not on a trait impl",
                type_to_string(&item.self_ty),
            ),
        );
    }
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(
            &item.generics,
            "#[uhaha::machine] does not support generic impl blocks: a machine is one concrete type",
        );
    } else if let Some(where_clause) = &item.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            "#[uhaha::machine] does not support where clauses on the impl block",
        );
    }
    if let Some(unsafety) = &item.unsafety {
        cx.error_spanned_by(unsafety, "#[uhaha::machine] does not support `unsafe impl`");
    }
    for attr in &machine.misplaced_markers {
        if let Some(kind) = attr::marker_kind(attr) {
            cx.error_spanned_by(attr, format_args!("{} goes on a method", kind.marker()));
        }
    }
    for impl_item in &item.items {
        if let syn::ImplItem::Fn(method) = impl_item {
            if method.sig.ident == "serve" {
                cx.error_spanned_by(
                    &method.sig.ident,
                    "#[uhaha::machine] defines `serve()` on the struct; rename this method (a command can keep the name with #[write(name = \"serve\")])",
                );
            }
        }
    }
    for command in &machine.commands {
        check_command(cx, command);
    }
    check_names(cx, &machine.commands);
    check_client_names(cx, &item.self_ty, &machine.commands);
    check_ticks(cx, &machine.ticks);
    check_catch_alls(cx, &machine.catch_alls);
}

/// The methods that the generated client has besides one per command.
pub const CLIENT_METHODS: &[&str] = &["call", "client", "connect", "into_client"];

/// Command methods named like the generated client's own methods, which
/// the client cannot have twice.
fn check_client_names(cx: &Ctxt, self_ty: &Type, commands: &[Command]) {
    for command in commands {
        let ident = &command.method.sig.ident;
        let name = ident.to_string();
        if CLIENT_METHODS.contains(&name.as_str()) {
            cx.error_spanned_by(
                ident,
                format_args!(
                    "`{name}` is a method of the generated `{}Client` itself; rename this method (the command can keep its name with {}(name = \"{name}\")])",
                    type_to_string(self_ty),
                    command.kind().marker().trim_end_matches(']'),
                ),
            );
        }
    }
}

/// Checks one command's signature.
fn check_command(cx: &Ctxt, command: &Command) {
    let kind = command.kind();
    if let Some(lit) = &command.marker.name {
        let name = lit.value();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            cx.error_spanned_by(
                lit,
                "a command name must not be empty or contain spaces: clients send it as one word",
            );
        }
    }
    if let Some(lit) = &command.marker.key {
        match command.value_param(&lit.value()) {
            None => cx.error_spanned_by(
                lit,
                format_args!(
                    "`key` names a parameter of `{}`, and it has no argument called `{}`",
                    command.method.sig.ident,
                    lit.value(),
                ),
            ),
            Some((_, Arity::Optional)) => cx.error_spanned_by(
                lit,
                "the key parameter cannot be optional: cluster clients route every call by its key",
            ),
            Some(_) => {}
        }
    }
    let role = MarkerKind::Command(kind);
    check_header(cx, &command.method.sig, role);
    check_receiver(cx, &command.method.sig, &command.receiver, role);
    check_args(cx, kind, &command.args);
}

/// Checks the `#[catch_all]` methods: at most one, shaped like an
/// intermediate whose one value parameter takes the whole command.
fn check_catch_alls(cx: &Ctxt, catch_alls: &[MarkedMethod]) {
    let role = MarkerKind::CatchAll;
    for (i, catch_all) in catch_alls.iter().enumerate() {
        if i > 0 {
            cx.error_spanned_by(
                catch_all.marker,
                format_args!(
                    "a machine has at most one #[catch_all] method and `{}` is already one",
                    catch_alls[0].method.sig.ident,
                ),
            );
        }
        let sig = &catch_all.method.sig;
        check_header(cx, sig, role);
        check_receiver(cx, sig, &catch_all.receiver, role);
        check_context(cx, role, &catch_all.args);
        check_conn(cx, role, &catch_all.args);
        check_whole_command(cx, sig, &catch_all.args);
    }
}

/// A catch-all's value parameters: exactly one, a `Vec<T>` that takes the
/// whole command.
fn check_whole_command(cx: &Ctxt, sig: &syn::Signature, args: &[Arg]) {
    let message = "the #[catch_all] method takes the whole command, its name first, as one `Vec<T>` parameter: `cmd: Vec<Bytes>`, after an optional `conn: &Conn`";
    for value in ast::values(args) {
        check_value_type(cx, MarkerKind::CatchAll, value.elem);
    }
    // A connection by value was reported as such just now.
    let mut values = ast::values(args).filter(|v| !ast::is_conn(ast::ungroup(v.elem)));
    match values.next() {
        None => {
            let (fn_token, ident) = (&sig.fn_token, &sig.ident);
            cx.error_spanned_by(quote!(#fn_token #ident), message);
        }
        Some(value) if value.arity != Arity::Variadic => {
            cx.error_spanned_by(value.arg.full_ty(), message);
        }
        Some(_) => {}
    }
    for extra in values {
        cx.error_spanned_by(extra.arg.pat_ty, message);
    }
}

/// Checks the `#[tick]` methods: at most one, called with nothing but the
/// context, returning nothing.
fn check_ticks(cx: &Ctxt, ticks: &[MarkedMethod]) {
    let role = MarkerKind::Tick;
    for (i, tick) in ticks.iter().enumerate() {
        if i > 0 {
            cx.error_spanned_by(
                tick.marker,
                format_args!(
                    "a machine has at most one #[tick] method and `{first}` is already one; call `{this}` from `{first}` instead",
                    first = ticks[0].method.sig.ident,
                    this = tick.method.sig.ident,
                ),
            );
        }
        let sig = &tick.method.sig;
        check_header(cx, sig, role);
        check_receiver(cx, sig, &tick.receiver, role);
        check_context(cx, role, &tick.args);
        check_conn(cx, role, &tick.args);
        for value in ast::values(&tick.args) {
            let ty = value.arg.full_ty();
            if ast::is_ctx(ast::ungroup(ty)) {
                context_by_value(cx, ty, role);
            } else {
                cx.error_spanned_by(
                    value.arg.pat_ty,
                    "a #[tick] method takes no arguments, only an optional `ctx: &mut Ctx`: ticks come from the log, not from a client",
                );
            }
        }
        if let syn::ReturnType::Type(arrow, ty) = &sig.output {
            if !ast::is_unit(ty) {
                cx.error_spanned_by(
                    quote!(#arrow #ty),
                    "a #[tick] method returns nothing: no client waits for a tick; remove the return type",
                );
            }
        }
    }
}

/// The rules every marked method follows: it is called by generated code,
/// so it is not `unsafe` or generic; and unless it runs outside the state
/// machine (an intermediate or the catch-all), it is not `async` either.
fn check_header(cx: &Ctxt, sig: &syn::Signature, role: MarkerKind) {
    let method = method_noun(role);
    let (runs, caller, concrete) = match role {
        MarkerKind::Tick => (
            "it runs inside the state machine, between commands, and must finish without waiting",
            "at every tick",
            "the generated code calls it at every tick and has no types to give it",
        ),
        _ => (
            "commands run one at a time inside the state machine and must finish without waiting; an #[intermediate] command may be `async`",
            "for any client",
            "the argument and reply types must be known to parse and encode them",
        ),
    };
    if let Some(asyncness) = &sig.asyncness {
        if !role.is_local() {
            cx.error_spanned_by(
                asyncness,
                format_args!("{method} cannot be `async`: {runs}"),
            );
        }
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(
            unsafety,
            format_args!("{method} cannot be `unsafe`: the generated code calls it {caller}"),
        );
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format_args!("{method} cannot be generic: {concrete}"),
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format_args!("{method} cannot have a where clause: {concrete}"),
        );
    }
}

/// Checks how a marked method takes `self`: `&mut self` for `#[write]` and
/// `#[tick]`, `&self` for `#[read]`, and not at all for `#[intermediate]`
/// and `#[catch_all]`.
fn check_receiver(cx: &Ctxt, sig: &syn::Signature, receiver: &Receiver, role: MarkerKind) {
    let write = MarkerKind::Command(Kind::Write);
    let read = MarkerKind::Command(Kind::Read);
    match *receiver {
        Receiver::Missing if role.is_local() => {}
        Receiver::Shared(r) | Receiver::Mut(r) | Receiver::Value(r) if role.is_local() => {
            cx.error_spanned_by(
                r,
                format_args!(
                    "{} takes no `self`: it runs on the node that received the command, outside the log, where the state cannot be read or changed; make it an associated function and return `Intermediate::Command` to run a #[read] or #[write] that can",
                    method_noun(role),
                ),
            );
        }
        Receiver::Mut(_) if role != read => {}
        Receiver::Shared(_) if role == read => {}
        Receiver::Shared(r) if role == write => cx.error_spanned_by(
            r,
            "a #[write] method takes `&mut self`; use #[read] for a command that only reads the state",
        ),
        Receiver::Shared(r) => cx.error_spanned_by(
            r,
            "a #[tick] method takes `&mut self`: it runs to change the state, on every node at each replicated tick",
        ),
        Receiver::Mut(r) => cx.error_spanned_by(
            r,
            "a #[read] method takes `&self`: reads must not change the state; use #[write] for a command that does",
        ),
        Receiver::Value(r) => cx.error_spanned_by(
            r,
            format_args!(
                "{} borrows the state: take {}, not `self` by value",
                method_noun(role),
                self_for(role),
            ),
        ),
        Receiver::Missing => {
            let (fn_token, ident) = (&sig.fn_token, &sig.ident);
            cx.error_spanned_by(
                quote!(#fn_token #ident),
                format_args!(
                    "a {} method takes {}: add it as the first parameter",
                    role.marker(),
                    self_for(role),
                ),
            );
        }
    }
}

/// What a marked method is called in messages.
fn method_noun(role: MarkerKind) -> &'static str {
    match role {
        MarkerKind::Command(Kind::Intermediate) => "an #[intermediate] method",
        MarkerKind::Command(_) => "a command method",
        MarkerKind::Tick => "a #[tick] method",
        MarkerKind::CatchAll => "a #[catch_all] method",
    }
}

/// The receiver a method that needs one takes.
fn self_for(role: MarkerKind) -> &'static str {
    match role {
        MarkerKind::Command(Kind::Read) => "`&self`",
        _ => "`&mut self`",
    }
}

/// Checks the context parameters: none outside the log, at most one, and
/// `&Ctx`, not `&mut Ctx`, in a `#[read]` method.
fn check_context(cx: &Ctxt, role: MarkerKind, args: &[Arg]) {
    let mut context_seen = false;
    for arg in args {
        let ArgType::Context { mutable } = arg.ty else {
            continue;
        };
        if role.is_local() {
            cx.error_spanned_by(
                arg.full_ty(),
                format_args!(
                    "{} has no `Ctx`: it runs outside the log, where there is no replicated time or randomness; read the node's own clock or rng and hand the value to a #[write] through `Intermediate::Command`",
                    method_noun(role),
                ),
            );
        } else if context_seen {
            cx.error_spanned_by(
                arg.full_ty(),
                format_args!(
                    "{} takes at most one `Ctx` parameter",
                    match role {
                        MarkerKind::Tick => "a #[tick] method",
                        _ => "a command",
                    },
                ),
            );
        } else if mutable && role == MarkerKind::Command(Kind::Read) {
            cx.error_spanned_by(
                arg.full_ty(),
                "a #[read] method takes `&Ctx`, not `&mut Ctx`: reads must not move the machine's time or random numbers",
            );
        }
        context_seen = true;
    }
}

/// Checks the connection parameter: only in methods that run on the node
/// that received the command, first, once, and shared.
fn check_conn(cx: &Ctxt, role: MarkerKind, args: &[Arg]) {
    for (i, arg) in args.iter().enumerate() {
        let ArgType::Conn { mutable } = arg.ty else {
            continue;
        };
        let message = if !role.is_local() {
            "only #[intermediate] and #[catch_all] methods get the connection: a #[write] or #[tick] runs on every node from the log, and a #[read] against the state, where no connection is at hand"
        } else if i > 0 {
            "the connection comes first: `conn: &Conn` before the command's arguments"
        } else if mutable {
            "take the connection as `&Conn`: it is shared, not changed"
        } else {
            continue;
        };
        cx.error_spanned_by(arg.pat_ty, message);
    }
}

/// An error for `Ctx` taken by value.
fn context_by_value(cx: &Ctxt, ty: &Type, role: MarkerKind) {
    cx.error_spanned_by(
        ty,
        format_args!(
            "take the context by reference: `{}`",
            match role {
                MarkerKind::Command(Kind::Read) => "&Ctx",
                _ => "&mut Ctx",
            }
        ),
    );
}

/// Checks the parameters: their types, the context and connection
/// parameters, and the order of optional and variadic ones.
fn check_args(cx: &Ctxt, kind: Kind, args: &[Arg]) {
    let role = MarkerKind::Command(kind);
    check_context(cx, role, args);
    check_conn(cx, role, args);
    let values: Vec<ast::Value> = ast::values(args).collect();
    for value in &values {
        check_value_type(cx, role, value.elem);
    }
    for (i, value) in values.iter().enumerate() {
        let (arg, name) = (value.arg, value.name);
        let later = &values[i + 1..];
        match value.arity {
            Arity::Required => {}
            Arity::Optional => {
                if let Some(required) = later.iter().find(|v| v.arity == Arity::Required) {
                    cx.error_spanned_by(
                        arg.pat_ty,
                        format_args!(
                            "optional argument `{name}` comes before required argument `{}`: `Option<T>` arguments go after all required ones",
                            required.name,
                        ),
                    );
                }
            }
            Arity::Variadic => {
                if let Some(next) = later.first() {
                    cx.error_spanned_by(
                        arg.pat_ty,
                        format_args!(
                            "variadic argument `{name}` must be the last argument, but `{}` follows it: a `Vec<T>` argument takes all the remaining values",
                            next.name,
                        ),
                    );
                } else if let Some(optional) =
                    values[..i].iter().find(|v| v.arity == Arity::Optional)
                {
                    cx.error_spanned_by(
                        arg.pat_ty,
                        format_args!(
                            "variadic argument `{name}` cannot follow optional argument `{optional}`: make `{optional}` required, or take both as one `Vec<T>`",
                            optional = optional.name,
                        ),
                    );
                }
            }
        }
    }
}

/// Errors for parameter types the macro can tell are wrong without knowing
/// the types: borrowed values, `impl Trait`, `Ctx` by value.
fn check_value_type(cx: &Ctxt, role: MarkerKind, ty: &Type) {
    match ast::ungroup(ty) {
        Type::Reference(reference) => {
            let owned = match ast::ungroup(&reference.elem) {
                Type::Path(path) if path.path.is_ident("str") => "`String`".to_owned(),
                Type::Slice(slice) if is_u8(&slice.elem) => "`Vec<u8>` or `Bytes`".to_owned(),
                Type::Slice(slice) => format!("`Vec<{}>`", type_to_string(&slice.elem)),
                elem => format!("`{}`", type_to_string(elem)),
            };
            cx.error_spanned_by(
                ty,
                format_args!(
                    "command arguments are owned values: use {owned} instead of `{}`",
                    type_to_string(ty)
                ),
            );
        }
        Type::ImplTrait(_) => cx.error_spanned_by(
            ty,
            "a command argument needs a named type: `impl Trait` makes the method generic",
        ),
        ty if ast::is_ctx(ty) && !role.is_local() => context_by_value(cx, ty, role),
        ty if ast::is_conn(ty) && role.is_local() => {
            cx.error_spanned_by(ty, "take the connection by reference, first: `conn: &Conn`")
        }
        _ => {}
    }
}

fn is_u8(ty: &Type) -> bool {
    matches!(ast::ungroup(ty), Type::Path(path) if path.path.is_ident("u8"))
}

/// Duplicate command names, compared as clients do: ignoring case.
fn check_names(cx: &Ctxt, commands: &[Command]) {
    let mut seen: HashMap<&str, &Command> = HashMap::new();
    for command in commands {
        if let Some(first) = seen.get(command.name.as_str()) {
            cx.error_at(
                command.name_span,
                format_args!(
                    "duplicate command name `{}`: method `{}` already has it (command names ignore case)",
                    command.name, first.method.sig.ident,
                ),
            );
        } else {
            seen.insert(&command.name, command);
        }
    }
}

/// A type as a user would write it, for messages: `Vec<u8>`, not
/// `Vec < u8 >`.
fn type_to_string(ty: &Type) -> String {
    let mut out = String::new();
    let text = ty.to_token_stream().to_string();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            let glue_after = matches!(prev, Some('<' | '&' | ':' | '[' | '(' | '\''));
            let glue_before = matches!(next, Some('<' | '>' | ':' | ',' | ']' | ')'));
            if glue_after || glue_before {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn types_print_as_written() {
        let ty: Type = parse_quote!(&'a mut std::collections::HashMap<String, Vec<u8>>);
        assert_eq!(
            type_to_string(&ty),
            "&'a mut std::collections::HashMap<String, Vec<u8>>"
        );
        assert_eq!(type_to_string(&parse_quote!(&[u8])), "&[u8]");
        assert_eq!(type_to_string(&parse_quote!(&str)), "&str");
        assert_eq!(type_to_string(&parse_quote!((i64, f64))), "(i64, f64)");
    }

    #[test]
    fn machine_names_stay_inside_the_data_dir() {
        assert!(machine_name("ticket").is_ok());
        assert!(machine_name("my-kv_2.0").is_ok());
        assert!(machine_name("").is_err());
        assert!(machine_name("..").is_err());
        assert!(machine_name("a/b").is_err());
        assert!(machine_name("a b").is_err());
    }

    fn impl_errors(item: syn::ItemImpl) -> Vec<String> {
        let cx = Ctxt::new();
        let machine = MachineImpl::from_syn(&cx, &item);
        impl_half(&cx, &machine);
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_tick_takes_mut_self_and_maybe_the_context() {
        let ok: [syn::ItemImpl; 4] = [
            parse_quote!(impl Kv { #[tick] fn expire(&mut self, ctx: &mut Ctx) {} }),
            parse_quote!(impl Kv { #[tick] fn expire(&mut self, _: &uhaha::Ctx<'_>) -> () {} }),
            parse_quote!(impl Kv { #[tick] fn expire(self: &mut Self) {} }),
            parse_quote!(impl Kv { #[tick] fn tick(&mut self) {} #[write] fn set(&mut self) {} }),
        ];
        for item in ok {
            assert_eq!(impl_errors(item), Vec::<String>::new());
        }
    }

    #[test]
    fn tick_mistakes_are_each_reported() {
        let errors = impl_errors(parse_quote! {
            impl Kv {
                #[tick]
                async fn expire(&self, ctx: &mut Ctx, ctx2: &Ctx, n: usize, c: Ctx) -> bool {}

                #[tick]
                fn again<T>(self) {}

                #[tick]
                unsafe fn and_again() -> Result<(), String> {}
            }
        });
        let expected = [
            "a #[tick] method cannot be `async`",
            "a #[tick] method takes `&mut self`: it runs to change the state",
            "a #[tick] method takes at most one `Ctx` parameter",
            "a #[tick] method takes no arguments, only an optional `ctx: &mut Ctx`",
            "take the context by reference: `&mut Ctx`",
            "a #[tick] method returns nothing",
            "a machine has at most one #[tick] method and `expire` is already one; call `again` from `expire` instead",
            "a #[tick] method cannot be generic",
            "a #[tick] method borrows the state: take `&mut self`, not `self` by value",
            "a machine has at most one #[tick] method and `expire` is already one; call `and_again` from `expire` instead",
            "a #[tick] method cannot be `unsafe`",
            "a #[tick] method takes `&mut self`: add it as the first parameter",
            "a #[tick] method returns nothing",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, expected) in errors.iter().zip(expected) {
            assert!(error.starts_with(expected), "{error:?} is not {expected:?}");
        }
    }

    #[test]
    fn intermediates_and_the_catch_all_run_without_self_or_ctx() {
        let ok: syn::ItemImpl = parse_quote! {
            impl Kv {
                #[intermediate]
                async fn now(conn: &uhaha::Conn, key: String, at: Option<u64>) -> Intermediate {}
                #[intermediate]
                fn count(keys: Vec<Bytes>) -> usize {}
                #[catch_all]
                async fn unknown(conn: &Conn, cmd: Vec<String>) -> Reply {}
            }
        };
        assert_eq!(impl_errors(ok), Vec::<String>::new());

        let errors = impl_errors(parse_quote! {
            impl Kv {
                #[intermediate]
                unsafe fn peek<T>(&self, ctx: &Ctx, key: String, conn: &Conn) -> i64 {}

                #[catch_all]
                fn unknown(conn: Conn, name: String) -> Reply {}

                #[catch_all]
                fn again(cmd: Vec<Bytes>) -> Reply {}

                #[write]
                fn call(&mut self, conn: &Conn) {}
            }
        });
        let expected = [
            "an #[intermediate] method cannot be `unsafe`",
            "an #[intermediate] method cannot be generic",
            "an #[intermediate] method takes no `self`",
            "an #[intermediate] method has no `Ctx`",
            "the connection comes first",
            "`call` is a method of the generated `KvClient` itself",
            "take the connection by reference, first",
            "the #[catch_all] method takes the whole command",
            "a machine has at most one #[catch_all] method and `unknown` is already one",
            "only #[intermediate] and #[catch_all] methods get the connection",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for expected in expected {
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{expected:?} not in {errors:#?}"
            );
        }
    }

    #[test]
    fn a_tick_marker_off_a_method_is_misplaced() {
        let errors = impl_errors(parse_quote! {
            impl Kv {
                #[tick]
                const EVERY: u64 = 1;
            }
        });
        assert_eq!(errors, ["#[tick] goes on a method"]);
    }

    #[test]
    fn errors_are_combined_in_order() {
        let cx = Ctxt::new();
        cx.error_at(Span::call_site(), "first");
        cx.error_at(Span::call_site(), "second");
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(Ctxt::new().check().is_ok());
    }
}
