//! A test service whose code panics on demand: in a write (after it has
//! changed the state), a read, an intermediate, the tick and the snapshot
//! save. A node must answer each with an error and go on serving. Its
//! snapshot saves can also be made slow, as on a slow disk.

use uhaha::prelude::*;

/// A counter, and switches that make its code panic.
#[uhaha::machine(name = "panics", version = "0.0.1", snapshot = "custom")]
#[derive(Default)]
struct Panics {
    count: u64,
    ticks: u64,
    panicking_ticks: bool,
    failing_saves: bool,
    slow_saves: bool,
}

/// The counts, and whether to take a second to save them.
struct CountsView {
    text: String,
    slow: bool,
}

impl uhaha::SnapshotView for CountsView {
    fn save(&mut self, to: &mut dyn std::io::Write) -> Result<(), uhaha::SnapshotError> {
        if self.slow {
            uhaha::tracing::info!("saving a slow snapshot");
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        Ok(to.write_all(self.text.as_bytes())?)
    }
}

impl uhaha::Snapshot for Panics {
    type View = CountsView;

    fn view(&self) -> Result<CountsView, uhaha::SnapshotError> {
        assert!(!self.failing_saves, "the save was told to fail");
        Ok(CountsView {
            text: format!("{} {}", self.count, self.ticks),
            slow: self.slow_saves,
        })
    }

    fn restore(from: &mut dyn std::io::BufRead) -> Result<Self, uhaha::SnapshotError> {
        let mut text = String::new();
        from.read_to_string(&mut text)?;
        let (count, ticks) = text.split_once(' ').ok_or("no ticks")?;
        Ok(Panics {
            count: count.parse().map_err(|_| "a bad count")?,
            ticks: ticks.parse().map_err(|_| "bad ticks")?,
            ..Panics::default()
        })
    }
}

#[uhaha::machine]
impl Panics {
    /// Adds one to the counter and returns it.
    #[write]
    fn incr(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    /// Adds one to the counter, then panics: the change stays.
    #[write]
    fn incr_then_panic(&mut self) -> u64 {
        self.count += 1;
        panic!("panicked after the change to {}", self.count)
    }

    /// Returns the counter.
    #[read]
    fn count(&self) -> u64 {
        self.count
    }

    /// Indexes past the end of an empty list.
    #[read]
    fn out_of_range(&self) -> u64 {
        let empty: Vec<u64> = Vec::new();
        empty[self.count as usize]
    }

    /// Panics on the node that received it.
    #[intermediate]
    async fn local_panic() -> Reply {
        tokio_free_yield().await;
        panic!("an intermediate panicked")
    }

    /// The number of ticks so far.
    #[read]
    fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Makes every tick after this one panic (after counting itself), or
    /// not.
    #[write]
    fn panicking_ticks(&mut self, on: bool) {
        self.panicking_ticks = on;
    }

    /// Makes snapshot saves fail, or not.
    #[write]
    fn failing_saves(&mut self, on: bool) {
        self.failing_saves = on;
    }

    /// Makes snapshot saves take a second, or not.
    #[write]
    fn slow_saves(&mut self, on: bool) {
        self.slow_saves = on;
    }

    #[tick]
    fn tick(&mut self, _ctx: &mut Ctx) {
        self.ticks += 1;
        assert!(!self.panicking_ticks, "the tick was told to panic");
    }
}

/// Yields once, so that the panic comes in a later poll of the future.
async fn tokio_free_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

fn main() {
    Panics::serve();
}
