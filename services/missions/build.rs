// Migrations are embedded: rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
