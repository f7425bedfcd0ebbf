//! Prints generated items for a seed (for looking at what the generator writes).

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cfg = nixkit_difftest::GenConfig::default();
    let mut gen = nixkit_difftest::Gen::new(&cfg, seed);
    for _ in 0..12 {
        let item = gen.item();
        let text = nixkit_difftest::campaign::single_text(&item.render());
        println!(
            "{}\n  => {:?}\n",
            item.render(),
            nixkit_difftest::oracle::eval_nixkit(&text)
        );
    }
}
