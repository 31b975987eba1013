"""
bench/llm_torch.py's `run`, unchanged, with the process CPU time of each timed window added.

The machine these benchmarks run on is shared (load averages of 10+ on 2 cores), so wall time
says as much about the neighbours as about the code. CPU time (user + system, every thread) is the
step's own cost; on one thread it is the load-robust figure to compare. llm_torch.py times its
windows with `time.perf_counter()` pairs; this wrapper hands its module a `time` whose
perf_counter also records `time.process_time()` at each call, and pairs them the same way.

  python bench/llm_torch_cpu.py <path of llm_torch.py> <model> <lora|full> <threads> [its flags]
Prints llm_torch.py's JSON line plus "cpu_step_s" (median over the windows) and "cpu_windows_s".
"""
import importlib.util, json, statistics, sys, time, types

path, rest = sys.argv[1], sys.argv[2:]
spec = importlib.util.spec_from_file_location("llm_torch", path)
lt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lt)

calls = []  # (wall, cpu) at every perf_counter() call made by llm_torch.run


def perf_counter():
    calls.append((time.perf_counter(), time.process_time()))
    return calls[-1][0]


shim = types.ModuleType("time")
shim.__dict__.update({k: getattr(time, k) for k in dir(time) if not k.startswith("__")})
shim.perf_counter = perf_counter
lt.time = shim

sys.argv = [path, "run", *rest]
out = []
lt.print = lambda s, **_k: out.append(s)  # main() prints the JSON line; keep it
lt.main()
r = json.loads(out[-1])
# calls: load t0, load end, then (start, end) per warm-up-less timed window (llm_torch.run's order)
windows = [(calls[i + 1][1] - calls[i][1]) / r["steps_per_window"] for i in range(2, len(calls) - 1, 2)]
r["cpu_windows_s"] = [round(w, 3) for w in windows]
r["cpu_step_s"] = round(statistics.median(windows), 3)
print(json.dumps(r), flush=True)
