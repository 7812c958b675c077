"""Shared by the bench/compare_*.py scripts: the machine's name for the
results table, and replacing one marked section of bench/RESULTS.md."""
import os
import platform


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


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
