//! Leaks sockets and calls `exit(1)`: `wasi:cli/exit` unwinds the guest out
//! of the store, and dropping the store closes them.

fn main() {
    nativesock_test_programs::leak_sockets();
    std::process::exit(1);
}
