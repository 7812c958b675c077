"""Shared by the bench/compare_*.py scripts: timing a latdyn program against
its PyTorch twin in alternating rounds, the machine's name for the results
table, and replacing one marked section of bench/RESULTS.md."""
import json
import os
import platform
import statistics
import subprocess
import sys


def cpu_name():
    """The CPU's model name and its widest vector unit (AVX-512 or AVX2):
    machines sold under one name ("AMD EPYC" in a VM) differ there, and
    oneDNN picks its kernels by it."""
    name, flags = platform.processor() or "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None
    return f"{name} ({isa})" if isa else name


def command_line(script, ap, args, make="make bench", always=("threads",),
                 leave_out=("write", "work", "binary")):
    """The results table's "Command:" line: the script with every option that
    is in `always` or not at its default (those in `leave_out`, which do not
    change the numbers, never), so the line reproduces the table."""
    words = []
    for action in ap._actions:
        key = action.dest
        if not action.option_strings or key == "help" or key in leave_out:
            continue
        value = getattr(args, key)
        if key in always or value != action.default:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            words.append(f"{action.option_strings[0]} " +
                         (f'"{text}"' if " " in text or not text else text))
    return f"Command: `{make} && /usr/bin/python3 bench/{script} {' '.join(words)}`"


def write_section(path, name, title, body):
    """Puts `body` between <!-- NAME:begin --> and <!-- NAME:end --> in the
    file at `path` (appended under a `## title` heading the first time);
    the file is replaced whole (temporary file, then rename)."""
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text += f"\n## {title}\n\n{block}\n"
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def run_json(cmd, env):
    """Runs cmd and returns the JSON object on its last line of output."""
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare_steps(ours_cmd, torch_cmd, threads, rounds):
    """Runs the two step-timing programs one after the other for `rounds`
    rounds (so that a change in the machine's speed hits both), checks that
    they report the same parameter count, and returns (our first report,
    our median step_s, PyTorch's median step_s)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    ours, theirs = [], []
    for r in range(rounds):
        ours.append(run_json(ours_cmd, env))
        theirs.append(run_json(torch_cmd, env))
        print(f"round {r + 1}: latdyn {ours[-1]['step_s']:.4f} s, "
              f"PyTorch {theirs[-1]['step_s']:.4f} s", file=sys.stderr)
    if ours[0]["parameters"] != theirs[0]["parameters"]:
        sys.exit(f"parameter counts differ: latdyn {ours[0]['parameters']}, "
                 f"PyTorch {theirs[0]['parameters']}")
    return (ours[0], statistics.median(o["step_s"] for o in ours),
            statistics.median(t["step_s"] for t in theirs))
