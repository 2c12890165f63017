//! The benchmark's Rust SDK task: it logs one line and sets a result, as
//! the smallest useful task does.

fn main() {
    cronbox::info!("tick");
    cronbox::set_result(r#"{"ticks":1}"#).unwrap();
}
