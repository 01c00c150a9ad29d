//! Leaks sockets and returns normally: dropping the store closes them.

fn main() {
    nativesock_test_programs::leak_sockets();
}
