//! The `nativesock` command line; everything is in [`nativesock::cli`].

use std::io::Write as _;

fn main() {
    let code = nativesock::cli::main();
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
