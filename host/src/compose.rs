//! Plugging the semantics component into an application component.
//!
//! An application imports `nativesock:socket/socket@0.1.0`, CPython's socket
//! object. The semantics component ([`SEMANTICS`]) exports it, built on the
//! host's `nativesock:socket/native@0.1.0`. Composing the two gives one
//! component that a host with [`add_to_linker`](crate::add_to_linker) and
//! WASI can run.
//!
//! [`SEMANTICS`]: crate::artifacts::SEMANTICS

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};
use wasmtime::error::Context as _;
use wasmtime::{Result, bail};

/// The interface the semantics component exports and applications import.
pub const SOCKET: &str = "nativesock:socket/socket@0.1.0";

/// Composes `app` with the embedded semantics component.
///
/// The semantics component's `socket` export satisfies the application's
/// `nativesock:socket/socket@0.1.0` import. Every other import of either
/// component (`wasi:*`, `nativesock:socket/native@0.1.0`) stays an import of
/// the result, and the application's exports (`wasi:cli/run` for a command)
/// are its exports.
///
/// An application that does not import the socket interface is returned as
/// it is.
///
/// # Errors
///
/// When `app` is not a WebAssembly component (a core module, or not
/// WebAssembly at all), or when its socket import does not match the
/// interface the semantics component exports.
///
/// # Example
///
/// ```no_run
/// # fn main() -> wasmtime::Result<()> {
/// let app = std::fs::read("app.wasm")?;
/// let composed = nativesock::compose::compose_with_semantics(&app)?;
/// std::fs::write("app.composed.wasm", composed)?;
/// # Ok(())
/// # }
/// ```
pub fn compose_with_semantics(app: &[u8]) -> Result<Vec<u8>> {
    Ok(compose(app, crate::artifacts::SEMANTICS)?.unwrap_or_else(|| app.to_vec()))
}

/// [`compose_with_semantics`], but `None` for an application that does not
/// import [`SOCKET`] (which composing would leave as it is).
///
/// # Errors
///
/// As [`compose_with_semantics`].
pub fn compose_if_needed(app: &[u8]) -> Result<Option<Vec<u8>>> {
    compose(app, crate::artifacts::SEMANTICS)
}

fn compose(app: &[u8], semantics: &[u8]) -> Result<Option<Vec<u8>>> {
    check_component(app, "the application")?;
    let mut graph = CompositionGraph::new();
    let app_package = Package::from_bytes("nativesock:app", None, app, graph.types_mut())
        .map_err(wasmtime::Error::from_anyhow)
        .context("failed to read the application component")?;
    if !graph.types()[app_package.ty()].imports.contains_key(SOCKET) {
        return Ok(None);
    }
    let exports: Vec<String> = graph.types()[app_package.ty()]
        .exports
        .keys()
        .cloned()
        .collect();
    let semantics_package =
        Package::from_bytes("nativesock:semantics", None, semantics, graph.types_mut())
            .map_err(wasmtime::Error::from_anyhow)
            .context("failed to read the semantics component")?;

    let app_package = graph.register_package(app_package)?;
    let semantics_package = graph.register_package(semantics_package)?;
    let semantics = graph.instantiate(semantics_package);
    let socket = graph
        .alias_instance_export(semantics, SOCKET)
        .with_context(|| format!("the semantics component does not export `{SOCKET}`"))?;
    let app = graph.instantiate(app_package);
    graph
        .set_instantiation_argument(app, SOCKET, socket)
        .with_context(|| {
            format!("the application's import of `{SOCKET}` does not match the semantics component's export")
        })?;
    for name in exports {
        let export = graph.alias_instance_export(app, &name)?;
        graph
            .export(export, &name)
            .with_context(|| format!("failed to export `{name}` from the composition"))?;
    }
    graph
        .encode(EncodeOptions::default())
        .map(Some)
        .context("failed to encode the composed component")
}

/// Checks the preamble, for errors clearer than a parser's.
fn check_component(bytes: &[u8], what: &str) -> Result<()> {
    if bytes.len() < 8 || bytes[..4] != *b"\0asm" {
        bail!("{what} is not a WebAssembly binary");
    }
    // The version field's second half is the layer: 0 for a core module.
    if bytes[6..8] == [0, 0] {
        bail!(
            "{what} is a core WebAssembly module, not a component: build it for \
             `wasm32-wasip2`, or wrap it with `wasm-tools component new`"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::{DEMO, SEMANTICS};

    use nativesock_test_programs_artifacts::*;

    /// The import and export names of a component.
    fn names(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut graph = CompositionGraph::new();
        let package = Package::from_bytes("test:component", None, bytes, graph.types_mut())
            .expect("a valid component");
        let world = &graph.types()[package.ty()];
        (
            world.imports.keys().cloned().collect(),
            world.exports.keys().cloned().collect(),
        )
    }

    #[test]
    fn plugs_the_socket_import_and_keeps_the_rest() {
        let (app_imports, app_exports) = names(DEMO);
        assert!(app_imports.iter().any(|i| i == SOCKET), "{app_imports:?}");
        let (semantics_imports, _) = names(SEMANTICS);

        let composed = compose_with_semantics(DEMO).unwrap();
        let (imports, exports) = names(&composed);
        assert!(!imports.iter().any(|i| i == SOCKET), "{imports:?}");
        assert!(
            imports
                .iter()
                .any(|i| i == "nativesock:socket/native@0.1.0"),
            "{imports:?}"
        );
        // Imports of one interface at semver-compatible versions (the demo's
        // `wasi:cli/exit@0.2.12`, the semantics' `@0.2.6`) merge into one.
        let compatible = |name: &str| {
            name.rsplit_once('.')
                .map_or(name, |(major_minor, _)| major_minor)
                .to_owned()
        };
        let kept: Vec<String> = imports.iter().map(|i| compatible(i)).collect();
        for import in app_imports.iter().chain(&semantics_imports) {
            assert!(
                import == SOCKET || kept.contains(&compatible(import)),
                "`{import}` is lost: {imports:?}"
            );
        }
        assert_eq!(exports, app_exports);
        assert!(
            exports.iter().any(|e| e.starts_with("wasi:cli/run@")),
            "{exports:?}"
        );
    }

    #[test]
    fn composes_a_test_program() {
        let app = std::fs::read(CONNECT_BLOCKING).unwrap();
        let (imports, _) = names(&compose_with_semantics(&app).unwrap());
        assert!(!imports.iter().any(|i| i == SOCKET), "{imports:?}");
    }

    #[test]
    fn leaves_an_app_without_the_socket_import_unchanged() {
        let app = std::fs::read(NO_SOCKET_IMPORT).unwrap();
        assert!(!names(&app).0.iter().any(|i| i == SOCKET));
        assert_eq!(compose_with_semantics(&app).unwrap(), app);
        // The semantics component exports the interface but does not import it.
        assert_eq!(compose_with_semantics(SEMANTICS).unwrap(), SEMANTICS);
    }

    #[test]
    fn rejects_a_core_module() {
        // `(module)`: the preamble of a core module and nothing else.
        let module = b"\0asm\x01\0\0\0";
        let err = compose_with_semantics(module).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the application is a core WebAssembly module, not a component: build it for \
             `wasm32-wasip2`, or wrap it with `wasm-tools component new`"
        );
    }

    #[test]
    fn rejects_what_is_not_webassembly() {
        for bytes in [&b""[..], b"\0asm", b"#!/bin/sh\necho hello\n"] {
            let err = compose_with_semantics(bytes).unwrap_err();
            assert_eq!(
                err.to_string(),
                "the application is not a WebAssembly binary"
            );
        }
    }

    #[test]
    fn rejects_a_truncated_component() {
        let err = compose_with_semantics(&DEMO[..DEMO.len() / 2]).unwrap_err();
        assert_eq!(err.to_string(), "failed to read the application component");
    }
}
