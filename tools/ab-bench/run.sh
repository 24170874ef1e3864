#!/usr/bin/env bash
# usage: tools/ab-bench/run.sh [REV] [FILTER]
# Snapshots crates/cadence at REV (default HEAD) as the package `cadence_old`, then runs
# every case in src/cases.rs (or those whose name contains FILTER) old and new,
# alternating, 21 rounds each, and prints the medians and their ratio.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rev="${1:-HEAD}"
old="$here/target/old"
rm -rf "$old" && mkdir -p "$old"
git -C "$root" archive "$rev" crates/cadence | tar -x -C "$old" --strip-components=2
python3 - "$old/Cargo.toml" <<'PY'
import re, sys
path = sys.argv[1]
s = open(path).read()
s = s.replace('name = "cadence"', 'name = "cadence_old"')
fixed = {"version": 'version = "0.1.0"', "edition": 'edition = "2024"',
         "rust-version": 'rust-version = "1.88"', "license": 'license = "MIT OR Apache-2.0"',
         "thiserror": 'thiserror = "2"'}
s = re.sub(r'^([\w-]+)\.workspace = true\n',
           lambda m: fixed[m.group(1)] + "\n" if m.group(1) in fixed else "", s, flags=re.M)
s = s.replace('serde = { workspace = true, optional = true }',
              'serde = { version = "1", features = ["derive"], optional = true }')
s = s.replace('serde_json = { workspace = true, optional = true,', 'serde_json = { version = "1", optional = true,')
s = re.sub(r'\[lints\]\nworkspace = true\n', '', s)
s = re.sub(r'\[\[bench\]\]\nname = "\w+"\nharness = false\n', '', s)
s = re.sub(r'\[dev-dependencies\][^\[]*', '', s)
open(path, "w").write(s)
PY
rm -rf "$old/benches" "$old/tests"
cd "$here"
cargo build --release --quiet
./target/release/ab-bench "${2:-}"
