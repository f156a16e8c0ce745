#!/usr/bin/env python3
"""Fails when a workspace crate depends on another along an edge the architecture forbids."""
import json
import subprocess
import sys

ALLOWED = {
    "sightline": {"sightline-collector", "sightline-query", "sightline-store", "sightline-model"},
    "sightline-collector": {"sightline-store", "sightline-model"},
    "sightline-query": {"sightline-store", "sightline-model"},
    "sightline-store": {"sightline-model"},
    "sightline-model": set(),
}

metadata = json.loads(subprocess.check_output(["cargo", "metadata", "--no-deps", "--format-version", "1"]))
problems = []
for package in metadata["packages"]:
    name = package["name"]
    for dependency in package["dependencies"]:
        target = dependency["name"]
        if target.startswith("sightline") and dependency.get("kind") is None and target not in ALLOWED.get(name, set()):
            problems.append(f"{name} must not depend on {target}")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
