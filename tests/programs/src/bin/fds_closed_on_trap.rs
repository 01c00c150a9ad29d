//! Leaks sockets and traps: dropping the store closes them all the same.

fn main() {
    let fds = nativesock_test_programs::leak_sockets();
    panic!("trapping on purpose with fds {fds:?} open");
}
