"""Benchmarks of jurigged-rs against python and jurigged 0.6.1, side by side in one run.

Run with `make bench`. Builds the release binary, installs jurigged 0.6.1 from PyPI into a
throwaway venv (bench/.venv), runs every command interleaved, prints medians and ratios
and rewrites the matching table in README.md (between `<!-- bench:NAME -->` markers).
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
BINARY = ROOT / "target" / "release" / "jurigged"
REFERENCE_VERSION = "0.6.1"


def real_python():
    """The interpreter itself, not a pyenv shim (a shim adds ~40 ms of bash)."""
    out = subprocess.run(
        [os.environ.get("PYTHON", "python3"), "-c", "import sys; print(sys.executable)"],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


def reference_jurigged(python):
    exe = VENV / "bin" / "jurigged"
    if exe.exists():
        return exe
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(VENV / "bin" / "pip"), "install", "-q", f"jurigged=={REFERENCE_VERSION}"],
        check=True,
    )
    return exe


def time_once(argv, cwd):
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def interleaved(commands, cwd, rounds):
    """Runs each command once per round, in turn, so drift hits all of them alike."""
    samples = {name: [] for name in commands}
    for name, argv in commands.items():  # warm the page cache
        time_once(argv, cwd)
    for _ in range(rounds):
        for name, argv in commands.items():
            samples[name].append(time_once(argv, cwd))
    return {name: statistics.median(values) for name, values in samples.items()}


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def startup(python, reference, rounds):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "empty.py").write_text("")
        medians = interleaved(
            {
                "python3 empty.py": [python, "empty.py"],
                "jurigged-rs empty.py": [str(BINARY), "empty.py"],
                f"jurigged {REFERENCE_VERSION} empty.py": [str(reference), "empty.py"],
            },
            tmp,
            rounds,
        )
    base = medians["python3 empty.py"]
    rows = ["| command | median | vs python |", "|---|---:|---:|"]
    for name, value in medians.items():
        rows.append(f"| `{name}` | {ms(value)} | {value / base:.2f}× |")
    ours = medians["jurigged-rs empty.py"]
    theirs = medians[f"jurigged {REFERENCE_VERSION} empty.py"]
    rows.append("")
    rows.append(
        f"jurigged-rs starts {theirs / ours:.1f}× faster than jurigged {REFERENCE_VERSION}; "
        f"{rounds} interleaved rounds, medians, python = `{python}`."
    )
    return "\n".join(rows)


PATCH_LOOP = """\
import sys
import time

heap = [[i] for i in range(int(sys.argv[1]))]


def value():
    return 0


print("ready", flush=True)
last = None
while True:
    current = value()
    if current != last:
        print(current, time.time_ns(), flush=True)
        last = current
    time.sleep(0.0002)
"""


def patch_latency(argv, objects, edits):
    """Median ms from writing a one-function change to the running loop using it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "loop.py")
        path.write_text(PATCH_LOOP)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        process = subprocess.Popen(
            argv + ["loop.py", str(objects)], cwd=tmp, env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        try:
            assert process.stdout.readline().strip() == "ready"
            assert process.stdout.readline().split()[0] == "0"
            time.sleep(0.3)
            latencies = []
            for n in range(1, edits + 1):
                source = PATCH_LOOP.replace("return 0", f"return {n}")
                start = time.time_ns()
                path.write_text(source)
                while True:
                    line = process.stdout.readline().split()
                    if line and line[0] == str(n):
                        latencies.append((int(line[1]) - start) / 1e6)
                        break
                time.sleep(0.15)
            return statistics.median(latencies)
        finally:
            process.kill()
            process.wait()


def patching(reference, edits):
    rows = [
        "| live objects | jurigged-rs | jurigged 0.6.1 | ratio |",
        "|---:|---:|---:|---:|",
    ]
    ours_by_size = {}
    for objects in (0, 1_000_000, 2_000_000):
        ours = patch_latency([str(BINARY)], objects, edits)
        theirs = patch_latency([str(reference)], objects, edits)
        ours_by_size[objects] = ours
        label = f"{objects:,}" if objects else "small heap"
        rows.append(f"| {label} | {ours:.1f} ms | {theirs:.1f} ms | {theirs / ours:.1f}× faster |")
    rows.append("")
    rows.append(
        f"Median of {edits} saves each, default settings, from the write to the loop printing the "
        f"new value. jurigged-rs at 2 M objects costs {ours_by_size[2_000_000] / ours_by_size[0]:.2f}× "
        "its small-heap time."
    )
    return "\n".join(rows)


DEVELOOP = """\
import time


def work():
    print("value 0", time.time_ns(), flush=True)
    return 1


work()
"""


class Terminal:
    """A program on a pseudo-terminal, read as it writes (the basic interface needs one)."""

    def __init__(self, argv, cwd, rows=24, columns=100):
        import fcntl
        import pty
        import struct
        import termios

        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.environ.pop("VIRTUAL_ENV", None)
            os.environ.pop("PYTHONUNBUFFERED", None)
            os.environ["TERM"] = "xterm-256color"
            os.execv(argv[0], argv)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.buffer = b""
        self.frames = 0

    def read_until(self, pattern, timeout=20):
        import re
        import select

        deadline = time.time() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.buffer)
            if match:
                self.buffer = self.buffer[match.end():]
                return match
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"no {pattern!r} in {self.buffer[-300:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    continue
                self.frames += chunk.count(b"\x1b[?25l")
                # Answer cursor position requests, as a terminal does.
                if b"\x1b[6n" in chunk:
                    os.write(self.fd, b"\x1b[1;1R")
                # Only the recent output matters: keep the buffer small.
                self.buffer = (self.buffer + chunk)[-65536:]

    def send(self, text):
        os.write(self.fd, text.encode())

    def close(self):
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)


def develoop_figures(argv, edits, reruns):
    """(save -> first output line of the rerun, key r -> next prompt), medians in ms."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "loop.py")
        path.write_text(DEVELOOP)
        terminal = Terminal(argv + ["--loop", "work", "--loop-interface", "basic", "loop.py"], tmp)
        try:
            terminal.read_until(rb"\(q\)uit")
            time.sleep(0.3)
            saves = []
            for n in range(1, edits + 1):
                start = time.time_ns()
                path.write_text(DEVELOOP.replace('"value 0"', f'"value {n}"'))
                match = terminal.read_until(rb"value %d (\d+)" % n)
                saves.append((int(match.group(1)) - start) / 1e6)
                terminal.read_until(rb"\(q\)uit")
                time.sleep(0.15)
            keys = []
            for _ in range(reruns):
                # Let the tool put the terminal in cbreak mode first (a flush would drop the key).
                time.sleep(0.05)
                start = time.perf_counter()
                terminal.send("r")
                terminal.read_until(rb"\(q\)uit")
                keys.append((time.perf_counter() - start) * 1000)
            return statistics.median(saves), statistics.median(keys)
        finally:
            terminal.close()


def develoop(python, reference, edits):
    ensure_develoop_extra()
    ours = develoop_figures([str(BINARY)], edits, 30)
    theirs = develoop_figures([str(reference)], edits, 30)
    rows = [
        "| basic interface | jurigged-rs | jurigged 0.6.1 | ratio |",
        "|---|---:|---:|---:|",
        f"| save → first output line of the rerun | {ours[0]:.1f} ms | {theirs[0]:.1f} ms | {theirs[0] / ours[0]:.1f}× faster |",
        f"| `r` → the run done and the prompt back (loop overhead per run) | {ours[1]:.1f} ms | {theirs[1]:.1f} ms | {theirs[1] / ours[1]:.1f}× faster |",
        "",
        f"Medians of {edits} saves and 30 reruns of a function that prints one line, each tool on a pseudo-terminal.",
    ]
    return "\n".join(rows)


MILLION = """\
import sys
import time


def work(n):
    start = time.perf_counter()
    for i in range(n):
        print(f"line {i} of the million")
    return time.perf_counter() - start


elapsed = work(int(sys.argv[1]))
open("elapsed.txt", "w").write(repr(elapsed))
"""

SAVE_TO_SCREEN = """\
def work():
    print("marker-TOKEN")
    return 1


work()
"""


def rich_figures(lines, edits):
    """The rich interface on a pseudo-terminal: a million lines, and save to screen."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "million.py").write_text(MILLION)
        env = dict(os.environ)
        env.pop("PYTHONUNBUFFERED", None)
        with open(os.devnull, "w") as devnull:
            child = subprocess.Popen(
                [real_python(), "million.py", str(lines)], cwd=tmp, stdout=devnull, env=env
            )
            # wait4 gives this child's own peak memory.
            _, _, usage = os.wait4(child.pid, 0)
            child.returncode = 0
        python_elapsed = float(Path(tmp, "elapsed.txt").read_text())
        python_rss_mb = usage.ru_maxrss / 1024

        terminal = Terminal([str(BINARY), "--loop", "work", "million.py", str(lines)], tmp)
        start = time.perf_counter()
        terminal.read_until(rb"done in", timeout=600)
        wall = time.perf_counter() - start
        # Every frame ends by hiding the cursor: count the frames drawn during the run.
        frames = terminal.frames
        terminal.send("c")
        _, _, usage = os.wait4(terminal.pid, 0)
        rss_mb = usage.ru_maxrss / 1024
        elapsed = float(Path(tmp, "elapsed.txt").read_text())
        os.close(terminal.fd)

        path = Path(tmp, "save.py")
        path.write_text(SAVE_TO_SCREEN.replace("TOKEN", "start"))
        terminal = Terminal([str(BINARY), "--loop", "work", "save.py"], tmp)
        try:
            terminal.read_until(rb"marker-start")
            time.sleep(0.3)
            latencies = []
            for n in range(edits):
                # Every character differs from the last token's: the screen diff rewrites
                # them all in one piece.
                token = chr(ord("A") + n % 26) * 12
                begin = time.perf_counter()
                path.write_text(SAVE_TO_SCREEN.replace("TOKEN", token))
                terminal.read_until(token.encode())
                latencies.append((time.perf_counter() - begin) * 1000)
                time.sleep(0.15)
        finally:
            terminal.close()
    return {
        "elapsed": elapsed,
        "python": python_elapsed,
        "wall": wall,
        "frames_per_second": frames / wall,
        "rss_mb": rss_mb,
        "python_rss_mb": python_rss_mb,
        "save_ms": statistics.median(latencies),
    }


def rich(lines, edits):
    figures = rich_figures(lines, edits)
    ratio = figures["python"] / figures["elapsed"]
    rows = [
        "| rich interface | figure |",
        "|---|---:|",
        f"| {lines:,} lines printed in a looped function | {figures['elapsed']:.2f} s "
        f"(python to /dev/null: {figures['python']:.2f} s; {ratio:.2f}× python's speed) |",
        f"| redraws per second while they print | {figures['frames_per_second']:.0f} |",
        f"| peak memory (RSS) | {figures['rss_mb']:.0f} MB (python: {figures['python_rss_mb']:.0f} MB; "
        "each stream keeps its last 100,000 lines) |",
        f"| save → the new output on screen | {figures['save_ms']:.1f} ms |",
        "",
        f"A pseudo-terminal of 24×100 (medians of {edits} saves).",
    ]
    return "\n".join(rows)


FILE_IO = """\
import sys
import time

# Past jurigged's deferred start (100 ms), so the watches are in place while we measure.
time.sleep(0.3)
payload = "x" * 4096
start = time.perf_counter()
for i in range(int(sys.argv[1])):
    with open("data.txt", "w") as f:
        f.write(payload)
    with open("data.txt") as f:
        f.read()
print(time.perf_counter() - start)
"""


def file_io_seconds(argv, iterations):
    """Seconds a loop of file writes and reads takes inside the watched directory."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "io.py").write_text(FILE_IO)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        out = subprocess.run(
            argv + ["io.py", str(iterations)], cwd=tmp, env=env, check=True,
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
        )
        return float(out.stdout.split()[-1])


def file_io(python, rounds, iterations):
    samples = {"python": [], "jurigged-rs": []}
    for _ in range(rounds):
        samples["python"].append(file_io_seconds([python], iterations))
        samples["jurigged-rs"].append(file_io_seconds([str(BINARY)], iterations))
    ours = statistics.median(samples["jurigged-rs"])
    theirs = statistics.median(samples["python"])
    rows = [
        "| file I/O in the watched directory | python | jurigged-rs | ratio |",
        "|---|---:|---:|---:|",
        f"| {iterations:,} × (write 4 KB, read it back) | {theirs * 1000:.0f} ms | {ours * 1000:.0f} ms "
        f"| {ours / theirs:.2f}× python's time |",
        "",
        f"Medians of {rounds} interleaved rounds; the program's own loop, timed inside it.",
    ]
    return "\n".join(rows)


SPIN = """\
import threading
import time


def value():
    return 0


def spin():
    last = None
    while True:
        current = value()
        if current != last:
            print(current, time.time_ns(), flush=True)
            last = current


print("ready", flush=True)
threading.Thread(target=spin, daemon=True).start()
while True:
    time.sleep(1)
"""


def spin_latency(argv, edits):
    """Median and worst ms from a save to a thread that never pauses using the new code."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "spin.py")
        path.write_text(SPIN)
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        process = subprocess.Popen(
            argv + ["spin.py"], cwd=tmp, env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        try:
            assert process.stdout.readline().strip() == "ready"
            time.sleep(0.3)
            latencies = []
            for n in range(1, edits + 1):
                start = time.time_ns()
                path.write_text(SPIN.replace("return 0", f"return {n}"))
                while True:
                    line = process.stdout.readline().split()
                    if not line:
                        raise RuntimeError(f"{argv[0]} stopped printing")
                    if line[0] == str(n):
                        latencies.append((int(line[1]) - start) / 1e6)
                        break
                time.sleep(0.15)
            return statistics.median(latencies), max(latencies)
        finally:
            process.kill()
            process.wait()


def spinning(reference, edits):
    rows = [
        "| a thread spinning in pure Python | median | worst |",
        "|---|---:|---:|",
    ]
    ours = spin_latency([str(BINARY)], edits)
    theirs = spin_latency([str(reference)], edits)
    rows.append(f"| jurigged-rs | {ours[0]:.1f} ms | {ours[1]:.1f} ms |")
    rows.append(f"| jurigged 0.6.1 | {theirs[0]:.1f} ms | {theirs[1]:.1f} ms |")
    rows.append("")
    rows.append(
        f"{edits} saves each, from the write to the spinning thread printing the new value "
        f"(it never sleeps, so the save waits for the GIL). jurigged-rs is "
        f"{theirs[0] / ours[0]:.1f}× faster at the median; goal: under 20 ms."
    )
    return "\n".join(rows)


def make_package(root, modules):
    package = Path(root, "pkg")
    package.mkdir()
    Path(package, "__init__.py").write_text("")
    for i in range(modules):
        Path(package, f"m{i}.py").write_text(
            f"X = {i}\n\n\ndef f{i}(a, b=1):\n    return a + b + X\n\n\n"
            f"class C{i}:\n    def m(self):\n        return {i}\n"
        )
    Path(root, "imports.py").write_text(
        "import importlib\n"
        f"for i in range({modules}):\n"
        "    importlib.import_module(f'pkg.m{i}')\n"
    )


def imports(python, reference, rounds, modules=2000):
    """A program importing many modules from the watched directory (pyc cache warm)."""
    with tempfile.TemporaryDirectory() as tmp:
        make_package(tmp, modules)
        Path(tmp, "short.py").write_text("import json, csv, decimal, email.message\n")
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([python, "imports.py"], cwd=tmp, env=env, check=True)  # write the pycs
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        medians = interleaved(
            {
                "python3": [python, "imports.py"],
                "jurigged-rs": [str(BINARY), "imports.py"],
                "jurigged-rs --poll 0.05": [str(BINARY), "--poll", "0.05", "imports.py"],
                "jurigged 0.6.1": [str(reference), "imports.py"],
            },
            tmp, rounds,
        )
        watch_all = interleaved(
            {
                "python3": [python, "short.py"],
                "jurigged-rs": [str(BINARY), "-w", "/", "short.py"],
                "jurigged 0.6.1": [str(reference), "-w", "/", "short.py"],
            },
            tmp, rounds,
        )
    rows = ["| command | median | vs python |", "|---|---:|---:|"]
    for name, seconds in medians.items():
        rows.append(f"| {name} imports.py ({modules:,} modules) | {ms(seconds)} | "
                    f"{seconds / medians['python3']:.2f}× |")
    for name, seconds in watch_all.items():
        option = "" if name == "python3" else " -w /"
        rows.append(f"| {name}{option} short.py | {ms(seconds)} | "
                    f"+{(seconds - watch_all['python3']) * 1000:.0f} ms |")
    rows.append("")
    rows.append(
        f"Whole runs, medians of {rounds} interleaved rounds; the package sits in the watched "
        "directory and its pyc files are written first. `short.py` imports json, csv, decimal "
        "and email.message, so `-w /` watches a few dozen standard library files."
    )
    return "\n".join(rows)


def big_module_source(functions):
    parts = [
        f"def function_{i}(argument, other=1):\n    return argument + other + {i}\n\n\n"
        for i in range(functions)
    ]
    return "".join(parts)


BIG_MAIN = """\
import time

import big

print("ready", flush=True)
last = None
while True:
    current = big.function_5(0)
    if current != last:
        print(current, time.time_ns(), flush=True)
        last = current
    time.sleep(0.001)
"""


def big_module_save(python, argv, tmp, source, timeout):
    """Seconds from one save (a line added at the top, one body changed) to the loop using
    it, and the process's peak memory in MB; `None` past `timeout`."""
    path = Path(tmp, "big.py")
    path.write_text(source)
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # The pyc again, as python's own figure has it: compiling 10 MB at import would peak
    # at a gigabyte, whoever watches.
    subprocess.run([python, "-c", "import big"], cwd=tmp, env=env, check=True)
    process = subprocess.Popen(
        argv + ["main.py"], cwd=tmp, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    elapsed = None
    try:
        assert process.stdout.readline().strip() == "ready"
        assert process.stdout.readline().split()[0] == "6"
        time.sleep(1.5)
        start = time.time_ns()
        path.write_text("# a new first line\n" + source.replace("+ 5\n", "+ 7\n", 1))
        deadline = time.monotonic() + timeout
        import select
        while time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            if ready:
                line = process.stdout.readline().split()
                if line and line[0] == "8":
                    elapsed = (int(line[1]) - start) / 1e9
                    break
    finally:
        process.kill()
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0
    return elapsed, usage.ru_maxrss / 1024


def big_module(python, reference, functions=120_000, timeout=120):
    source = big_module_source(functions)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "big.py").write_text(source)
        Path(tmp, "main.py").write_text(BIG_MAIN)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([python, "-c", "import big"], cwd=tmp, env=env, check=True)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        # python's own peak memory for the same program (it just does not patch).
        probe = subprocess.Popen([python, "-c", "import big"], cwd=tmp)
        _, _, usage = os.wait4(probe.pid, 0)
        probe.returncode = 0
        python_mb = usage.ru_maxrss / 1024
        ours = big_module_save(python, [str(BINARY)], tmp, source, timeout)
        theirs = big_module_save(python, [str(reference)], tmp, source, timeout)
    size = len(source) / 1e6

    def seconds(value):
        return f"{value:.2f} s" if value is not None else f"> {timeout} s"

    rows = [
        "| one save of a module | save to running | peak memory |",
        "|---|---:|---:|",
        f"| python (importing it, no watching) | | {python_mb:.0f} MB |",
        f"| jurigged-rs | {seconds(ours[0])} | {ours[1]:.0f} MB |",
        f"| jurigged 0.6.1 | {seconds(theirs[0])} | {theirs[1]:.0f} MB |",
        "",
        f"A {size:.1f} MB module of {functions:,} functions; the save adds a line at the top "
        "(every function moves) and changes one body.",
    ]
    return "\n".join(rows)



def ensure_develoop_extra():
    """jurigged 0.6.1's develoop needs its [develoop] extra."""
    check = subprocess.run([str(VENV / "bin" / "python"), "-c", "import giving"], capture_output=True)
    if check.returncode != 0:
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", f"jurigged[develoop]=={REFERENCE_VERSION}"],
            check=True,
        )


def write_readme(name, table):
    readme = ROOT / "README.md"
    text = readme.read_text()
    pattern = re.compile(
        rf"(<!-- bench:{name} -->\n).*?(\n<!-- /bench:{name} -->)", re.DOTALL
    )
    if not pattern.search(text):
        print(f"README.md has no bench:{name} markers; not updated", file=sys.stderr)
        return
    readme.write_text(pattern.sub(lambda m: m.group(1) + table + m.group(2), text))


def main():
    """`BENCH_ONLY=file-io,patch` runs only those sections (all by default)."""
    rounds = int(os.environ.get("BENCH_ROUNDS", "40"))
    edits = int(os.environ.get("BENCH_EDITS", "15"))
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    python = real_python()
    build()
    reference = None
    sections = [
        ("startup", "Startup of an empty script", lambda: startup(python, reference, rounds)),
        ("patch", "Save to running code", lambda: patching(reference, edits)),
        ("develoop", "The develoop", lambda: develoop(python, reference, edits)),
        ("file-io", "File I/O in the watched directory", lambda: file_io(
            python, int(os.environ.get("BENCH_IO_ROUNDS", "15")),
            int(os.environ.get("BENCH_IO_ITERATIONS", "20000")))),
        ("spin", "Save to a thread that never pauses", lambda: spinning(reference, edits)),
        ("imports", "Imports and -w /", lambda: imports(python, reference, int(os.environ.get("BENCH_IMPORT_ROUNDS", "10")))),
        ("big-module", "A 10 MB module", lambda: big_module(python, reference)),
        ("rich", "The rich interface", lambda: rich(int(os.environ.get("BENCH_LINES", "1000000")), edits)),
    ]
    for name, title, run in sections:
        if only and name not in only:
            continue
        if reference is None and name in ("startup", "patch", "develoop", "spin", "imports", "big-module"):
            reference = reference_jurigged(python)
        print(f"\n## {title}\n")
        table = run()
        print(table)
        write_readme(name, table)


if __name__ == "__main__":
    main()
