//! A store cannot reach the host's own fds: not its stdio (0, 1, 2) and not
//! a socket the host process opened. Each argument is such an fd; wrapping
//! or closing it is `EBADF`.

use nativesock_test_programs::*;

fn main() {
    let fds: Vec<i64> = args().iter().map(|a| a.parse().expect("an fd")).collect();
    assert!(!fds.is_empty(), "no fds given");
    assert_unreachable(&fds, &[]);
}
