//! A first look at cadence: print a schedule at a few telling steps.

use cadence::{Linear, Schedule};

fn main() -> Result<(), cadence::Error> {
    let lr = Linear::new(1e-3, 1e-5, 1_000)?;
    println!("{:>6}  {:>12}", "step", "lr");
    for step in [0, 1, 250, 500, 999, 1_000, 10_000] {
        println!("{step:>6}  {:>12.6e}", lr.value(step));
    }
    Ok(())
}
