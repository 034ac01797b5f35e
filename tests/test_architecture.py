"""The arrows between the packages point one way; these tests fail the day one turns around.

- nothing in `audit` imports `reports` (reports reads the log, never the reverse);
- `portal` (the site shell) imports no domain code of `audit` or `reports`, only their urls;
- the verifier package (`verifier/sightline_verifier`) never imports Django or the server;
- inside `audit`, the log's rooms never import the workspace or the API.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions, absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def offending_imports(package: str, forbidden: tuple[str, ...]) -> list[str]:
    problems = []
    for path in sorted((REPO / package).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                problems.append(f"{path.relative_to(REPO)} imports {module}")
    return problems


def test_the_finder_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from reports import selectors\n    import django.db\n")

    assert {"reports", "reports.selectors", "django.db"} <= imported_modules(sample)


def test_audit_never_imports_reports():
    assert offending_imports("audit", ("reports",)) == []


def test_portal_imports_no_domain_code():
    # portal includes the apps' urls by dotted string and knows the role names; no models,
    # services, selectors or views of the apps.
    assert offending_imports("portal", ("audit", "reports")) == []


def test_the_log_rooms_never_import_the_workspace_or_the_api():
    for room in ("audit/log", "audit/transparency", "audit/flags"):
        assert offending_imports(room, ("audit.workspace", "audit.api", "audit.imports")) == []


def test_the_verifier_package_imports_neither_django_nor_the_server():
    forbidden = ("django", "rest_framework", "audit", "reports", "portal")
    assert offending_imports("verifier", forbidden) == []


def test_the_verifier_package_imports_without_django_installed(tmp_path):
    # A Python whose `django` cannot be imported at all: the verifier must not need it.
    blocker = tmp_path / "django"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('django is not installed here')\n")
    names = ("leaf", "merkle", "verify")
    code = "; ".join(f"import sightline_verifier.{name}" for name in names)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("package", ["audit", "reports", "portal", "verifier"])
def test_no_module_over_500_lines_without_a_reason_at_its_top(package):
    too_long = []
    for path in sorted((REPO / package).rglob("*.py")):
        if "migrations" in path.parts or "build" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        head = text[:1500]
        if text.count("\n") > 500 and "Over 500 lines:" not in head:
            too_long.append(str(path.relative_to(REPO)))
    assert too_long == []
