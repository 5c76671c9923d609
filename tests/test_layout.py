"""The house rules, checked: one step function per rule, named like it, in the module of its rule file; scripts that
call exactly that function; functions only in common.smk; parse-time code that imports nothing heavy; domain packages
that never touch the workflow's files; a benchmark file per rule."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys

import pytest

from helpers import REPO

RULES = REPO / "workflow" / "rules"
SCRIPTS = REPO / "workflow" / "scripts"
SRC = REPO / "src" / "xdetox"


def rules_by_file() -> dict[str, list[str]]:
    return {path.stem: re.findall(r"^\s*rule (\w+):", path.read_text(), re.M)
            for path in sorted(RULES.glob("*.smk")) if path.stem != "common"}


def test_every_rule_has_its_script_calling_its_step_of_the_same_name():
    rules = {rule: module for module, names in rules_by_file().items() for rule in names}
    assert {p.stem for p in SCRIPTS.glob("*.py")} == set(rules)
    for rule, module in rules.items():
        assert importlib.util.find_spec(f"xdetox.steps.{module}"), f"no xdetox.steps.{module} for {module}.smk"
        step = getattr(importlib.import_module(f"xdetox.steps.{module}"), rule, None)
        assert callable(step), f"xdetox.steps.{module} has no function {rule}"
        tree = ast.parse((SCRIPTS / f"{rule}.py").read_text())
        imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    for alias in node.names}
        # the generation rules may run in envs/vllm.yaml, where xdetox is put on the path by the script itself
        allowed = {("pathlib", "Path")} if module == "generate" and rule != "langid" and rule != "langid_table" else set()
        assert imported - allowed == {("xdetox.logs", "job_log"), (f"xdetox.steps.{module}", rule)}, rule
        calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id not in ("dict", "zip", "list", "str", "Path")}
        assert calls == {"job_log", rule}, (rule, calls)
        assert f'script:\n        f"{{SCRIPTS}}/{rule}.py"' in (RULES / f"{module}.smk").read_text().replace(
            "    script:\n            f", "script:\n        f"), rule


def test_every_rule_has_a_log_and_a_benchmark():
    for module in rules_by_file():
        text = (RULES / f"{module}.smk").read_text()
        blocks = re.split(r"^\s*rule \w+:", text, flags=re.M)[1:]
        for block in blocks:
            assert "log:" in block and "benchmark:" in block and "conda:" in block, block[:200]


def test_only_common_smk_defines_functions_or_imports():
    for path in RULES.glob("*.smk"):
        if path.stem == "common":
            continue
        text = path.read_text()
        assert not re.search(r"^\s*def \w+|lambda|^\s*(import|from) \w+", text, re.M), path.name


def test_parse_time_modules_import_nothing_heavy():
    """The modules common.smk imports (the DAG is built with them) must not pull in torch, transformers or
    matplotlib, which only jobs need."""
    modules = re.findall(r"^from (xdetox[\w.]*) import", (RULES / "common.smk").read_text(), re.M)
    assert modules
    code = (f"import sys; import {', '.join(sorted(set(modules)))}; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["metrics", "interp", "retrieval", "scoring", "generation", "train", "langid"])
def test_domain_packages_do_no_workflow_file_io(package):
    """Reading and writing the workflow's files is the steps' job (xdetox.steps); the domain computes in memory."""
    top_level = (SRC / f"{package}.py").exists()
    paths = [SRC / f"{package}.py"] if top_level else sorted((SRC / package).glob("*.py"))
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level == (1 if top_level else 2)):
                continue  # only imports of xdetox's own top-level modules (xdetox.io, xdetox.cache)
            names = {a.name for a in node.names}
            assert node.module != "io", f"{path.name} imports xdetox.io ({names})"
            if node.module == "cache":  # fingerprints are fine; the content cache is the steps'
                assert names <= {"file_sha256", "files_digest", "code_fingerprint"}, f"{path.name}: {names}"


def test_no_comment_or_doc_points_outside_the_repository():
    offenders = []
    for path in [*SRC.rglob("*.py"), *RULES.glob("*.smk"), *(REPO / "workflow" / "report").glob("*.rst"),
                 *(REPO / "docs").glob("*.md"), REPO / "README.md", REPO / "config.yaml", *(REPO / "configs").glob("*"),
                 REPO / "workflow" / "schemas" / "config.schema.yaml", REPO / "pyproject.toml"]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bprotocol\b|\.\./shared|shared/paper", text):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, offenders
