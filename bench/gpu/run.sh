#!/bin/bash
# The H200 side-by-side: functs (webgpu), the hand-written WGSL yardstick, JAX (default and
# 'highest' matmul precision) and torch.func, one after another in one command, one table.
# On the GPU machine, from the lead's checkout (see ../../../shared/gpu/README.md):
#   source .gpu/remote-env.sh; bash gpu-runs/webgpu/run.sh
# where gpu-runs/webgpu holds functs-webgpu.mjs (esbuild bundle of bench/gpu/functs-webgpu.ts),
# peers.py, table.py and this script. SIZES='[[D,H,N],...]' narrows the sizes.
here=$(dirname "$0")
log=$(mktemp)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/# gpu: /'
TILES=${TILES-"[[4,2],[4,4]]"} node "$here/functs-webgpu.mjs" backend=vulkan adapter=NVIDIA 2>&1 | grep -v '^Warning' | tee -a "$log"
[ -f .gpu/hessian_wgsl.mjs ] && node .gpu/hessian_wgsl.mjs backend=vulkan adapter=NVIDIA 2>&1 | grep -v '^Warning' | tee -a "$log"
python3 "$here/peers.py" default 2>&1 | grep -v Warning | tee -a "$log"
python3 "$here/peers.py" highest 2>&1 | grep -v Warning | tee -a "$log"
python3 "$here/peers.py" torch 2>&1 | grep -v Warning | tee -a "$log"
echo
python3 "$here/table.py" < "$log"
