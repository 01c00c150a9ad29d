//! Dropping a store closes every fd it still owns, however the program
//! ended. Each test runs the `fds_*` program of the same name, which leaks
//! sockets (a listener, both ends of a connection, a dup and a detached fd),
//! and counts the process's open fds before and after.
//!
//! A test binary of its own, with its tests run one at a time: the count is
//! of the whole process.

mod common;

use std::sync::Mutex;

use common::*;

include!(concat!(env!("OUT_DIR"), "/test_programs.rs"));

/// A program without a test here is a compile error.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the test exists")]
        use self::$name as _;
    };
}
foreach_fds_program!(assert_test_exists);

/// Runs `path` twice, the first time to let the runtime open what it keeps
/// (its thread pools' fds), and checks that the second run leaves the
/// process with as many open fds as before it.
fn assert_closes_everything(path: &str, check: fn(&Output)) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let component = component(path);
    check(&run(&component, &[], &mut loopback()));

    let before = open_fds();
    let output = run(&component, &[], &mut loopback());
    let after = open_fds();
    check(&output);
    let leaked = output.line("leaked fds ");
    assert_eq!(leaked.len(), 5, "the program leaked five fds: {leaked:?}");
    assert_eq!(
        after, before,
        "open fds before and after the store; the program leaked {leaked:?}"
    );
}

#[test]
fn fds_closed_on_drop() {
    assert_closes_everything(FDS_CLOSED_ON_DROP, Output::assert_success);
}

#[test]
fn fds_closed_on_exit() {
    assert_closes_everything(FDS_CLOSED_ON_EXIT, |output| output.assert_exit(1));
}

#[test]
fn fds_closed_on_trap() {
    assert_closes_everything(FDS_CLOSED_ON_TRAP, |output| {
        let err = output.status.as_ref().expect_err("the program traps");
        assert!(
            output.stderr.contains("trapping on purpose"),
            "{err:?}\n--- stderr\n{}",
            output.stderr
        );
    });
}
