//! Traffic built before the timed phase: the load generators build and encode every
//! connection's requests on all cores first, then only send bytes (`raw_grpc.rs`), so that
//! the machine's CPU goes to the server under test while it is timed.

/// The times traffic is stamped with, as if `items` were sent at 100,000 per second up to
/// now: (first, span) in unix nanoseconds. Built ahead, requests still carry times in the
/// order they are sent (each connection's k-th request the k-th slice of the span), so that
/// the server sees time advance as it would with live traffic, all in the past.
pub fn planned_times(items: u64) -> (u64, u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |now| now.as_nanos() as u64);
    let span = items.saturating_mul(10_000).max(1);
    (now.saturating_sub(span), span)
}

/// Builds every connection's traffic with `build(connection)` on as many threads as the
/// machine has cores; returns them in connection order (a connection's traffic depends only
/// on its number, so it is the same whatever the threads).
pub fn per_connection<T: Send>(connections: usize, build: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let numbers: Vec<usize> = (0..connections).collect();
    let chunk = connections.div_ceil(threads).max(1);
    let build = &build;
    std::thread::scope(|scope| {
        let workers: Vec<_> = numbers
            .chunks(chunk)
            .map(|mine| scope.spawn(move || mine.iter().map(|&n| build(n)).collect::<Vec<T>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("traffic builder"))
            .collect()
    })
}
