#!/usr/bin/env python3
"""README.md's first C++ code block is examples/00_hello_cell.cpp's README-BEGIN ... README-END part,
character for character (CTest `docs: README example in sync`), so the code a reader copies from the
README is code CTest compiles and runs.

usage: check_readme_example.py README.md examples/00_hello_cell.cpp
"""
import re
import sys

readme, example = open(sys.argv[1]).read(), open(sys.argv[2]).read()
block = re.search(r"^```(?:cpp|c\+\+)\n(.*?)^```", readme, re.S | re.M)
part = re.search(r"^// README-BEGIN\n(.*?)^// README-END", example, re.S | re.M)
if not block:
    sys.exit("README.md has no ```cpp code block")
if not part:
    sys.exit(f"{sys.argv[2]} has no // README-BEGIN ... // README-END part")
if block.group(1) != part.group(1):
    a, b = block.group(1).splitlines(), part.group(1).splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            sys.exit(f"line {i + 1} of the block differs:\n  README:  {x}\n  example: {y}")
    sys.exit(f"the README block has {len(a)} lines, the example's part {len(b)}")
print(f"README's first C++ block is the example's README part ({len(block.group(1).splitlines())} lines)")
