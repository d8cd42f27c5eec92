"""Render pulumi-kubernetes yaml/v2 ConfigFile and ConfigGroup components offline: their objects join the inventory
as the provider would register them, so every check judges them like any other object.

pulumi-kubernetes v4.32.0 provider/pkg/provider/yaml/v2: ConfigFile parses `file` (a local path or URL),
ConfigGroup `files` (globs), `yaml` (one string or a list) and `objs`; objects without a namespace get the
provider's default namespace ("default" here); each object is a resource named `<resourcePrefix>:<ns>/<name>`
(prefix: the component's name unless given; yaml.go `register`), a child of the component (configfile.go /
configgroup.go: `pulumi.Parent(comp)`). A URL, an unknown input or an unreadable file leaves the component
unrendered (reported).
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import yaml

from .inventory import ResourceRecord

CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
YAML_TYPES = (CONFIG_FILE, CONFIG_GROUP)


class Unrenderable(Exception):
    """Why the component's objects cannot be known offline."""


def _documents(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(d for d in doc["items"] if isinstance(d, dict))
        elif isinstance(doc, dict) and doc:
            out.append(doc)
    return out


def _read(path: str, base: Path) -> list[dict[str, Any]]:
    if "://" in path:
        raise Unrenderable(f"{path} is a URL (not fetched offline)")
    pattern = path if Path(path).is_absolute() else str(base / path)
    found = sorted(glob.glob(pattern)) or [pattern]
    objects = []
    for name in found:
        try:
            objects += _documents(Path(name).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise Unrenderable(f"{path}: {exc}") from exc
    return objects


def yaml_objects(record: ResourceRecord, base: Path) -> list[dict[str, Any]]:
    """The objects of a ConfigFile or ConfigGroup, as the provider parses them."""
    inputs = record.inputs
    if record.type == CONFIG_FILE:
        file = inputs.get("file")
        if not isinstance(file, str):
            raise Unrenderable("`file` is not known")
        return _read(file, base)
    objects: list[dict[str, Any]] = []
    for file in inputs.get("files") or []:
        if not isinstance(file, str):
            raise Unrenderable("a `files` entry is not known")
        objects += _read(file, base)
    texts = inputs.get("yaml")
    for text in [texts] if isinstance(texts, str) else texts or []:
        if not isinstance(text, str):
            raise Unrenderable("a `yaml` entry is not known")
        objects += _documents(text)
    for obj in inputs.get("objs") or []:
        if not isinstance(obj, dict):
            raise Unrenderable("an `objs` entry is not known")
        objects.append(obj)
    return objects
