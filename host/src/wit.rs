//! The WIT package nativesock implements, as `wit/` holds it in the
//! repository: `nativesock:socket@0.1.0` (`native`, `socket` and the
//! worlds an application builds against: `app`, `command`) and, under
//! `deps/`, the WASI packages it uses, as wasmtime-wasi 50.0.1 ships them.
//! Embedded so that `nativesock wit DIR` can write it out for
//! componentize-py, componentize-js or wit-bindgen.

use std::path::Path;

use wasmtime::Result;
use wasmtime::error::Context as _;

/// Every file of the package: its path inside the package directory and
/// its text.
pub const FILES: &[(&str, &str)] = &[
    ("native.wit", include_str!("../../wit/native.wit")),
    ("socket.wit", include_str!("../../wit/socket.wit")),
    ("worlds.wit", include_str!("../../wit/worlds.wit")),
    ("deps/cli.wit", include_str!("../../wit/deps/cli.wit")),
    ("deps/clocks.wit", include_str!("../../wit/deps/clocks.wit")),
    (
        "deps/filesystem.wit",
        include_str!("../../wit/deps/filesystem.wit"),
    ),
    ("deps/io.wit", include_str!("../../wit/deps/io.wit")),
    ("deps/random.wit", include_str!("../../wit/deps/random.wit")),
    (
        "deps/sockets.wit",
        include_str!("../../wit/deps/sockets.wit"),
    ),
];

/// Writes the package into `dir` (created if missing, with `deps/`).
/// Files of the same names are replaced; anything else in `dir` is left.
///
/// # Errors
///
/// When a directory cannot be created or a file cannot be written.
pub fn write_package(dir: &Path) -> Result<()> {
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("failed to create `{}`", parent.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `.wit` files under `dir`, as `FILES` names them.
    fn wit_files(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if entry.file_type().unwrap().is_dir() {
                wit_files(&entry.path(), &format!("{prefix}{name}/"), out);
            } else if name.ends_with(".wit") {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                out.push((format!("{prefix}{name}"), text));
            }
        }
    }

    #[test]
    fn embeds_every_file_of_the_package() {
        let mut on_disk = Vec::new();
        wit_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit"),
            "",
            &mut on_disk,
        );
        on_disk.sort();
        let mut embedded: Vec<(String, String)> = FILES
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        embedded.sort();
        assert_eq!(
            embedded.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            on_disk.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        assert!(embedded == on_disk, "an embedded file differs from `wit/`");
    }

    #[test]
    fn writes_a_package_that_resolves_with_its_worlds() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new/wit");
        write_package(&out).unwrap();
        // Written twice: the second replaces the first.
        write_package(&out).unwrap();
        let mut resolve = wit_parser::Resolve::default();
        let (package, _) = resolve.push_dir(&out).unwrap();
        for world in ["app", "command", "semantics", "host"] {
            resolve.select_world(&[package], Some(world)).unwrap();
        }
        let command = resolve.select_world(&[package], Some("command")).unwrap();
        let exports: Vec<String> = resolve.worlds[command]
            .exports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect();
        assert_eq!(exports, ["wasi:cli/run@0.2.12"]);
    }
}
