//! The `#[uhaha::machine]` attribute, re-exported by the `uhaha` crate.
//!
//! The attribute goes twice on a service: on the struct that holds the
//! replicated state (the *struct half*: name, version, snapshots through
//! serde, `serve()`, the typed client `<Struct>Client`) and on that
//! struct's impl block (the *impl half*: the command table, argument
//! parsing, reply encoding, the optional `#[tick]` and `#[catch_all]`
//! methods, and the client's command methods). The two halves meet
//! in the runtime's `Machine` and `Commands` traits, so a missing half is a
//! type error that names the fix.
//!
//! The crate is a pipeline, one module per step:
//! - `attr` parses the attribute arguments and the `#[write]`, `#[read]`,
//!   `#[intermediate]`, `#[tick]` and `#[catch_all]` markers;
//! - `ast` models both halves: the commands with their names, kinds,
//!   receivers, parameters, return types and docs, and the tick and
//!   catch-all methods;
//! - `check` validates the model and collects every mistake, each at its
//!   own span;
//! - `expand` generates the code, or on error a fallback that keeps the
//!   rest of the user's program compiling; `client` generates the typed
//!   client, one method per command from one generator.

extern crate proc_macro;

mod ast;
mod attr;
mod check;
mod client;
mod doc;
mod expand;

use proc_macro::TokenStream;
use quote::{quote, ToTokens};
use syn::{parse_macro_input, Item};

/// Turns a struct into a uhaha machine and its impl block into the
/// machine's commands.
///
/// ```ignore
/// use uhaha::prelude::*;
///
/// /// A service for monotonically increasing tickets.
/// #[uhaha::machine(name = "ticket", version = "0.1.0")]
/// #[derive(Default)]
/// struct Ticket {
///     ticket: i64,
/// }
///
/// #[uhaha::machine]
/// impl Ticket {
///     /// Returns a new ticket, at least one greater than the previous one.
///     #[write]
///     fn ticket(&mut self) -> i64 {
///         self.ticket += 1;
///         self.ticket
///     }
///
///     /// Returns the last ticket handed out.
///     #[read]
///     fn last(&self) -> i64 {
///         self.ticket
///     }
/// }
///
/// fn main() {
///     Ticket::serve();
/// }
/// ```
///
/// On the struct it takes `name = "..."` and `version = "..."` (both
/// default to the Cargo package's); on the impl block it takes nothing.
/// In the impl block, `#[write]` and `#[read]` make methods commands, and
/// one method may be marked `#[tick]`: it takes `&mut self` and optionally
/// `&mut Ctx` or `&Ctx`, returns nothing, and runs on every node at each
/// replicated tick (to expire keys, say). It is not a command.
///
/// `#[intermediate]` makes an associated function (no `self`, maybe
/// `async`) a command that runs on the node that received it, outside the
/// log: it takes an optional `conn: &Conn` first, then arguments like any
/// command, and returns a reply or `uhaha::Intermediate::Command(..)`, a
/// command to run instead. One `#[catch_all]` method, shaped the same way
/// but taking the whole command (`cmd: Vec<Bytes>`, name first), answers
/// every command the machine does not know.
///
/// Every machine also gets `<Struct>Client`, a typed client with one async
/// method per command (named like the Rust method), so a command method
/// may not be called `connect`, `call`, `client` or `into_client`.
/// See the `uhaha` crate for the full rules.
#[proc_macro_attribute]
pub fn machine(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    let item = parse_macro_input!(input as Item);
    match item {
        Item::Struct(item) => expand::struct_half(args, &item),
        Item::Impl(item) => expand::impl_half(args, &item),
        item => {
            let error = syn::Error::new_spanned(
                item_head(&item),
                "#[uhaha::machine] goes on a struct and on its impl block",
            )
            .into_compile_error();
            quote!(#error #item)
        }
    }
    .into()
}

/// The tokens that name an item (`enum Color`, `fn main`), for an error
/// that points at the item without underlining its whole body.
fn item_head(item: &Item) -> proc_macro2::TokenStream {
    match item {
        Item::Enum(item) => {
            let (token, ident) = (&item.enum_token, &item.ident);
            quote!(#token #ident)
        }
        Item::Union(item) => {
            let (token, ident) = (&item.union_token, &item.ident);
            quote!(#token #ident)
        }
        Item::Trait(item) => {
            let (token, ident) = (&item.trait_token, &item.ident);
            quote!(#token #ident)
        }
        Item::Fn(item) => {
            let (token, ident) = (&item.sig.fn_token, &item.sig.ident);
            quote!(#token #ident)
        }
        item => item.to_token_stream(),
    }
}
