"""Reads the JSON lines of one run (stdin) and prints one table: Hessians/s with data on the
GPU (kernel time, median of 5 batches; min-max beside it), end to end with upload and
readback, and the largest error against the float64 reference relative to the largest entry."""
import json, sys

rows, info = {}, []
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if "N" not in r:
        info.append(r)
        continue
    rows.setdefault(r["system"], {})[(r["D"], r["H"], r["N"])] = r

sizes = sorted({k for s in rows.values() for k in s}, key=lambda k: (k[0], k[2]))
for r in info:
    print("#", json.dumps(r))
print("| system | " + " | ".join(f"D={D} H={H} N={N:,}" for D, H, N in sizes) + " |")
print("|---|" + "---:|" * len(sizes))
def cell(r):
    if r is None:
        return "—"
    if "failed" in r:
        return "failed: " + r["failed"][:60]
    hps = r.get("hps_M")
    if hps is None and "kernel_ms" in r:
        hps = r["N"] / r["kernel_ms"] / 1e3
    spread = r.get("kernel_spread_ms")
    digits = 0 if hps >= 100 else 2
    lo_hi = f" ({r['N'] / spread[1] / 1e3:,.{digits}f}–{r['N'] / spread[0] / 1e3:,.{digits}f})" if spread else ""
    e2e = r.get("e2e_ms")
    if e2e is None and "upload_ms" in r:
        e2e = r["upload_ms"] + r["kernel_ms"] + r["readback_ms"]
    err = r.get("maxerr", float("nan")) / max(r.get("scale", 1.0), 1e-30)
    return f"{hps:,.{0 if hps >= 100 else 2}f}M/s{lo_hi}; {r['kernel_ms']:.3f} ms; e2e {e2e:,.1f} ms; err {err:.1e}"
for name, by in rows.items():
    print(f"| {name} | " + " | ".join(cell(by.get(k)) for k in sizes) + " |")
