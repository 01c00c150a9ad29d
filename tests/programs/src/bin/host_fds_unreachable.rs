//! A store cannot reach the host's own fds: not its stdio (0, 1, 2) and not
//! a socket the host process opened. Each argument is such an fd; wrapping
//! or closing it is `EBADF`.

use nativesock_test_programs::*;

const EBADF: &str = "[Errno 9] Bad file descriptor";

fn main() {
    let fds: Vec<i64> = args().iter().map(|a| a.parse().expect("an fd")).collect();
    assert!(!fds.is_empty(), "no fds given");
    for fd in fds {
        assert_raises(
            Socket::create(None, None, None, Some(fd)),
            "OSError",
            Some(9),
            EBADF,
        );
        assert_raises(
            nativesock::socket::socket::close_fd(fd),
            "OSError",
            Some(9),
            EBADF,
        );
        println!("socket(fileno={fd}) -> OSError 9, close({fd}) -> OSError 9");
    }
}
