//! Guest code that never calls the host: it opens a socket, says so, and
//! spins for ever. Only wasmtime's epoch interruption stops it, and the
//! store's drop then closes the socket.

wit_bindgen::generate!({
    path: "../../wit",
    world: "host",
});

use nativesock::socket::native as n;

fn main() {
    let fd = n::socket(2, 1, 0).expect("socket");
    println!("spinning with fd {fd}");
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}
