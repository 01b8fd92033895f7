//! Code generation for both halves.
//!
//! Generated code names everything through `::uhaha::__private`, never the
//! user's imports, and keeps its trait impls inside `const _: () = { .. };`
//! so that nothing leaks into the user's namespace.
//!
//! Where the compiler, not the macro, must judge the user's code (can this
//! type be an argument or a reply? is this name a built-in's?), the
//! generated expression carries the span of the user's tokens, so the
//! runtime trait's `on_unimplemented` message or the const panic points at
//! the parameter type, the return type or the method name.
//!
//! On a macro error the item is still emitted, markers removed, with a
//! fallback impl where one can be written, so that one mistake does not
//! cascade into errors elsewhere in the program.

use crate::ast::{self, Arg, ArgType, Arity, Command, MachineImpl, MachineStruct, MarkedMethod};
use crate::attr::{self, Kind};
use crate::check::{self, Ctxt};
use crate::client;
use proc_macro2::{Literal, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ImplItem, ImplItemFn, ItemImpl, ItemStruct};

/// Expands `#[uhaha::machine(..)]` on a struct.
pub fn struct_half(args: TokenStream, item: &ItemStruct) -> TokenStream {
    let cx = Ctxt::new();
    let args = attr::machine_args(&cx, args);
    let machine = MachineStruct::from_syn(item, args);
    check::struct_half(&cx, &machine);
    match cx.check() {
        Ok(()) => struct_impls(&machine),
        Err(error) => {
            let error = error.into_compile_error();
            let generics = &item.generics;
            let fallback = if generics.params.is_empty() && generics.where_clause.is_none() {
                // Without the impls, every use of the struct as a machine
                // would fail too: emit them with the arguments that parsed.
                struct_impls(&machine)
            } else {
                quote!(#item)
            };
            quote!(#error #fallback)
        }
    }
}

/// The struct with serde's derives, its `Machine` impl and `serve()`.
fn struct_impls(machine: &MachineStruct) -> TokenStream {
    let item = machine.item;
    let ident = &item.ident;
    let vis = &item.vis;
    let name = match &machine.args.name {
        Some(name) => quote!(#name),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let version = match &machine.args.version {
        Some(version) => quote!(#version),
        None => quote!(::core::env!("CARGO_PKG_VERSION")),
    };
    let custom = machine
        .args
        .snapshot
        .as_ref()
        .is_some_and(|s| s.value() == "custom");
    // Serde snapshots need both serde traits; derive the ones the user does
    // not. The derive goes before the user's attributes: a `#[serde(..)]` of
    // theirs must come after the derive that declares it.
    let mut derives = Vec::new();
    if !custom && !machine.derives_serialize {
        derives.push(quote!(::uhaha::__private::serde::Serialize));
    }
    if !custom && !machine.derives_deserialize {
        derives.push(quote!(::uhaha::__private::serde::Deserialize));
    }
    let (capture, load, load_go) = if custom {
        (
            quote!(::uhaha::__private::Result::Ok(
                ::uhaha::__private::Box::new(<Self as ::uhaha::__private::Snapshot>::view(self)?)
            )),
            quote!(<Self as ::uhaha::__private::Snapshot>::restore(from)),
            quote!(<Self as ::uhaha::__private::Snapshot>::restore_go(from)),
        )
    } else {
        (
            quote!(::uhaha::__private::capture_with_serde(self)),
            quote!(::uhaha::__private::load_with_serde(from)),
            quote!(::uhaha::__private::load_go_json(from)),
        )
    };
    let serde = (!derives.is_empty()).then(|| {
        quote! {
            #[derive(#(#derives),*)]
            #[serde(crate = "::uhaha::__private::serde")]
        }
    });
    // Spanned at the struct's name: without the impl half, the missing
    // `Commands` impl is reported there.
    let serve = quote_spanned!(ident.span()=> ::uhaha::__private::serve::<Self>());
    let client = client::client_struct(item);
    quote! {
        #serde
        #item
        #client

        const _: () = {
            #[automatically_derived]
            impl ::uhaha::__private::Machine for #ident {
                const NAME: &'static ::core::primitive::str = #name;
                const VERSION: &'static ::core::primitive::str = #version;

                fn capture(&self) -> ::uhaha::__private::Result<::uhaha::__private::Box<dyn ::uhaha::__private::CapturedView>, ::uhaha::__private::SnapshotError> {
                    #capture
                }

                fn load(from: &mut dyn ::uhaha::__private::BufRead) -> ::uhaha::__private::Result<Self, ::uhaha::__private::SnapshotError> {
                    #load
                }

                fn load_go(from: &mut dyn ::uhaha::__private::BufRead) -> ::uhaha::__private::Result<Self, ::uhaha::__private::SnapshotError> {
                    #load_go
                }
            }
        };

        impl #ident {
            /// Runs a node of this machine with uhaha's command line (`-n`,
            /// `-a`, `-j`, `-d`, ...) until it is stopped; see `--help`.
            #[allow(dead_code)]
            #vis fn serve() -> ! {
                #serve
            }
        }
    }
}

/// Expands `#[uhaha::machine]` on an impl block.
pub fn impl_half(args: TokenStream, item: &ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    attr::no_args(&cx, args);
    let machine = MachineImpl::from_syn(&cx, item);
    check::impl_half(&cx, &machine);
    let stripped = strip_markers(item);
    match cx.check() {
        Ok(()) => {
            let commands = commands_impl(&machine);
            let client = client::client_methods(&machine);
            quote!(#stripped #commands #client)
        }
        Err(error) => {
            let error = error.into_compile_error();
            let fallback = fallback_commands_impl(item);
            quote!(#error #stripped #fallback)
        }
    }
}

/// The impl block without the `#[write]`, `#[read]` and `#[tick]` markers,
/// which are not attributes the compiler knows.
fn strip_markers(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    for impl_item in &mut item.items {
        let attrs = match impl_item {
            ImplItem::Const(item) => &mut item.attrs,
            ImplItem::Fn(item) => &mut item.attrs,
            ImplItem::Type(item) => &mut item.attrs,
            ImplItem::Macro(item) => &mut item.attrs,
            _ => continue,
        };
        attrs.retain(|attr| attr::marker_kind(attr).is_none());
    }
    item
}

/// An empty command table (and no tick) for an impl half with errors, so
/// that `serve()` still type-checks and the only errors are the macro's.
/// Not emitted for a generic impl block, whose type cannot be named outside
/// it.
fn fallback_commands_impl(item: &ItemImpl) -> Option<TokenStream> {
    let generics = &item.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        return None;
    }
    Some(commands_trait_impl(&item.self_ty, CommandsImpl::default()))
}

/// The parts of a `Commands` impl: the table's entries, the match arms of
/// `check`, `write`, `read` and `intermediate`, and the `tick` and
/// `catch_all` functions when the machine has them (the trait's defaults
/// do nothing and know no command).
#[derive(Default)]
struct CommandsImpl {
    /// Items that go beside the impl: compile-time checks.
    extra: TokenStream,
    specs: Vec<TokenStream>,
    checks: Vec<TokenStream>,
    writes: Vec<TokenStream>,
    reads: Vec<TokenStream>,
    intermediates: Vec<TokenStream>,
    tick: Option<TokenStream>,
    catch_all: Option<TokenStream>,
}

/// The `Commands` impl for a valid impl half, and the compile-time checks
/// that command names are not built-ins'. A valid impl half has at most one
/// `#[tick]` and one `#[catch_all]` method.
fn commands_impl(machine: &MachineImpl) -> TokenStream {
    let commands = &machine.commands;
    let not_builtin = commands.iter().map(|command| {
        let name = Literal::string(&command.name);
        quote_spanned! {command.name_span=>
            const _: () = ::uhaha::__private::assert_not_builtin(#name);
        }
    });
    let arms = |kind: Kind| -> Vec<TokenStream> {
        commands
            .iter()
            .enumerate()
            .filter(|(_, command)| command.kind() == kind)
            .map(|(index, command)| run_arm(index, command))
            .collect()
    };
    let parts = CommandsImpl {
        extra: quote!(#(#not_builtin)*),
        specs: commands.iter().map(spec).collect(),
        checks: commands.iter().enumerate().map(check_arm).collect(),
        writes: arms(Kind::Write),
        reads: arms(Kind::Read),
        intermediates: arms(Kind::Intermediate),
        tick: machine.ticks.first().map(tick_fn),
        catch_all: machine.catch_alls.first().map(catch_all_fn),
    };
    commands_trait_impl(&machine.item.self_ty, parts)
}

/// The `Commands` impl from its parts.
fn commands_trait_impl(self_ty: &syn::Type, parts: CommandsImpl) -> TokenStream {
    let CommandsImpl {
        extra,
        specs,
        checks,
        writes,
        reads,
        intermediates,
        tick,
        catch_all,
    } = parts;
    let check_body = dispatch(quote!(index, args), &checks);
    let write_body = dispatch(quote!(index, ctx, args), &writes);
    let read_body = dispatch(quote!(index, ctx, args), &reads);
    let intermediate = (!intermediates.is_empty()).then(|| {
        let body = dispatch(quote!(index, args), &intermediates);
        quote! {
            fn intermediate<'c>(
                index: ::core::primitive::usize,
                conn: &'c ::uhaha::__private::Conn,
                args: ::uhaha::__private::Args<'_>,
            ) -> ::uhaha::__private::Result<::uhaha::__private::IntermediateFuture<'c>, ::uhaha::__private::ArgError> {
                let _ = conn;
                #body
            }
        }
    });
    quote! {
        const _: () = {
            #extra

            #[automatically_derived]
            impl ::uhaha::__private::Commands for #self_ty {
                const COMMANDS: &'static [::uhaha::__private::CommandSpec] = &[#(#specs),*];

                fn check(
                    index: ::core::primitive::usize,
                    args: ::uhaha::__private::Args<'_>,
                ) -> ::uhaha::__private::Result<(), ::uhaha::__private::ArgError> {
                    #check_body
                }

                fn write(
                    &mut self,
                    index: ::core::primitive::usize,
                    ctx: &mut ::uhaha::__private::Ctx<'_>,
                    args: ::uhaha::__private::Args<'_>,
                ) -> ::uhaha::__private::Result<::uhaha::__private::Reply, ::uhaha::__private::ArgError> {
                    #write_body
                }

                fn read(
                    &self,
                    index: ::core::primitive::usize,
                    ctx: &::uhaha::__private::Ctx<'_>,
                    args: ::uhaha::__private::Args<'_>,
                ) -> ::uhaha::__private::Result<::uhaha::__private::Reply, ::uhaha::__private::ArgError> {
                    #read_body
                }

                #intermediate
                #tick
                #catch_all
            }
        };
    }
}

/// `Commands::HAS_TICK` and `Commands::tick`, calling the `#[tick]` method
/// with the context in the form it takes, or without it.
fn tick_fn(tick: &MarkedMethod) -> TokenStream {
    let method = &tick.method.sig.ident;
    // `check` lets through only the context, at most once.
    let call_args: Vec<TokenStream> = tick
        .args
        .iter()
        .filter_map(|arg| match arg.ty {
            ArgType::Context { mutable: true } => Some(quote!(ctx)),
            ArgType::Context { mutable: false } => Some(quote!(&*ctx)),
            ArgType::Value { .. } | ArgType::Conn { .. } => None,
        })
        .collect();
    let unused = call_args.is_empty().then(|| quote!(let _ = ctx;));
    quote! {
        const HAS_TICK: ::core::primitive::bool = true;

        fn tick(&mut self, ctx: &mut ::uhaha::__private::Ctx<'_>) {
            #unused
            Self::#method(self, #(#call_args),*)
        }
    }
}

/// `Commands::CATCH_ALL` and `Commands::catch_all`: the `#[catch_all]`
/// method run like an intermediate, with the whole command as its
/// arguments.
fn catch_all_fn(catch_all: &MarkedMethod) -> TokenStream {
    let run = local_run(catch_all.method, &catch_all.args);
    quote! {
        const CATCH_ALL: ::core::primitive::bool = true;

        fn catch_all<'c>(
            conn: &'c ::uhaha::__private::Conn,
            args: ::uhaha::__private::Args<'_>,
        ) -> ::uhaha::__private::Result<::uhaha::__private::IntermediateFuture<'c>, ::uhaha::__private::ArgError> {
            let _ = conn;
            #run
        }
    }
}

/// A `match index` over `arms`, with an error for any other index. Without
/// arms, no `match` at all, so that the expansion has nothing for lints to
/// flag.
fn dispatch(inputs: TokenStream, arms: &[TokenStream]) -> TokenStream {
    let unknown = quote! {
        ::uhaha::__private::Result::Err(::uhaha::__private::ArgError::new("unknown command"))
    };
    if arms.is_empty() {
        quote! {
            let _ = (#inputs);
            #unknown
        }
    } else {
        quote! {
            match index {
                #(#arms)*
                _ => #unknown,
            }
        }
    }
}

/// A command's entry in the table.
fn spec(command: &Command) -> TokenStream {
    let name = Literal::string(&command.name);
    let kind = match command.kind() {
        Kind::Write => quote!(::uhaha::__private::Kind::Write),
        Kind::Read => quote!(::uhaha::__private::Kind::Read),
        Kind::Intermediate => quote!(::uhaha::__private::Kind::Intermediate),
    };
    let params = ast::values(&command.args).map(|value| {
        let name = Literal::string(value.name);
        let arity = match value.arity {
            Arity::Required => quote!(::uhaha::__private::Arity::Required),
            Arity::Optional => quote!(::uhaha::__private::Arity::Optional),
            Arity::Variadic => quote!(::uhaha::__private::Arity::Variadic),
        };
        quote!(::uhaha::__private::Param { name: #name, arity: #arity })
    });
    let doc = Literal::string(&command.doc);
    let key = match command
        .marker
        .key
        .as_ref()
        .and_then(|k| command.value_param(&k.value()))
    {
        Some((pos, _)) => {
            let pos = Literal::usize_unsuffixed(pos);
            quote!(::core::option::Option::Some(#pos))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::uhaha::__private::CommandSpec {
            name: #name,
            kind: #kind,
            params: &[#(#params),*],
            doc: #doc,
            key: #key,
        }
    }
}

/// Reads the argument at `pos`. Spanned at the type, so that a type without
/// `FromArg` is reported there.
fn parse_arg(value: &ast::Value) -> TokenStream {
    let (pos, elem) = (Literal::usize_unsuffixed(value.pos), value.elem);
    let method = match value.arity {
        Arity::Required => quote!(required),
        Arity::Optional => quote!(optional),
        Arity::Variadic => quote!(rest),
    };
    quote_spanned! {elem.span()=>
        ::uhaha::__private::Args::#method::<#elem>(&args, #pos)?
    }
}

/// The `check` arm of a command: reads every argument, runs nothing.
fn check_arm((index, command): (usize, &Command)) -> TokenStream {
    let index = Literal::usize_unsuffixed(index);
    let parses = ast::values(&command.args).map(|value| parse_arg(&value));
    quote! {
        #index => {
            #(let _ = #parses;)*
            ::uhaha::__private::Result::Ok(())
        }
    }
}

/// The `write`, `read` or `intermediate` arm of a command.
fn run_arm(index: usize, command: &Command) -> TokenStream {
    let index = Literal::usize_unsuffixed(index);
    let run = match command.kind() {
        Kind::Intermediate => local_run(command.method, &command.args),
        Kind::Write | Kind::Read => state_run(command),
    };
    quote!(#index => #run)
}

/// Reads the arguments of a `#[write]` or `#[read]` command, calls the
/// method, turns its value into a reply.
fn state_run(command: &Command) -> TokenStream {
    let (lets, args) = call_args(&command.args, command.kind());
    let method = &command.method.sig.ident;
    let call = quote!(Self::#method(self, #(#args),*));
    let reply = convert(
        command.output(),
        call,
        quote!(IntoReply),
        quote!(into_reply),
    );
    quote! {{
        #lets
        ::uhaha::__private::Result::Ok(#reply)
    }}
}

/// Reads the arguments of an `#[intermediate]` or `#[catch_all]` method
/// and returns its run as a boxed future, which calls the method (and
/// awaits it when it is `async`) and converts its value. The `Send` bound
/// is checked at the method's name.
fn local_run(method: &ImplItemFn, params: &[Arg]) -> TokenStream {
    let (lets, args) = call_args(params, Kind::Intermediate);
    let ident = &method.sig.ident;
    let call = match method.sig.asyncness {
        Some(_) => quote!(Self::#ident(#(#args),*).await),
        None => quote!(Self::#ident(#(#args),*)),
    };
    let value = convert(
        ast::output(method),
        call,
        quote!(IntoIntermediate),
        quote!(into_intermediate),
    );
    let boxed = quote_spanned! {ident.span()=>
        ::uhaha::__private::Box::pin(async move { #value })
    };
    quote! {{
        #lets
        ::uhaha::__private::Result::Ok(#boxed)
    }}
}

/// The `let`s that read a method's value parameters, and the arguments of
/// its call: the context as the method takes it, the connection, and the
/// values read.
fn call_args(params: &[Arg], kind: Kind) -> (TokenStream, Vec<TokenStream>) {
    let var = |pos: usize| quote::format_ident!("__arg{}", pos);
    let lets = ast::values(params).map(|value| {
        let (var, parse) = (var(value.pos), parse_arg(&value));
        quote!(let #var = #parse;)
    });
    let lets = quote!(#(#lets)*);
    let mut next_value = 0;
    let args = params
        .iter()
        .map(|arg| match &arg.ty {
            ArgType::Context { mutable: true } => quote!(ctx),
            // In `write`, `ctx` is `&mut Ctx`; a method that takes `&Ctx`
            // gets a shared reborrow.
            ArgType::Context { mutable: false } if kind == Kind::Write => quote!(&*ctx),
            ArgType::Context { mutable: false } => quote!(ctx),
            ArgType::Conn { .. } => quote!(conn),
            ArgType::Value { .. } => {
                next_value += 1;
                let var = var(next_value - 1);
                quote!(#var)
            }
        })
        .collect();
    (lets, args)
}

/// Converts the method's value through a runtime trait (`IntoReply` or
/// `IntoIntermediate`). The trait is named through the return type as
/// written, so that a type without it is reported at that type, all of it
/// underlined.
fn convert(
    output: Option<&syn::Type>,
    call: TokenStream,
    trait_: TokenStream,
    method: TokenStream,
) -> TokenStream {
    match output {
        None => quote!(::uhaha::__private::#trait_::#method(#call)),
        // `impl Trait` cannot be named in a path: the span does the work.
        Some(ty) if mentions_impl(ty.to_token_stream()) => quote_spanned! {ty.span()=>
            ::uhaha::__private::#trait_::#method(#call)
        },
        Some(ty) => quote!(<#ty as ::uhaha::__private::#trait_>::#method(#call)),
    }
}

/// Whether a type has `impl Trait` anywhere in it.
pub fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}
