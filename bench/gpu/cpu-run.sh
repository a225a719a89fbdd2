#!/bin/bash
# The GPU machine's CPU side by side: functs' wasm backend on 1, 2 and all cores beside JAX's
# CPU backend and torch.func on the CPU, one command, one table (issue 10 quotes JAX on 16
# cores). On the GPU machine: source .gpu/remote-env.sh; bash gpu-runs/cpu/cpu-run.sh
# where gpu-runs/cpu holds functs-wasm-cpu.mjs (esbuild bundle of bench/gpu/functs-wasm-cpu.ts),
# peers.py, table.py and this script. SIZES='[[D,H,N],...]' narrows the sizes.
here=$(dirname "$0")
log=$(mktemp)
lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\))' | sed 's/^/# /'
timeout 200 node "$here/functs-wasm-cpu.mjs" 2>&1 | tee -a "$log"
REPS=${REPS:-10} timeout 200 python3 "$here/peers.py" cpu 2>&1 | grep -v Warning | tee -a "$log"
REPS=${REPS:-3} timeout 150 python3 "$here/peers.py" torch-cpu 2>&1 | grep -v Warning | tee -a "$log"
echo
python3 "$here/table.py" < "$log"
