//! Route lookup against the size of the table: the nanoseconds of one
//! lookup, and the heap bytes a table takes, with 1, 100, 1,000 and 10,000
//! routes (one per bundle, each on its own host and base path, as many
//! teams' bundles would be), so that both can be seen to stay flat per
//! route.
//!
//! `cargo bench -p funcmesh-bench --bench routes`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use funcmesh_core::routing::{Route, RouteTable};

/// The system allocator, counting the bytes held.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn routes(n: usize) -> Vec<Route> {
    (0..n)
        .map(|i| Route {
            host: (i % 2 == 0).then(|| format!("team{i}.example.com")),
            base_path: format!("/func{i}/v1"),
            queue: format!("funcmesh.func.{i:016x}"),
            bundle: format!("{i:064x}"),
            name: format!("func{i}"),
            pool: "default".into(),
        })
        .collect()
}

fn lookup_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    for n in [1usize, 100, 1_000, 10_000] {
        let made = routes(n);
        let before = HELD.load(Ordering::Relaxed);
        let table = RouteTable::new(1, made.clone());
        let bytes = HELD.load(Ordering::Relaxed) - before;
        eprintln!(
            "route table of {n} routes: {bytes} heap bytes beside the routes, {:.1} MB per 1,000 bundles with them",
            (bytes as f64 + route_bytes(&made) as f64) / n as f64 * 1000.0 / 1e6
        );
        // The last route: a scan would reach it last.
        let last = n - 1;
        let host = match last % 2 {
            0 => format!("team{last}.example.com"),
            _ => "any.example.org".to_owned(),
        };
        let path = format!("/func{last}/v1/items/42");
        assert_eq!(
            table.lookup(&host, &path).unwrap().name,
            format!("func{last}")
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| table.lookup(black_box(&host), black_box(&path)))
        });
    }
    group.finish();
}

/// The heap bytes of the routes themselves (their strings).
fn route_bytes(routes: &[Route]) -> usize {
    routes
        .iter()
        .map(|r| {
            r.host.as_ref().map_or(0, String::capacity)
                + r.base_path.capacity()
                + r.queue.capacity()
                + r.bundle.capacity()
                + r.name.capacity()
                + r.pool.capacity()
                + std::mem::size_of::<Route>()
        })
        .sum()
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = lookup_bench
}
criterion_main!(benches);
