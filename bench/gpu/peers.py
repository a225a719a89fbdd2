"""JAX and torch.func batched Hessians of f(x) = sum(tanh(A x + b)) on the GPU, same data
recipe as functs-webgpu.ts and the WGSL yardstick; one JSON line per system and size.
Kernel time: data on the GPU, the compiled call repeated, then one synchronization;
end to end: host X -> device, call, result -> host. Each checked against float64 numpy."""
import json, os, sys, time
import numpy as np

SIZES = json.loads(os.environ.get("SIZES", "[[8,32,4096],[8,32,65536],[8,32,1048576],[32,64,4096],[32,64,65536]]"))

def data(D, H, N):
    # The LCG of the yardstick (s = s*1664525 + 1013904223 mod 2^32, s/2^32 - 0.5), float32.
    total = H * D + H + N * D
    out = np.empty(total, dtype=np.float64)
    s = 7
    for i in range(total):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = s / 4294967296 - 0.5
    A = (out[:H * D] * 2 / np.sqrt(D)).astype(np.float32).reshape(H, D)
    b = out[H * D:H * D + H].astype(np.float32)
    X = (out[H * D + H:] * 2).astype(np.float32).reshape(N, D)
    return A, b, X

def lcg_fast(D, H, N):
    # Vectorized LCG: s_i = a^i s_0 + c (a^i - 1)/(a - 1) mod 2^32, by doubling.
    total = H * D + H + N * D
    a, c, m = 1664525, 1013904223, 2 ** 32
    vals = np.empty(total, dtype=np.uint64)
    s = 7
    block = 4096
    first = []
    for i in range(min(block, total)):
        s = (s * a + c) % m
        first.append(s)
    vals[:len(first)] = first
    done = len(first)
    A_k, C_k = 1, 0
    for _ in range(block):
        A_k, C_k = (A_k * a) % m, (C_k * a + c) % m
    while done < total:
        n = min(done, total - done)
        # next block from the previous one: s_{i+done} = A_done s_i + C_done
        Ad, Cd = 1, 0
        # compute multiplier for a jump of `done`
        base_a, base_c, k = a, c, done
        while k:
            if k & 1:
                Ad, Cd = (Ad * base_a) % m, (Cd * base_a + base_c) % m
            base_a, base_c = (base_a * base_a) % m, (base_c * base_a + base_c) % m
            k >>= 1
        vals[done:done + n] = (vals[:n] * np.uint64(Ad) + np.uint64(Cd)) % np.uint64(m)
        done += n
    out = vals.astype(np.float64) / 4294967296 - 0.5
    A = (out[:H * D] * 2 / np.sqrt(D)).astype(np.float32).reshape(H, D)
    b = out[H * D:H * D + H].astype(np.float32)
    X = (out[H * D + H:] * 2).astype(np.float32).reshape(N, D)
    return A, b, X

def reference(A, b, X, idx):
    A64, b64, X64 = A.astype(np.float64), b.astype(np.float64), X[idx].astype(np.float64)
    t = np.tanh(X64 @ A64.T + b64)
    s = -2 * t * (1 - t * t)
    return np.einsum('hi,nh,hj->nij', A64, s, A64)

def check(A, b, X, got):
    N = X.shape[0]
    idx = np.arange(0, N, max(1, N // 997))
    ref = reference(A, b, X, idx)
    return float(np.max(np.abs(ref - got[idx]))), float(np.max(np.abs(ref)))

def timed(call, sync, reps):
    call(); sync()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            call()
        sync()
        times.append((time.perf_counter() - t0) / reps * 1e3)
    times.sort()
    return times

def emit(**kw):
    print(json.dumps(kw), flush=True)

def run_jax(precision, platform=None):
    if platform is not None:
        os.environ["JAX_PLATFORMS"] = platform  # before jax is imported: every array on that platform
    import jax, jax.numpy as jnp
    jax.config.update("jax_default_matmul_precision", precision)
    name = f"jax-{precision}" if platform is None else f"jax-{platform}"
    for D, H, N in SIZES:
        try:
            A, b, X = lcg_fast(D, H, N)
            Aj, bj = jnp.asarray(A), jnp.asarray(b)
            f = lambda x: jnp.sum(jnp.tanh(Aj @ x + bj))
            g = jax.jit(jax.vmap(jax.hessian(f)))
            Xj = jax.device_put(X)
            reps = int(os.environ.get("REPS", 50 if N >= 1 << 20 else 200))
            out = [None]
            def call():
                out[0] = g(Xj)
            times = timed(call, lambda: out[0].block_until_ready(), reps)
            e2e = []
            for _ in range(3):
                t0 = time.perf_counter()
                host = np.asarray(g(jax.device_put(X)))
                e2e.append((time.perf_counter() - t0) * 1e3)
            e2e.sort()
            maxerr, scale = check(A, b, X, host)
            emit(system=name, D=D, H=H, N=N, kernel_ms=round(times[2], 4), kernel_spread_ms=[round(times[0], 4), round(times[4], 4)], hps_M=round(N / times[2] / 1e3, 3), e2e_ms=round(e2e[1], 2), maxerr=maxerr, scale=scale, device=str(Xj.devices()))
        except Exception as e:
            emit(system=name, D=D, H=H, N=N, failed=str(e)[:300])

def run_torch(device="cuda"):
    import torch
    from torch.func import vmap, hessian
    dev = torch.device(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    name = "torch.func" if device == "cuda" else f"torch.func-{device}"
    for D, H, N in SIZES:
        try:
            A, b, X = lcg_fast(D, H, N)
            At, bt = torch.from_numpy(A).to(dev), torch.from_numpy(b).to(dev)
            f = lambda x: torch.sum(torch.tanh(At @ x + bt))
            g = vmap(hessian(f))
            Xt = torch.from_numpy(X).to(dev)
            reps = int(os.environ.get("REPS", 10 if N >= 1 << 20 else 30))
            out = [None]
            def call():
                out[0] = g(Xt)
            times = timed(call, sync, reps)
            e2e = []
            for _ in range(3):
                t0 = time.perf_counter()
                host = g(torch.from_numpy(X).to(dev)).cpu().numpy()
                e2e.append((time.perf_counter() - t0) * 1e3)
            e2e.sort()
            maxerr, scale = check(A, b, X, host)
            emit(system=name, D=D, H=H, N=N, kernel_ms=round(times[2], 4), kernel_spread_ms=[round(times[0], 4), round(times[4], 4)], hps_M=round(N / times[2] / 1e3, 3), e2e_ms=round(e2e[1], 2), maxerr=maxerr, scale=scale, device=torch.cuda.get_device_name(0) if device == "cuda" else f"cpu, {torch.get_num_threads()} threads")
        except Exception as e:
            emit(system=name, D=D, H=H, N=N, failed=str(e)[:300])

if __name__ == "__main__":
    which = sys.argv[1]
    if which == "torch":
        run_torch()
    elif which == "torch-cpu":
        run_torch("cpu")
    elif which == "cpu":
        run_jax("highest", "cpu")
    else:
        run_jax(which)
