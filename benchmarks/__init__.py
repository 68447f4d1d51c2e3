"""deployctl's benchmark against ordered kubectl and Helm on the sandbox (`nox -s bench`).

projects.py       the work: the shipped stacks and synthetic projects, as deployctl
                  projects, as rendered objects, and as a Helm chart
tools.py          running each tool as a user would, timing the whole process
critical_path.py  per dependency level, first object created to last pod Ready
fleet.py          the 3-cluster case: one `up` across three clusters, in one stage or
                  three, against three single-cluster `up`s in turn
report.py         medians, ratios, the issue's targets; latest.md, .json, .png
run.py            the entry point: `python -m benchmarks.run --help`
"""
