//! A time series store with retention: a node, with uhaha's command line. The service itself is
//! the library (`src/lib.rs`), which the black-box tests and the benchmark
//! tool's tests start too, so that it is compiled once.

fn main() {
    timeseries::serve()
}
