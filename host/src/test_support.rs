//! What the library's own tests share.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs the ignored test `name` (its full path, `module::test`) of this
/// test binary alone, in a child process: for a test that counts the whole
/// process's fds, or runs long. Panics, with the child's output, unless it
/// passed; the child is killed if it has not ended after `deadline`.
/// Returns its stdout.
pub(crate) fn run_alone(name: &str, deadline: Duration) -> String {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([
            "--exact",
            name,
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (send, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    let Ok(out) = done.recv_timeout(deadline) else {
        // SAFETY: plain `kill` of the child this function started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        panic!("`{name}` did not end within {deadline:?}");
    };
    let out = out.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
