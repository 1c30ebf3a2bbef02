#!/usr/bin/python3
"""The cellforge tool's help, and the docs' commands against it (CTest `examples: command help and
the docs' command lines`).

  * `cellforge help` lists the commands; for each, `cellforge CMD --help`, `cellforge CMD -h` and
    `cellforge help CMD` exit 0 and print the same usage on stdout (nothing on stderr), starting
    "usage: cellforge CMD [options]", with a line for every option;
  * every `cellforge CMD ... --option` written in README.md, docs/*.md and examples/*.cpp names an
    option that CMD's help lists, so the docs cannot show an option the tool refuses;
  * the commands no other CLI test runs (cells, inspect, check, compile, gradflow) run with their
    defaults: each default the code uses is checked against the one its help shows, so a help
    that drifted would end one of these runs with an internal error.

usage: check_cli_help.py CELLFORGE SOURCE_DIR
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

cellforge, source = sys.argv[1], sys.argv[2]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAILED:", what)


def run(*args):
    return subprocess.run([cellforge, *args], capture_output=True, text=True, timeout=60)


top = run("help")
check(top.returncode == 0 and "commands:" in top.stdout, "cellforge help lists the commands")
commands = re.findall(r"^  ([a-z][a-z-]+)\s", top.stdout.split("commands:")[1], re.M)
check(len(commands) >= 10, f"cellforge help lists the commands (found {commands})")

options = {}
for command in commands:
    help = run(command, "--help")
    check(help.returncode == 0 and help.stderr == "", f"cellforge {command} --help exits 0, quietly")
    check(help.stdout.startswith(f"usage: cellforge {command} [options]\n"), f"cellforge {command} --help: usage line")
    check(run(command, "-h").stdout == help.stdout, f"cellforge {command} -h is --help")
    check(run("help", command).stdout == help.stdout, f"cellforge help {command} is --help")
    options[command] = set(re.findall(r"^  --([a-z0-9-]+)", help.stdout, re.M))
    check("help" in options[command], f"cellforge {command} --help lists --help")

# The docs' command lines: `cellforge CMD` (also ./build/cellforge, build/cellforge) up to the end of
# the line, lines ending in a backslash joined with the next; a `#` starts a comment, `|`, `;`,
# `&&` another command.
documents = [os.path.join(source, "README.md")] + sorted(glob.glob(os.path.join(source, "docs", "*.md"))) + \
    sorted(glob.glob(os.path.join(source, "examples", "*.cpp")))
checked = 0
for path in documents:
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for number, line in enumerate(text.splitlines(), 1):
        for m in re.finditer(r"\bcellforge ([a-z][a-z-]+)((?:[^`|;&#\n]|&(?!&))*)", line):
            command, rest = m.group(1), m.group(2)
            if command not in options:
                continue
            for option in re.findall(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)", rest):
                checked += 1
                check(option in options[command],
                      f"{os.path.relpath(path, source)}:{number}: cellforge {command} has no option --{option}")
check(checked >= 30, f"the docs' command lines were found ({checked} options checked)")

with tempfile.TemporaryDirectory() as scratch:
    for args in (["cells"], ["cells", "--names"], ["inspect"], ["inspect", "--emit", "sched"],
                 ["check", "--input", "4", "--hidden", "6", "--batch", "2", "--unroll", "3", "--layers", "1"],
                 ["compile", "--input", "8", "--hidden", "8", "--batch", "2", "--unroll", "2", "--layers", "1"],
                 ["gradflow", "--hidden", "8", "--unroll", "4", "--lanczos", "3", "--quiet",
                  "--out", os.path.join(scratch, "gf")]):
        result = subprocess.run([cellforge, *args], capture_output=True, text=True, timeout=300)
        check(result.returncode == 0 and "internal error" not in result.stderr,
              f"cellforge {' '.join(args)} runs with its defaults: {result.stderr.strip()[:300]}")
print(f"{len(commands)} commands, {checked} options written in the docs checked against their help")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
