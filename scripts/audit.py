"""CI's dependency audit: pip-audit over requirements.lock, with an honest summary.

pip-audit prints "No known vulnerabilities found" even when it could look up none of the
packages (each one it could not query is only listed as skipped). This prints how many locked
packages were audited, fails on any known vulnerability, and with --strict also fails when a
package could not be audited. See docs/operations.md ("Dependency audit").

    python scripts/audit.py [--strict]
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
# vulnerability id -> why it does not reach us; each one also in docs/operations.md's table
IGNORED: dict[str, str] = {}


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        # every pin of the lock is exact and transitive: nothing to resolve (--no-deps)
        command = [
            sys.executable, "-m", "pip_audit", "--requirement", str(LOCK), "--no-deps",
            "--disable-pip", "--progress-spinner", "off", "--format", "json", "--output",
            str(report), *(f"--ignore-vuln={v}" for v in IGNORED),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if not report.exists():
            print(done.stdout + done.stderr, file=sys.stderr)
            return done.returncode or 1
        packages = json.loads(report.read_text())["dependencies"]
    audited = [p for p in packages if "skip_reason" not in p]
    skipped = [p for p in packages if "skip_reason" in p]
    findings = [(p, v) for p in audited for v in p["vulns"]]
    for p, v in findings:
        fixed = ", ".join(v["fix_versions"]) or "no fixed release"
        also = f" ({', '.join(v['aliases'])})" if v["aliases"] else ""
        print(f"VULNERABLE {p['name']}=={p['version']}: {v['id']}{also}, fixed in {fixed}")
    print(
        f"pip-audit: {len(audited)} of {len(packages)} locked packages audited, "
        f"{len(findings)} known vulnerabilities"
    )
    if skipped:
        names = ", ".join(p["name"] for p in skipped)
        print(f"NOT AUDITED ({len(skipped)}): {names}")
        print(f"  first reason: {skipped[0]['skip_reason']}")
    if findings:
        return 1
    return 1 if strict and skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
