//! A program that does not import the socket interface: composing it with
//! the semantics component leaves it as it is, and it runs.

fn main() {
    println!("no sockets here");
}
