//! The nativesock semantics component: CPython 3.11's `socket` object, method
//! by method, on the host's thin `native` interface.
//!
//! Everything CPython decides lives here (timeout modes and deadlines, PEP 475
//! retries, connect completion through poll + `SO_ERROR`, errno to exception
//! class, address validation and its messages, the closed-socket state,
//! `detach`, `dup` copying the timeout, audit events). The host only makes
//! syscalls and enforces its policy.

mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "semantics",
        // The export implementation lives in `crate::module` (the socket
        // resource in `crate::socket`).
        pub_export_macro: true,
    });
}

pub mod addr;
pub mod args;
pub mod audit;
pub mod call;
pub mod consts;
pub mod conv;
pub mod create;
pub mod error;
pub mod module;
pub mod names;
pub mod netdb;
pub mod pyrepr;
pub mod select;
pub mod socket;
pub mod timeout;
