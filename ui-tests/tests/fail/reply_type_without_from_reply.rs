use uhaha::prelude::*;
use uhaha::ClientError;

/// A reply type of the user's own, sent but not read back.
struct Point(i64, i64);

impl IntoReply for Point {
    fn into_reply(self) -> Reply {
        vec![self.0, self.1].into_reply()
    }
}

#[uhaha::machine]
#[derive(Default)]
struct Shapes;

#[uhaha::machine]
impl Shapes {
    #[read]
    fn origin(&self) -> Point {
        Point(0, 0)
    }
}

// The machine builds; reading a `Point` through its client does not.
async fn origin(client: &mut ShapesClient) -> Result<(), ClientError> {
    client.origin().await.map(|_| ())
}

fn main() {
    let _ = origin;
}
