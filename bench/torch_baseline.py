#!/usr/bin/env python3
"""PyTorch fp32 baselines for laminar's benchmark cases, run side by side on the same machine.

Reads the cases (name, kind, params) from a laminar results JSON (`deno task bench` output) or a
`deno task bench --list` JSON, runs the same shapes in PyTorch float32 with TF32 off, and writes
  {"format": "laminar-torch-1", "meta": {...}, "results": {name: {min_ms, median_ms, ...}},
   "baselines": {shared/baselines key: {min_ms, median_ms} or TFLOP/s}}
Without --cases it runs the shapes of shared/baselines/h100-pytorch.json.

Timing: min and median of --repeat calls after --warmup calls, wall clock around each call with
torch.cuda.synchronize() before and after (CUDA), under torch.no_grad().

GPT-2 forward: a random-weight GPT2LMHeadModel from GPT2Config, eval(), output_hidden_states=True
(as shared/baselines); `no_head_ms` also times GPT2Model (no unembedding), since laminar does not
compute logits that nothing asks for.

f16 weights: laminar cases with params.weights == "f16" (weights stored as IEEE halves, math in
f32) run here with the same shapes in fp32, as the like-for-like PyTorch reference (fp32 HF models
are what the golden fixtures and the H100 baselines use); the result says so in `note`.

MI + covariance: a vectorised version of seed 004's mutInfo_and_cov (per-pair outlier masks from
z-scores with ddof 1, numpy.histogram2d's edges via batched searchsorted, joint counts via
bincount), checked against the seed's own numpy loop on a sample of pairs (meta.mi_check).

Usage: python3 bench/torch_baseline.py [--cases results.json] --out torch.json
       python3 bench/torch_baseline.py --self-test      (small shapes, any device, with checks)
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

GPT2_SHAPES = {
    "gpt2": (12, 12, 768),
    "gpt2-medium": (24, 16, 1024),
    "gpt2-large": (36, 20, 1280),
    "gpt2-xl": (48, 25, 1600),
}

# The shapes of shared/baselines/h100-pytorch.json (used when no --cases file is given).
DEFAULT_CASES = [
    *[
        {
            "name": f"forward {m} B{b}xT{t}",
            "kind": "gpt2_forward",
            "params": {"model": m, "B": b, "T": t, "hiddenStates": True, "logits": False},
            "baselineKey": f"torch_fp32_{m}_B{b}_T{t}",
        }
        for m in ("gpt2", "gpt2-medium")
        for (b, t) in ((1, 128), (1, 1024), (250, 31))
    ],
    {
        "name": "matmul 4096x4096x4096 sgemm",
        "kind": "matmul",
        "params": {"M": 4096, "K": 4096, "N": 4096, "transB": False},
        "baselineKey": "torch_fp32_sgemm_4096_tflops",
    },
    {
        "name": "pairwise mi+cov 25x250x1024",
        "kind": "pairwise_mi_cov",
        "params": {"L": 25, "N": 250, "D": 1024, "groups": 1, "bins": 15, "outlierZ": 5},
        "baselineKey": "torch_gpu_mi_cov_sweep_25x250x1024_one_group",
    },
    {
        "name": "pairwise cosine 25x250x1024",
        "kind": "pairwise_cosine",
        "params": {"L": 25, "N": 250, "D": 1024, "groups": 1},
        "baselineKey": "torch_gpu_cos_sweep_25x250x1024",
    },
]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(fn, device, warmup, repeat):
    """Min/median wall milliseconds of fn() with device synchronisation around each call."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        sync(device)
        samples = []
        for _ in range(repeat):
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            samples.append((time.perf_counter() - t0) * 1000.0)
    return {
        "min_ms": min(samples),
        "median_ms": statistics.median(samples),
        "samples": [round(s, 4) for s in samples],
    }


# --------------------------------------------------------------------------------------------
# Seed 004: mutual information and covariance of every pair of vectors, vectorised.


def mi_cov_pairs(x, y, keep, bins=15):
    """MI (bits) and covariance (ddof 1) of the kept elements of each row pair.

    x, y: [P, D] float; keep: [P, D] bool. Mirrors numpy.histogram2d(x, y, bins) per pair:
    range (min, max) of the kept values (widened by 0.5 when equal), edges linspace(min, max,
    bins + 1) with the last edge exact, values equal to the last edge in the last bin.
    """
    P, D = x.shape
    xd = x.double()
    yd = y.double()
    kf = keep.double()
    n = kf.sum(1)
    # covariance of the kept elements, two-pass
    mx = (xd * kf).sum(1) / n
    my = (yd * kf).sum(1) / n
    cov = ((xd - mx[:, None]) * (yd - my[:, None]) * kf).sum(1) / (n - 1)

    steps = torch.arange(bins + 1, device=x.device, dtype=torch.float64)

    def bucket(v):
        inf = torch.tensor(float("inf"), device=v.device, dtype=v.dtype)
        lo = torch.where(keep, v, inf).amin(1)
        hi = torch.where(keep, v, -inf).amax(1)
        same = lo == hi
        lo = torch.where(same, lo - 0.5, lo)
        hi = torch.where(same, hi + 0.5, hi)
        edges = lo[:, None] + steps[None, :] * ((hi - lo) / bins)[:, None]
        edges[:, -1] = hi
        idx = torch.searchsorted(edges.contiguous(), v.contiguous(), right=True) - 1
        return idx.clamp_(0, bins - 1)

    bx = bucket(xd)
    by = bucket(yd)
    cells = bins * bins
    flat = torch.arange(P, device=x.device)[:, None] * cells + bx * bins + by
    flat = torch.where(keep, flat, torch.full_like(flat, P * cells))  # dropped -> spare cell
    counts = torch.bincount(flat.reshape(-1), minlength=P * cells + 1)[: P * cells]
    pz = counts.view(P, bins, bins).double() / counts.view(P, cells).sum(1).double()[:, None, None]
    px = pz.sum(2)
    py = pz.sum(1)
    eps = 1e-12
    hx = -(px * torch.log2(px + eps)).sum(1)
    hy = -(py * torch.log2(py + eps)).sum(1)
    hz = -(pz * torch.log2(pz + eps)).sum((1, 2))
    return hx + hy - hz, cov


def mi_cov_sweep(h, bins=15, outlier_z=5.0, chunk=1 << 15):
    """Seed 004's sweep: h [L, N, D] -> MI and covariance [L, N, N], upper triangle i < j."""
    L, N, D = h.shape
    mi = torch.zeros(L, N, N, device=h.device, dtype=torch.float32)
    cov = torch.zeros(L, N, N, device=h.device, dtype=torch.float32)
    ii, jj = torch.triu_indices(N, N, 1, device=h.device)
    for layer in range(L):
        x_all = h[layer]
        if outlier_z > 0:
            z = (x_all - x_all.mean(1, keepdim=True)) / x_all.std(1, keepdim=True)  # ddof 1
            out = z.abs() > outlier_z
        else:
            out = torch.zeros_like(x_all, dtype=torch.bool)
        for s in range(0, ii.numel(), chunk):
            a = ii[s : s + chunk]
            b = jj[s : s + chunk]
            keep = ~(out[a] | out[b])
            m, c = mi_cov_pairs(x_all[a], x_all[b], keep, bins)
            mi[layer, a, b] = m.float()
            cov[layer, a, b] = c.float()
    return mi, cov


def seed_mut_info_and_cov(x, y, outlier_thresh=0):
    """Seed 004's mutInfo_and_cov, verbatim (numpy), the oracle."""
    if outlier_thresh > 0:
        zx = (x - x.mean()) / x.std(ddof=1)
        zy = (y - y.mean()) / y.std(ddof=1)
        outlier = (abs(zx) > outlier_thresh) | (abs(zy) > outlier_thresh)
        x = x[~outlier]
        y = y[~outlier]
    Z = np.histogram2d(x, y, bins=15)[0]
    pZ = Z / Z.sum()
    px = pZ.sum(axis=1)
    py = pZ.sum(axis=0)
    eps = 1e-12
    Hx = -np.sum(px * np.log2(px + eps))
    Hy = -np.sum(py * np.log2(py + eps))
    HZ = -np.sum(pZ * np.log2(pZ + eps))
    MI = Hx + Hy - HZ
    C = sum((x - x.mean()) * (y - y.mean())) / (len(x) - 1)
    return MI, C


def hidden_like(shape, device, seed):
    """Roughly normal values with a few large outliers (as hidden states have)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    h = torch.randn(*shape, generator=g)
    flat = h.view(-1)
    flat[::97] *= 12.0
    return h.to(device)


def check_mi(h, pairs=300, bins=15, outlier_z=5.0):
    """Max |torch - numpy seed loop| over a sample of pairs of layer 0."""
    mi, cov = mi_cov_sweep(h[:1], bins, outlier_z)
    x0 = h[0].detach().cpu().numpy()
    mi = mi[0].cpu().numpy()
    cov = cov[0].cpu().numpy()
    N = x0.shape[0]
    rng = np.random.default_rng(0)
    dmi = 0.0
    dcov = 0.0
    for _ in range(pairs):
        i, j = sorted(rng.choice(N, 2, replace=False))
        m, c = seed_mut_info_and_cov(x0[i], x0[j], outlier_z)
        dmi = max(dmi, abs(float(m) - float(mi[i, j])))
        dcov = max(dcov, abs(float(c) - float(cov[i, j])))
    return {"pairs": pairs, "mi_maxabs": dmi, "cov_maxabs": dcov}


def cosine_sweep(h):
    u = F.normalize(h, dim=-1)
    return torch.bmm(u, u.transpose(1, 2))


# --------------------------------------------------------------------------------------------
# Cases


def gpt2_config(params):
    from transformers import GPT2Config

    model = params.get("model", "gpt2")
    if model in GPT2_SHAPES:
        nl, nh, ne = GPT2_SHAPES[model]
        nl = params.get("nLayer", nl)
        return GPT2Config(n_layer=nl, n_head=nh, n_embd=ne, n_positions=1024, vocab_size=50257)
    path = os.path.join(model, "config.json")  # a model folder (models/sotu-gpt2-mini)
    with open(path) as f:
        cfg = json.load(f)
    return GPT2Config(**{k: v for k, v in cfg.items() if k not in ("architectures", "dtype")})


def run_case(case, device, warmup, repeat):
    kind = case["kind"]
    p = case["params"]
    gen = torch.Generator(device="cpu").manual_seed(1)

    def rand(*shape, scale=1.0):
        return (torch.rand(*shape, generator=gen) * 2 - 1).mul_(scale).to(device)

    extra = {}
    if kind == "matmul":
        M, K, N = p["M"], p["K"], p["N"]
        a = rand(M, K)
        b = rand(N, K, scale=0.05) if p.get("transB") else rand(K, N, scale=0.05)
        fn = (lambda: a @ b.T) if p.get("transB") else (lambda: a @ b)
        flops = 2 * M * K * N
    elif kind == "attention":
        B, T, H, D = p["B"], p["T"], p["H"], p["D"]
        qkv = rand(B, T, 3 * D)

        def fn():
            q, k, v = qkv.split(D, dim=2)
            q, k, v = (t.view(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return z.transpose(1, 2).reshape(B, T, D)

        flops = 2 * B * H * T * T * (D // H)
    elif kind == "layer_norm":
        x = rand(p["rows"], p["D"])
        g = torch.ones(p["D"], device=device)
        bb = torch.zeros(p["D"], device=device)
        fn = lambda: F.layer_norm(x, (p["D"],), g, bb, 1e-5)  # noqa: E731
        flops = 8 * p["rows"] * p["D"]
    elif kind == "log_softmax":
        x = rand(p["rows"], p["V"], scale=8.0)
        fn = lambda: torch.log_softmax(x, -1)  # noqa: E731
        flops = 5 * p["rows"] * p["V"]
    elif kind == "token_stats":
        rows, V = p["rows"], p["V"]
        x = rand(rows, V, scale=8.0)
        tg = torch.tensor([(i * 7919) % V for i in range(rows)], device=device)

        def fn():
            lse = torch.logsumexp(x, -1)
            logp = x - lse[:, None]
            tl = x.gather(1, tg[:, None])[:, 0]
            rank = (x > tl[:, None]).sum(1) + 1
            ent = -(logp.exp() * logp).sum(1)
            return torch.stack([tl - lse, rank.float(), ent, x.amax(1), lse], 1)

        flops = 6 * rows * V
    elif kind == "pairwise_mi_cov":
        L, N, D = p["L"], p["N"], p["D"]
        groups = [hidden_like((L, N, D), device, 11 + g) for g in range(p.get("groups", 1))]
        bins = p.get("bins", 15)
        z = p.get("outlierZ", 5)
        fn = lambda: [mi_cov_sweep(h, bins, z) for h in groups]  # noqa: E731
        flops = None
    elif kind == "pairwise_cosine":
        L, N, D = p["L"], p["N"], p["D"]
        groups = [hidden_like((L, N, D), device, 11 + g) for g in range(p.get("groups", 1))]
        fn = lambda: [cosine_sweep(h) for h in groups]  # noqa: E731
        flops = 2 * L * N * N * D * len(groups)
    elif kind == "gpt2_forward":
        from transformers import GPT2LMHeadModel, GPT2Model

        cfg = gpt2_config(p)
        B, T = p["B"], p["T"]
        ids = torch.randint(0, cfg.vocab_size, (B, T), generator=gen).to(device)
        with torch.device(device):
            model = GPT2LMHeadModel(cfg).eval()
        fn = lambda: model(ids, output_hidden_states=True)  # noqa: E731
        extra["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
        body = model.transformer
        if not isinstance(body, GPT2Model):
            body = None
        if body is not None:
            nh = time_fn(lambda: body(ids, output_hidden_states=True), device, warmup, repeat)
            extra["no_head_ms"] = {"min_ms": nh["min_ms"], "median_ms": nh["median_ms"]}
        flops = None
    else:
        return None
    if p.get("weights") == "f16":
        extra["note"] = "laminar stores the weights as f16 (f32 math); PyTorch ran fp32 weights"
    r = time_fn(fn, device, warmup, repeat)
    r.update(extra)
    if flops:
        r["tflops"] = flops / (r["min_ms"] / 1000.0) / 1e12
    return r


def driver_version():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version,name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def load_cases(path):
    with open(path) as f:
        data = json.load(f)
    items = data["results"] if isinstance(data, dict) else data
    return [
        {k: it.get(k) for k in ("name", "kind", "params", "baselineKey")}
        for it in items
        if it.get("kind") and it.get("params") is not None
    ]


def self_test_cases():
    return [
        {"name": "matmul 256x256x256", "kind": "matmul",
         "params": {"M": 256, "K": 256, "N": 256, "transB": False}},
        {"name": "attention gpt2 B1xT128", "kind": "attention",
         "params": {"B": 1, "T": 128, "H": 12, "D": 768}},
        {"name": "token_stats 32x50257", "kind": "token_stats", "params": {"rows": 32, "V": 50257}},
        {"name": "pairwise mi+cov 2x40x256", "kind": "pairwise_mi_cov",
         "params": {"L": 2, "N": 40, "D": 256, "groups": 1, "bins": 15, "outlierZ": 5}},
        {"name": "pairwise cosine 2x40x256", "kind": "pairwise_cosine",
         "params": {"L": 2, "N": 40, "D": 256, "groups": 1}},
        {"name": "forward gpt2-2L B1xT32", "kind": "gpt2_forward",
         "params": {"model": "gpt2", "nLayer": 2, "B": 1, "T": 32}},
        {"name": "forward gpt2-2L B1xT32 f16", "kind": "gpt2_forward",
         "params": {"model": "gpt2", "nLayer": 2, "B": 1, "T": 32, "weights": "f16"}},
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", help="laminar results JSON or `deno task bench --list` output")
    ap.add_argument("--out", help="output JSON (default: print)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--filter", help="only cases whose name contains this text")
    ap.add_argument("--no-check", action="store_true", help="skip the MI check against numpy")
    ap.add_argument("--self-test", action="store_true", help="small shapes, checks, any device")
    args = ap.parse_args(argv)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = torch.device(args.device)

    if args.self_test:
        cases = self_test_cases()
        args.warmup, args.repeat = 1, 2
    elif args.cases:
        cases = load_cases(args.cases)
    else:
        cases = DEFAULT_CASES
    if args.filter:
        cases = [c for c in cases if args.filter in c["name"]]

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "cuda": torch.version.cuda,
        "driver": driver_version() if device.type == "cuda" else None,
        "tf32": False,
        "dtype": "float32",
        "warmup": args.warmup,
        "repeat": args.repeat,
    }
    try:
        import transformers

        meta["transformers"] = transformers.__version__
    except ImportError:
        meta["transformers"] = None

    results = {}
    baselines = {}
    skipped = []

    def write(partial):
        """The report so far (partial while cases remain: a run cut short keeps its figures)."""
        report = {"format": "laminar-torch-1", "meta": meta, "results": results,
                  "baselines": baselines, "skipped": skipped}
        if partial:
            report["partial"] = True
        text = json.dumps(report, indent=1) + "\n"
        if args.out:
            tmp = f"{args.out}.tmp-{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, args.out)
        return text

    def run_one(case):
        name = case["name"]
        print(f"[torch] {name} ...", file=sys.stderr, flush=True)
        try:
            r = run_case(case, device, args.warmup, args.repeat)
        except Exception as e:  # noqa: BLE001 - report and go on (e.g. out of memory)
            skipped.append({"name": name, "reason": f"{type(e).__name__}: {e}"})
            print(f"    failed: {e}", file=sys.stderr)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            return
        if r is None:
            skipped.append({"name": name, "reason": f"no PyTorch version of kind {case['kind']}"})
            return
        r["kind"] = case["kind"]
        r["params"] = case["params"]
        results[name] = r
        print(f"    min {r['min_ms']:.3f} ms, median {r['median_ms']:.3f} ms", file=sys.stderr)
        key = case.get("baselineKey")
        if key:
            baselines[key] = r["tflops"] if key.endswith("_tflops") else {
                "min_ms": r["min_ms"], "median_ms": r["median_ms"]}
        if device.type == "cuda":
            torch.cuda.empty_cache()

    for case in cases:
        try:
            run_one(case)
        finally:
            write(True)  # skipped cases too: a run cut short keeps every outcome so far

    if not args.no_check:
        small = args.self_test or device.type != "cuda"
        h = hidden_like((1, 40, 256) if small else (1, 250, 1024), device, 11)
        meta["mi_check"] = check_mi(h, pairs=100 if small else 300)
        print(f"[torch] MI check vs numpy seed loop: {meta['mi_check']}", file=sys.stderr)

    text = write(False)
    if args.out:
        print(f"[torch] wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.self_test:
        chk = meta.get("mi_check", {})
        ok = chk.get("mi_maxabs", 1) < 1e-5 and chk.get("cov_maxabs", 1) < 1e-4 and not skipped
        print(f"[torch] self-test {'passed' if ok else 'FAILED'}", file=sys.stderr)
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
