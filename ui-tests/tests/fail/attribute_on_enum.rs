#[uhaha::machine]
#[derive(Default)]
enum Light {
    #[default]
    Red,
    Green,
}

fn main() {
    let _ = Light::Green;
}
