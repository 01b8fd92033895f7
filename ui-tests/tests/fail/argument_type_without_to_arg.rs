use uhaha::{ArgError, ClientError, FromArg};

/// An argument type of the user's own, read but not written.
struct Celsius(f64);

impl FromArg for Celsius {
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
        f64::from_arg(arg).map(Celsius)
    }
}

#[uhaha::machine]
#[derive(Default)]
struct Thermostat {
    target: f64,
}

#[uhaha::machine]
impl Thermostat {
    #[write]
    fn set(&mut self, target: Celsius, fallback: Option<Celsius>) {
        self.target = fallback.unwrap_or(target).0;
    }
}

// The machine builds; sending a `Celsius` through its client does not.
async fn warm(client: &mut ThermostatClient) -> Result<(), ClientError> {
    client.set(Celsius(21.0), Celsius(19.0)).await
}

fn main() {
    let _ = warm;
}
