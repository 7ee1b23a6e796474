#!/usr/bin/env python3
"""Static checks of docker-compose.yml, for CI machines without a Docker engine.

    python3 .ci/check_compose.py [docker-compose.yml]

Parses the file with PyYAML and checks that:
  * every service has an `image` or a `build` (and a build context that exists);
  * every bind-mounted file or directory from the repository (`./deploy/...`) exists,
    and every `--config*=` path under deploy/ named in a command is mounted;
  * every named volume a service uses is declared under the top-level `volumes:`;
  * every `depends_on` target is a service of the file, with a known condition;
  * every port mapping is well formed (`[IP:]HOST:CONTAINER[/proto]`, ports 1..65535).
Also parses every YAML and JSON file under deploy/ that the stack mounts (the collector,
Prometheus and Grafana configs, the dashboards), and checks Grafana's provisioning: every
dashboard provider's path is mounted into the service that reads it, every datasource a
dashboard names is provisioned, and every query target has an expression.
Prints one line per problem and exits 1 if there is any, 0 otherwise.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PORT_RE = re.compile(
    r"^(?:(?P<ip>\[[0-9A-Fa-f:.]+\]|\d{1,3}(?:\.\d{1,3}){3}):)?"
    r"(?:(?P<host>\d+(?:-\d+)?):)?"
    r"(?P<container>\d+(?:-\d+)?)"
    r"(?:/(?P<proto>tcp|udp|sctp))?$"
)


def check_port_range(spec: str, part: str | None, problems: list[str], where: str) -> None:
    if part is None:
        return
    bounds = [int(p) for p in part.split("-")]
    if any(not 1 <= p <= 65535 for p in bounds) or (len(bounds) == 2 and bounds[0] > bounds[1]):
        problems.append(f"{where}: port {spec!r} is out of range 1..65535")


def check_ports(name: str, ports: object, problems: list[str]) -> None:
    where = f"services.{name}.ports"
    if not isinstance(ports, list):
        problems.append(f"{where}: must be a list")
        return
    for entry in ports:
        if isinstance(entry, dict):  # long syntax
            target = entry.get("target")
            if not isinstance(target, int) or not 1 <= target <= 65535:
                problems.append(f"{where}: long-syntax entry {entry!r} needs an integer target 1..65535")
            published = entry.get("published")
            if published is not None:
                m = re.fullmatch(r"\d+(?:-\d+)?", str(published))
                if not m:
                    problems.append(f"{where}: published {published!r} is not a port or range")
                else:
                    check_port_range(str(published), str(published), problems, where)
            if entry.get("protocol", "tcp") not in {"tcp", "udp", "sctp"}:
                problems.append(f"{where}: unknown protocol in {entry!r}")
            continue
        if not isinstance(entry, str):
            # An unquoted 8000:8000 is read as a base-60 integer by YAML 1.1 parsers.
            problems.append(f"{where}: {entry!r} must be a quoted string like \"8000:8000\"")
            continue
        m = PORT_RE.match(entry)
        if not m:
            problems.append(f"{where}: {entry!r} is not [IP:]HOST:CONTAINER[/proto]")
            continue
        check_port_range(entry, m.group("host"), problems, where)
        check_port_range(entry, m.group("container"), problems, where)
        if m.group("host") and "-" in m.group("host") and "-" in m.group("container"):
            h = [int(p) for p in m.group("host").split("-")]
            c = [int(p) for p in m.group("container").split("-")]
            if h[1] - h[0] != c[1] - c[0]:
                problems.append(f"{where}: {entry!r} maps ranges of different sizes")


def volume_source(entry: object) -> tuple[str | None, str]:
    """(source, type) of a service volume entry, short or long syntax."""
    if isinstance(entry, dict):
        return entry.get("source"), entry.get("type", "volume")
    if not isinstance(entry, str):
        return None, "invalid"
    parts = entry.split(":")
    if len(parts) == 1:
        return None, "anonymous"  # container path only
    source = parts[0]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return source, kind


def mounted_files(mounted: set[Path], deploy: Path) -> list[Path]:
    """Files under deploy/ the stack mounts (the bind sources, walked if directories)."""
    files: set[Path] = set()
    for target in mounted:
        if deploy not in target.parents:
            continue
        if target.is_file():
            files.add(target)
        elif target.is_dir():
            files.update(p for p in target.rglob("*") if p.is_file())
    return sorted(files)


def binds_of(svc: dict, base: Path) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (short syntax)."""
    out = {}
    for entry in svc.get("volumes") or []:
        if isinstance(entry, str) and entry.startswith((".", "/")):
            parts = entry.split(":")
            if len(parts) >= 2:
                out[parts[1]] = (base / parts[0]).resolve()
    return out


def check_grafana(services: dict, base: Path, problems: list[str]) -> None:
    """Provisioned datasources and dashboards of every service mounting /etc/grafana/provisioning."""
    for name, svc in services.items():
        binds = binds_of(svc, base) if isinstance(svc, dict) else {}
        prov = binds.get("/etc/grafana/provisioning")
        if prov is None:
            continue
        where = f"services.{name}"
        uids: set[str] = set()
        for f in sorted((prov / "datasources").glob("*.y*ml")):
            for ds in (yaml.safe_load(f.read_text()) or {}).get("datasources") or []:
                if ds.get("uid"):
                    uids.add(ds["uid"])
        if not uids:
            problems.append(f"{where}: no datasource with a uid under {prov.relative_to(ROOT)}/datasources")
        dashboards: list[Path] = []
        for f in sorted((prov / "dashboards").glob("*.y*ml")):
            for provider in (yaml.safe_load(f.read_text()) or {}).get("providers") or []:
                path = (provider.get("options") or {}).get("path", "")
                host = next((h for c, h in binds.items() if path == c or path.startswith(c + "/")), None)
                if host is None:
                    problems.append(f"{where}: dashboard provider path {path!r} is not bind-mounted")
                    continue
                host = host / Path(path).relative_to(next(c for c in binds if path == c or path.startswith(c + "/")))
                dashboards.extend(sorted(host.glob("*.json")))
        if not dashboards:
            problems.append(f"{where}: no dashboard JSON is provisioned")
        for d in dashboards:
            check_dashboard(d, uids, problems)


def check_dashboard(path: Path, uids: set[str], problems: list[str]) -> None:
    """Datasources are provisioned; every target has an expression; panel ids are unique."""
    where = str(path.relative_to(ROOT))
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        problems.append(f"{where}: invalid JSON: {e}")
        return
    if not doc.get("uid") or not doc.get("title"):
        problems.append(f"{where}: needs a uid and a title")
    ids = []
    for panel in doc.get("panels") or []:
        ids.append(panel.get("id"))
        if panel.get("type") == "row":
            continue
        for part in [panel] + list(panel.get("targets") or []):
            uid = (part.get("datasource") or {}).get("uid")
            if uid is not None and uid not in uids:
                problems.append(f"{where}: panel {panel.get('title')!r} names datasource {uid!r}, not provisioned")
        targets = panel.get("targets") or []
        if not targets or any(not str(t.get("expr", "")).strip() for t in targets):
            problems.append(f"{where}: panel {panel.get('title')!r} has a target without an expression")
    if len(ids) != len(set(ids)):
        problems.append(f"{where}: panel ids are not unique")


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docker-compose.yml"
    base = path.resolve().parent
    problems: list[str] = []
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        print(f"{path}: cannot parse: {e}")
        return 1
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict) or not doc["services"]:
        print(f"{path}: no services")
        return 1

    services: dict = doc["services"]
    declared_volumes = set((doc.get("volumes") or {}).keys())
    used_volumes: set[str] = set()
    mounted: set[Path] = set()

    for name, svc in services.items():
        where = f"services.{name}"
        if not isinstance(svc, dict):
            problems.append(f"{where}: must be a mapping")
            continue

        # image or build
        if "image" not in svc and "build" not in svc:
            problems.append(f"{where}: has neither image nor build")
        if "image" in svc and (not isinstance(svc["image"], str) or not svc["image"].strip()):
            problems.append(f"{where}.image: must be a non-empty string")
        if "build" in svc:
            build = svc["build"]
            context = build if isinstance(build, str) else (build or {}).get("context", ".")
            ctx = (base / context).resolve()
            if not ctx.is_dir():
                problems.append(f"{where}.build: context {context!r} does not exist")
            else:
                dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
                if not (ctx / dockerfile).is_file():
                    problems.append(f"{where}.build: {dockerfile!r} not found in {context!r}")

        # volumes: bind sources exist, named volumes declared
        for entry in svc.get("volumes") or []:
            source, kind = volume_source(entry)
            if kind == "invalid":
                problems.append(f"{where}.volumes: {entry!r} is not a string or mapping")
            elif kind == "bind" and source:
                target = (base / Path(source).expanduser()).resolve()
                mounted.add(target)
                if not target.exists():
                    problems.append(f"{where}.volumes: bind source {source!r} does not exist")
            elif kind == "volume" and source:
                used_volumes.add(source)
                if source not in declared_volumes:
                    problems.append(f"{where}.volumes: named volume {source!r} is not declared under top-level volumes")

        # depends_on targets exist (list or mapping form)
        deps = svc.get("depends_on") or []
        items = deps.items() if isinstance(deps, dict) else ((d, None) for d in deps)
        for dep, spec in items:
            if dep not in services:
                problems.append(f"{where}.depends_on: {dep!r} is not a service")
            elif dep == name:
                problems.append(f"{where}.depends_on: depends on itself")
            if isinstance(spec, dict) and spec.get("condition", "service_started") not in CONDITIONS:
                problems.append(f"{where}.depends_on.{dep}: unknown condition {spec.get('condition')!r}")
            if isinstance(spec, dict) and spec.get("condition") == "service_healthy":
                target = services.get(dep) or {}
                if "healthcheck" not in target and "build" not in target:
                    problems.append(f"{where}.depends_on.{dep}: service_healthy but {dep} has no healthcheck")

        if "ports" in svc:
            check_ports(name, svc["ports"], problems)

        # config files named on the command line must be mounted from deploy/
        command = svc.get("command") or []
        if isinstance(command, str):
            command = command.split()
        for arg in command:
            m = re.match(r"--config(?:\.file)?=(.+)", str(arg))
            if m:
                container_path = m.group(1)
                binds = [
                    e for e in (svc.get("volumes") or [])
                    if isinstance(e, str) and e.split(":")[1:2] == [container_path]
                ]
                if not binds:
                    problems.append(f"{where}.command: {container_path} is not bind-mounted into the container")

    # every config file under deploy/ that the stack references exists and parses
    deploy = ROOT / "deploy"
    config_files = mounted_files(mounted, deploy)
    for target in config_files:
        try:
            if target.suffix in {".yml", ".yaml"}:
                yaml.safe_load(target.read_text())
            elif target.suffix == ".json":
                json.loads(target.read_text())
        except (yaml.YAMLError, json.JSONDecodeError) as e:
            problems.append(f"{target.relative_to(ROOT)}: invalid {target.suffix[1:].upper()}: {e}")
    check_grafana(services, base, problems)
    for unused in sorted(declared_volumes - used_volumes):
        problems.append(f"volumes.{unused}: declared but used by no service")

    for p in problems:
        print(f"{path.name}: {p}")
    if problems:
        return 1
    print(
        f"{path.name}: OK ({len(services)} services: {', '.join(services)}; "
        f"volumes: {', '.join(sorted(declared_volumes)) or 'none'}; "
        f"{len(config_files)} config files under deploy/)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
