//! A parallel word count with std::thread, channels, Arc<Mutex> and a
//! scoped thread pool: uk-run must give the same counts as a native run.
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn text() -> String {
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    let mut s = String::new();
    let mut x: u64 = 12345;
    for _ in 0..200_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s.push_str(words[(x >> 33) as usize % words.len()]);
        s.push(' ');
    }
    s
}

fn main() {
    let text = Arc::new(text());
    let n = 8;
    let (tx, rx) = mpsc::channel();
    let len = text.len();
    let mut handles = Vec::new();
    for i in 0..n {
        let (text, tx) = (Arc::clone(&text), tx.clone());
        handles.push(thread::spawn(move || {
            // Each thread takes the words that start in its slice.
            let (mut start, mut end) = (len * i / n, len * (i + 1) / n);
            let b = text.as_bytes();
            while start > 0 && start < len && b[start - 1] != b' ' {
                start += 1;
            }
            while end < len && end > 0 && b[end - 1] != b' ' {
                end += 1;
            }
            let mut counts = BTreeMap::new();
            for w in text[start.min(len)..end.min(len)].split_whitespace() {
                *counts.entry(w.to_string()).or_insert(0u64) += 1;
            }
            tx.send(counts).unwrap();
        }));
    }
    drop(tx);
    let total = Arc::new(Mutex::new(BTreeMap::new()));
    for counts in rx {
        let mut t = total.lock().unwrap();
        for (w, c) in counts {
            *t.entry(w).or_insert(0u64) += c;
        }
    }
    for h in handles {
        h.join().unwrap();
    }
    let scoped_sum: u64 = thread::scope(|s| {
        let parts: Vec<_> = (0..4u64).map(|i| s.spawn(move || (i * 1000..(i + 1) * 1000).sum::<u64>())).collect();
        parts.into_iter().map(|h| h.join().unwrap()).sum()
    });
    for (w, c) in total.lock().unwrap().iter() {
        println!("{w} {c}");
    }
    println!("words {}", total.lock().unwrap().values().sum::<u64>());
    println!("scoped sum {scoped_sum}");
    let named = thread::Builder::new().name("worker".into()).spawn(|| thread::current().name().map(str::to_owned)).unwrap();
    println!("named thread: {:?}", named.join().unwrap());
}
