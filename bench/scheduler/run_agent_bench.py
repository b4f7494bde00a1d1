#!/usr/bin/python3
"""Agent-level scheduler run: isitup-agent with N checks of the benchmark-only noop_check
plugin (intervals uniform in 10-60 s) for a fixed time. Reports, separately:

  - config generation and loading (`--check-config`), and the agent's start-up until its
    "running N checks" line (config load + plugin prepare + scheduler fill);
  - firing lateness p50 / p99 / p99.9 / max (noop_check's histogram: wall clock at start()
    minus the run's scheduled time, 1 ms resolution), leaving out runs scheduled in the first
    5 s (the backlog of first runs that came due while the agent was still adding checks);
  - CPU per fired check over the steady-state window (the agent process's user + system time
    from /proc, divided by the runs fired in that window).

Usage: run_agent_bench.py --build-dir build [--checks 1000000] [--seconds 60]
Results go to stdout as a small Markdown table (paste into README.md).
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def write_config(path, checks, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("agent:\n  id: bench\n  max_in_flight: 100000\n")
        f.write("pipeline:\n  queue_size: 200000\n  batch_size: 5000\n")
        f.write("sinks:\n  - plugin: stdout_sink\n    options: {output: /dev/null}\n")
        f.write("checks:\n")
        for i in range(checks):
            interval = rng.randint(10000, 60000)
            f.write(f"  - {{name: c{i}, plugin: noop_check, target: t{i}, "
                    f"interval: {interval}ms}}\n")


def percentile(hist, total, p):
    want = p * total
    seen = 0
    for ms, n in hist:
        seen += n
        if seen >= want:
            return ms
    return hist[-1][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--checks", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    build = os.path.abspath(args.build_dir)
    agent = os.path.join(build, "bin", "isitup-agent")
    sources = [os.path.join(build, "bench-plugins", "noop_check.so"),
               os.path.join(build, "plugins", "stdout_sink.so")]
    for p in [agent] + sources:
        if not os.path.exists(p):
            sys.exit(f"missing {p}: build isitup-agent, noop_check and stdout_sink first")

    work = tempfile.mkdtemp(prefix="isitup-bench-agent-")
    os.chmod(work, 0o755)
    plugins = os.path.join(work, "plugins")
    os.mkdir(plugins, 0o755)
    for p in sources:
        shutil.copy(p, plugins)
        os.chmod(os.path.join(plugins, os.path.basename(p)), 0o755)
    config = os.path.join(work, "agent.yml")
    stats = os.path.join(work, "lateness.txt")
    log = os.path.join(work, "agent.log")

    t = time.monotonic()
    write_config(config, args.checks, 20261127)
    gen_s = time.monotonic() - t
    size_mb = os.path.getsize(config) / 1e6

    t = time.monotonic()
    subprocess.run([agent, "--check-config", config, "--plugins-dir", plugins],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check_config_s = time.monotonic() - t

    env = dict(os.environ, ISITUP_NOOP_STATS=stats)
    t = time.monotonic()
    with open(log, "w") as logf:
        proc = subprocess.Popen([agent, "--config", config, "--plugins-dir", plugins],
                                stdout=subprocess.DEVNULL, stderr=logf, env=env)
    deadline = t + 900
    while True:
        with open(log) as f:
            if "running" in f.read():
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"agent did not start; see {log}")
        time.sleep(0.05)
    startup_s = time.monotonic() - t

    cpu0 = cpu_seconds(proc.pid)
    time.sleep(args.seconds)
    cpu1 = cpu_seconds(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

    hist = []
    warmup = 0
    with open(stats) as f:
        for line in f:
            if line.startswith("# warmup"):
                warmup = int(line.split()[2])
                continue
            ms, n = line.split()
            hist.append((int(ms), int(n)))
    measured = sum(n for _, n in hist)
    fired = measured + warmup
    status = [l.strip() for l in open(log) if "status:" in l]

    print(f"| checks | {args.checks} |")
    print(f"| config file | {size_mb:.0f} MB, generated in {gen_s:.1f} s |")
    print(f"| `--check-config` (YAML load + validation) | {check_config_s:.1f} s |")
    print(f"| agent start until `running` | {startup_s:.1f} s |")
    print(f"| window | {args.seconds:.0f} s |")
    print(f"| runs fired | {fired} ({fired / args.seconds:.0f}/s) |")
    if measured:
        print(f"| lateness p50 / p99 / p99.9 / max (after the first 5 s) | "
              f"{percentile(hist, measured, 0.5)} / {percentile(hist, measured, 0.99)} / "
              f"{percentile(hist, measured, 0.999)} / {hist[-1][0]} ms |")
        print(f"| runs in the first 5 s (start-up backlog, not in the percentiles) | {warmup} |")
    if fired:
        print(f"| agent CPU in the window | {cpu1 - cpu0:.1f} s "
              f"({(cpu1 - cpu0) / args.seconds * 100:.0f} % of one core) |")
        print(f"| CPU per fired check | {(cpu1 - cpu0) / fired * 1e6:.2f} us |")
    if status:
        print(f"\nlast status line: {status[-1]}")
    if args.keep:
        print(f"work directory: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
