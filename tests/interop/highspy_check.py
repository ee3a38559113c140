#!/usr/bin/env python3
"""Reads an exported MILP with highspy, fixes the layer's weights and biases
at the MIP start (the current weights), solves, and prints the objective.

usage: highspy_check.py FILE.{mps,lp}[.gz] START.mst [--free]
  --free: do not fix the weights; solve the whole problem (prints the optimum)
Prints: `objective <value> status <model status>`.
"""
import sys

import highspy


def main():
    path, start = sys.argv[1], sys.argv[2]
    free = "--free" in sys.argv[3:]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if h.readModel(path) != highspy.HighsStatus.kOk:
        sys.exit(f"highspy could not read {path}")
    values = {}
    for line in open(start):
        if line.strip() and not line.startswith("#"):
            name, v = line.split()
            values[name] = float(v)
    lp = h.getLp()
    names = list(lp.col_names_)
    if not free:
        for k, name in enumerate(names):
            if name.startswith("w_") or name.startswith("b_"):
                h.changeColBounds(k, values[name], values[name])
    h.run()
    print(f"objective {h.getInfo().objective_function_value!r} status {h.modelStatusToString(h.getModelStatus())}")


main()
