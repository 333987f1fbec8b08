"""The Helm chart, checked without helm (none can be installed here).

Nothing is rendered. Instead:
(a) every chart file is well-formed YAML once the template lines are set aside (a line holding only
    `{{ ... }}` actions: if/else/end/with/range/include/toYaml) and each inline `{{ ... }}` is replaced by
    a placeholder scalar;
(b) every `.Values.x.y` path a template or helper names exists in values.yaml, and every
    `include "name"` names a template that _helpers.tpl defines;
(c) both Deployments probe /healthz and /readyz, run as non-root on a read-only root filesystem, and
    start `tunebot serve --role bot` / `--role service`.
The checkers are plain functions so the tests can feed them broken input and see them complain.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "tunebot"
TEMPLATES = CHART / "templates"
PLACEHOLDER = "TEMPLATED"

# A Go template comment, possibly spanning lines: {{/* ... */}} or {{- /* ... */ -}}.
_COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.DOTALL)
_ACTION = re.compile(r"\{\{.*?\}\}")
_NAME_PATH = r"((?:\.[A-Za-z_][A-Za-z0-9_]*)+)"
_VALUES_PATH = re.compile(r"\.Values" + _NAME_PATH)
_VALUES_ALIAS = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*\$?\.Values" + _NAME_PATH)
_VARIABLE_PATH = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)" + _NAME_PATH)
_INCLUDE = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"")
_DEFINE = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")
_OPENER = re.compile(r"\{\{-?\s*(?:if|with|range|define|block)\b")
_END = re.compile(r"\{\{-?\s*end\b")


def strip_template(text: str) -> str:
    """The YAML skeleton of a template: action-only lines dropped, inline actions made placeholders.

    Raises ValueError for an action left open on its line (a multi-line action other than a comment),
    which this skeleton cannot represent.
    """
    text = _COMMENT.sub(lambda match: "\n" * match.group().count("\n"), text)
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "{{" in _ACTION.sub("", line):
            raise ValueError(f"line {number}: a template action is not closed on its line")
        if _ACTION.search(line) and not _ACTION.sub("", line).strip():
            continue
        lines.append(_ACTION.sub(PLACEHOLDER, line))
    return "\n".join(lines) + "\n"


def yaml_problems(text: str) -> list[str]:
    """Why a template's skeleton is not YAML, and which documents are not Kubernetes objects."""
    try:
        documents = list(yaml.safe_load_all(strip_template(text)))
    except (ValueError, yaml.YAMLError) as error:
        return [str(error)]
    problems: list[str] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= document.keys():
            problems.append(f"document {index} is not a Kubernetes object (apiVersion, kind, metadata)")
    return problems


def block_problems(text: str) -> list[str]:
    """if/with/range/define blocks that are not closed by as many `end`s."""
    text = _COMMENT.sub("", text)
    opened, closed = len(_OPENER.findall(text)), len(_END.findall(text))
    return [] if opened == closed else [f"{opened} blocks opened but {closed} closed with end"]


def referenced_values(text: str) -> list[str]:
    """Each `.Values.a.b` path in ``text``, with `$x := .Values.a` aliases followed (`$x.b` is a.b)."""
    # A range variable is an element, not the map itself: only plain assignments alias a path.
    assignments = "\n".join(line for line in text.splitlines() if not re.search(r"\brange\b", line))
    aliases = {match.group(1): match.group(2) for match in _VALUES_ALIAS.finditer(assignments)}
    paths = [match.group(1) for match in _VALUES_PATH.finditer(text)]
    for match in _VARIABLE_PATH.finditer(text):
        if match.group(1) in aliases:
            paths.append(aliases[match.group(1)] + match.group(2))
    return [path.lstrip(".") for path in paths]


def missing_values(text: str, values: dict[str, Any]) -> list[str]:
    """Every values path ``text`` references that values.yaml does not define (each listed once)."""
    missing: list[str] = []
    for path in referenced_values(text):
        node: Any = values
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                if path not in missing:
                    missing.append(path)
                break
            node = node[key]
    return missing


def undefined_includes(text: str, defined: set[str]) -> list[str]:
    return sorted({name for name in _INCLUDE.findall(text) if name not in defined})


def load_values() -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert isinstance(values, dict)
    return values


def template_files() -> list[Path]:
    return sorted(path for path in TEMPLATES.iterdir() if path.suffix in (".yaml", ".yml", ".tpl"))


def yaml_templates() -> list[Path]:
    return [path for path in template_files() if path.suffix != ".tpl"]


def skeleton(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a template's skeleton."""
    return [document for document in yaml.safe_load_all(strip_template(path.read_text())) if document]


def defined_templates() -> set[str]:
    return {name for path in template_files() for name in _DEFINE.findall(path.read_text())}


def deployment(file_name: str) -> dict[str, Any]:
    deployments = [d for d in skeleton(TEMPLATES / file_name) if d.get("kind") == "Deployment"]
    assert len(deployments) == 1, f"{file_name} should hold exactly one Deployment"
    found: dict[str, Any] = deployments[0]
    return found


# --- the checkers themselves, on synthetic input ---------------------------------------------------


def test_missing_value_is_reported() -> None:
    template = (
        "spec:\n"
        "  replicas: {{ .Values.bot.replicaCount }}\n"
        "  {{- with .Values.bot.nodeSelectr }}\n"
        "  image: {{ .Values.image.digest | default .Values.image.tag }}\n"
        "  {{- end }}\n"
    )
    values = {"bot": {"replicaCount": 1, "nodeSelector": {}}, "image": {"tag": ""}}
    assert missing_values(template, values) == ["bot.nodeSelectr", "image.digest"]


def test_path_through_a_scalar_is_missing() -> None:
    assert missing_values("{{ .Values.image.tag.major }}", {"image": {"tag": "1.0"}}) == ["image.tag.major"]


def test_missing_value_through_a_variable_is_reported() -> None:
    template = "{{- $db := .Values.database }}\n{{ $db.host }}:{{ $db.prot }}\n"
    assert missing_values(template, {"database": {"host": "", "port": 5432}}) == ["database.prot"]


def test_present_values_pass() -> None:
    values = {"a": {"b": {"c": None}}, "d": []}
    assert missing_values("{{ .Values.a.b.c }} {{ $.Values.a.b }} {{ .Values.d }}", values) == []


def test_skeleton_sets_aside_action_lines_and_replaces_inline_actions() -> None:
    template = (
        "{{/* a comment\n   over two lines */}}\n"
        "{{- if .Values.enabled }}\n"
        "metadata:\n"
        '  name: {{ include "x.fullname" . }}-bot\n'
        "  labels:\n"
        '    {{- include "x.labels" . | nindent 4 }}\n'
        "{{- end }}\n"
    )
    assert yaml.safe_load(strip_template(template)) == {
        "metadata": {"name": f"{PLACEHOLDER}-bot", "labels": None}
    }


def test_malformed_template_is_reported() -> None:
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n   labels: {}\n"
    assert yaml_problems(broken)
    assert yaml_problems("apiVersion: v1\nkind: ConfigMap\n") == [
        "document 0 is not a Kubernetes object (apiVersion, kind, metadata)"
    ]


def test_unclosed_action_and_unbalanced_blocks_are_reported() -> None:
    assert yaml_problems('metadata:\n  name: {{ include "x"\n   . }}\n')
    assert block_problems("{{- if .Values.a }}\n{{- with .Values.b }}\n{{- end }}\n")
    assert not block_problems("{{- if .Values.a }}\n{{- else if .Values.b }}\n{{- end }}\n")


def test_undefined_include_is_reported() -> None:
    assert undefined_includes('{{ include "tunebot.labes" . }}', {"tunebot.labels"}) == ["tunebot.labes"]


# --- the chart -------------------------------------------------------------------------------------


def test_chart_and_values_are_yaml() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "tunebot"
    assert chart["type"] == "application"
    assert chart["version"] and chart["appVersion"]
    load_values()


def test_chart_has_its_templates() -> None:
    names = {path.name for path in template_files()}
    assert {
        "_helpers.tpl",
        "configmap.yaml",
        "deployment-bot.yaml",
        "deployment-service.yaml",
        "service.yaml",
        "serviceaccount.yaml",
        "ingress.yaml",
    } <= names


@pytest.mark.parametrize("path", yaml_templates(), ids=lambda p: p.name)
def test_template_is_well_formed_yaml(path: Path) -> None:
    text = path.read_text()
    assert yaml_problems(text) == []
    assert block_problems(text) == []


def test_helpers_blocks_are_balanced() -> None:
    assert block_problems((TEMPLATES / "_helpers.tpl").read_text()) == []


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_every_referenced_value_exists(path: Path) -> None:
    assert missing_values(path.read_text(), load_values()) == []


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_every_included_template_is_defined(path: Path) -> None:
    assert undefined_includes(path.read_text(), defined_templates()) == []


def test_chart_writes_no_secrets() -> None:
    """Secrets are referenced by name (existingSecret), never written from values."""
    for path in yaml_templates():
        assert all(document.get("kind") != "Secret" for document in skeleton(path)), path.name
    for path in template_files():
        assert "b64enc" not in path.read_text(), path.name


@pytest.mark.parametrize(
    ("file_name", "role"), [("deployment-bot.yaml", "bot"), ("deployment-service.yaml", "service")]
)
def test_deployment_runs_its_role(file_name: str, role: str) -> None:
    container = deployment(file_name)["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["tunebot"]
    args = container["args"]
    assert args[0] == "serve"
    assert args[args.index("--role") + 1] == role
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert "--port" in args


@pytest.mark.parametrize("file_name", ["deployment-bot.yaml", "deployment-service.yaml"])
def test_deployment_probes(file_name: str) -> None:
    container = deployment(file_name)["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"]["path"] == path
        assert container[probe]["httpGet"]["port"] in port_names


@pytest.mark.parametrize("file_name", ["deployment-bot.yaml", "deployment-service.yaml"])
def test_deployment_runs_as_non_root_on_a_read_only_root(file_name: str) -> None:
    pod = deployment(file_name)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # A read-only root needs writable scratch: /tmp and the data directory, both emptyDir.
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert mounts["tmp"] == "/tmp"
    assert "data" in mounts
    assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["data"]
    assert "{{ .Values.config.dataDir }}" in (TEMPLATES / file_name).read_text()


def test_values_name_a_non_root_user() -> None:
    security = load_values()["securityContext"]
    assert security["runAsUser"] != 0
    assert security["runAsGroup"] != 0


def test_only_the_service_gets_the_database_and_only_the_bot_the_slack_secrets() -> None:
    bot = (TEMPLATES / "deployment-bot.yaml").read_text()
    service = (TEMPLATES / "deployment-service.yaml").read_text()
    assert "tunebot.databaseEnv" in service and "tunebot.databaseEnv" not in bot
    assert "secrets.slack" in bot and "secrets.slack" not in service
    assert "tunebot.apiTokenEnv" in bot and "tunebot.apiTokenEnv" in service
    assert "TUNEBOT_SERVICE_URL" in bot


def test_values_reference_secrets_and_external_postgresql() -> None:
    values = load_values()
    assert values["secrets"]["slack"]["existingSecret"]
    assert values["secrets"]["api"]["existingSecret"]
    database = values["database"]
    assert {"host", "port", "name", "user", "passwordSecret", "url"} <= database.keys()
    assert {"name", "key"} <= database["passwordSecret"].keys()
    assert {"existingSecret", "key"} <= database["url"].keys()


def test_service_account_takes_irsa_annotations() -> None:
    values = load_values()
    assert isinstance(values["jobService"]["serviceAccount"]["annotations"], dict)
    assert values["bot"]["serviceAccount"]["annotations"] == {}
    accounts = skeleton(TEMPLATES / "serviceaccount.yaml")
    assert [document["kind"] for document in accounts] == ["ServiceAccount", "ServiceAccount"]


def test_ingress_routes_only_slack_events_to_the_bot() -> None:
    (ingress,) = skeleton(TEMPLATES / "ingress.yaml")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/slack/events"]
    assert paths[0]["backend"]["service"]["port"]["name"] == "http"
    assert load_values()["bot"]["ingress"]["enabled"] is False
