"""deployctl's benchmark against ordered kubectl and Helm on the sandbox (`nox -s bench`).

projects.py       the work: the shipped stacks and synthetic projects, as deployctl
                  projects, as rendered objects, and as a Helm chart
tools.py          running each tool as a user would, timing the whole process
critical_path.py  per dependency level, first object created to last pod Ready
report.py         medians, ratios, the issue's targets; latest.md, .json, .png
run.py            the entry point: `python -m benchmarks.run --help`
"""
