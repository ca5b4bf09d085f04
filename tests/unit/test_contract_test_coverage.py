"""The forge suite keeps its promise as the contracts grow: every custom error declared in
contracts/src is expected by some test, and every external or public function is called by one."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "contracts" / "src").rglob("*.sol"))
TESTS = "\n".join(p.read_text() for p in (ROOT / "contracts" / "test").rglob("*.sol"))


def _declared(pattern: str) -> set[str]:
    names = set()
    for path in SOURCES:
        if "interfaces" in path.parts:
            continue  # interfaces only restate functions the contracts define
        names |= set(re.findall(pattern, path.read_text()))
    return names


def test_every_custom_error_has_a_revert_test():
    errors = _declared(r"\berror\s+(\w+)\s*\(")
    assert len(errors) > 40
    missing = sorted(e for e in errors if not re.search(rf"\b{e}\.selector\b", TESTS))
    assert not missing, f"custom errors no test expects: {missing}"


def test_every_external_function_is_called_by_a_test():
    functions = _declared(r"\bfunction\s+(\w+)\s*\([^)]*\)\s*(?:external|public)")
    assert len(functions) > 50
    missing = sorted(f for f in functions if not re.search(rf"\.{f}\s*[({{]", TESTS))
    assert not missing, f"external functions no test calls: {missing}"
