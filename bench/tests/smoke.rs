//! `bench --quick` runs from start to end and prints its table. No figure is
//! checked: benchmarks report ratios, tests never time anything. (Start-up
//! is left out: it builds the `nativesock` binary with cargo.)

use std::process::Command;

#[test]
fn quick_run_prints_the_table() {
    let output = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--quick",
            "--only",
            "percall,connect,throughput,conns,stores",
        ])
        .output()
        .expect("running `bench --quick`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench --quick failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for measure in [
        "| measure | implementation | median | vs native | target | met |",
        "getsockname, per call",
        "connect + close, per connection",
        "through `sendall`",
        "through `recv_into`",
        "through `recvmsg`",
        "open connections in one store",
        "set-up per store with a connected socket",
        "pooling allocator, warm slots",
        "(host `native` interface alone)",
    ] {
        assert!(stdout.contains(measure), "no `{measure}` in:\n{stdout}");
    }
}
