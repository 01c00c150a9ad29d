//! The `nativesock` command line: clap definitions and what each command
//! does are in `cli.rs`, Ctrl-C in `signals.rs`; the host itself is the
//! `nativesock` library.

use std::io::Write as _;

mod cli;
mod signals;

fn main() {
    let code = cli::main();
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
