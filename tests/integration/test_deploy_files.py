"""The deploy files, checked statically (no container engine runs here)."""

import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def test_compose_runs_the_api_behind_nginx_with_healthchecks() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"api", "nginx"}
    api, nginx = services["api"], services["nginx"]
    assert "ports" not in api, "only nginx publishes a port"
    assert nginx["ports"] == ["8080:8080"]
    assert nginx["depends_on"]["api"]["condition"] == "service_healthy"
    for service in services.values():
        assert service["healthcheck"]["test"]
        assert service["restart"] == "unless-stopped"
    assert all(v.endswith(":ro") for v in api["volumes"] + nginx["volumes"])
    assert (ROOT / "deploy" / api["build"]["dockerfile"].removeprefix("deploy/")).exists()
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    for service in services.values():  # read-only root filesystems, no privilege escalation
        assert service["read_only"] is True
        assert "/tmp" in service["tmpfs"]
        assert "no-new-privileges:true" in service["security_opt"]
    assert api["cap_drop"] == ["ALL"]
    # nginx starts only once the API has loaded its model and run a warm-up pass
    assert "/readyz" in " ".join(api["healthcheck"]["test"])


def test_dockerfile_is_multi_stage_slim_cpu_and_non_root() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    stages = [ln for ln in lines if ln.startswith("FROM")]
    assert len(stages) == 2 and all("-slim" in ln for ln in stages)
    assert stages[0].endswith("AS builder")
    assert any(ln.startswith("COPY --from=builder /opt/venv") for ln in lines)
    assert any("torch==2.13.0" in ln and "/whl/cpu" in ln for ln in lines)
    users = [ln for ln in lines if ln.startswith("USER ")]
    assert users
    assert users[-1] != "USER root"
    assert any(ln.startswith("HEALTHCHECK") for ln in lines)
    assert any("/healthz" in ln for ln in lines)
    copied = " ".join(ln for ln in lines if ln.startswith("COPY"))
    for needed in ("pyproject.toml", "requirements.lock", "src"):
        assert needed in copied
        assert (ROOT / needed).exists()
