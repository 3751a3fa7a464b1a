"""contrib/docker-compose.yml, the README's example of two elektromail replicas on one
PostgreSQL: valid by the Compose Specification's own JSON schema (vendored in
tests/data/compose-spec/, with its source and license), and saying what it means to say.
No container engine is needed."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from elektromail.config import SETTINGS, is_shared_database

yaml = pytest.importorskip("yaml", reason="PyYAML reads the compose file")

ROOT = Path(__file__).parents[1]
COMPOSE = ROOT / "contrib" / "docker-compose.yml"
SCHEMA = json.loads((ROOT / "tests/data/compose-spec/compose-spec.json").read_text())


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def errors(document: dict) -> list[str]:
    validator = Draft7Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def mail_services(document: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in document["services"].items()
        if "ELEKTROMAIL_DB" in service.get("environment", {})
    }


def test_the_compose_file_is_valid_by_the_compose_specification():
    assert errors(compose()) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["services"]["mail-1"].update(ports="2525:2525"),  # a list, not a string
        lambda d: d["services"]["mail-2"].update(healthchek={"test": ["NONE"]}),  # a typo
        lambda d: d["services"]["mail-1"]["depends_on"]["postgres"].update(condition="up"),
        lambda d: d.update(service={}),
    ],
    ids=["ports-not-a-list", "misspelt-key", "unknown-condition", "unknown-top-level-key"],
)
def test_the_schema_check_catches_a_broken_file(break_it):
    document = copy.deepcopy(compose())
    break_it(document)
    assert errors(document) != []


def test_two_elektromail_replicas_share_one_postgresql_database():
    document = compose()
    replicas = mail_services(document)
    assert len(replicas) == 2
    assert "postgres" in document["services"]
    for name, service in replicas.items():
        env = service["environment"]
        assert is_shared_database(env["ELEKTROMAIL_DB"]), name
        assert "@postgres:5432/" in env["ELEKTROMAIL_DB"]  # the database service's name
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert int(env["ELEKTROMAIL_WORKERS"]) > 1
    databases = {s["environment"]["ELEKTROMAIL_DB"] for s in replicas.values()}
    assert len(databases) == 1
    host_ports = [p.split(":")[0] for s in replicas.values() for p in s["ports"]]
    assert len(host_ports) == len(set(host_ports))  # the two replicas never collide


def test_every_variable_is_a_setting_with_a_valid_value():
    by_env = {s.env: s for s in SETTINGS if s.env}
    for service in mail_services(compose()).values():
        for name, value in service["environment"].items():
            assert name in by_env, f"{name} is no setting of the README's table"
            if name != "ELEKTROMAIL_DB":  # a postgresql:// URL needs the PostgreSQL store
                by_env[name].parse(str(value))


def test_healthchecks_ask_postgresql_and_elektromails_healthz():
    document = compose()
    assert "pg_isready" in " ".join(document["services"]["postgres"]["healthcheck"]["test"])
    for service in mail_services(document).values():
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD" and "/healthz" in test[-1]
        assert f":{service['environment']['HTTP_PORT']}/healthz" in test[-1]


def test_the_replicas_health_check_passes_on_a_running_server(child_server):
    server = child_server(["--smtp-port", "0", "--imap-port", "0", "--http-port", "0"])
    server.wait_ready()
    test = next(iter(mail_services(compose()).values()))["healthcheck"]["test"]
    assert test[1:3] == ["python", "-c"]
    code = test[3].replace(":8080/", f":{server.ports['http']}/")
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0
    server.stop()
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode != 0
