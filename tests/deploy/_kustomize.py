"""Render a kustomization the way `kustomize build` does, for the subset trk's k8s/ uses.

No kubectl or kustomize binary runs here. Supported: `resources` (files and directories),
`patches` (strategic merge by kind and name; lists of named items merge by name), `labels`
(metadata only) and `images`. Any other key fails loudly rather than being ignored.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "labels", "images"}


def render(directory: Path) -> list[dict[str, Any]]:
    """Every object the kustomization in `directory` produces."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}: kustomization keys not rendered here: {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects += render(path)
        else:
            objects += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in spec.get("patches", []):
        apply_patch(objects, yaml.safe_load((directory / patch["path"]).read_text()))
    for group in spec.get("labels", []):
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(group["pairs"])
    for image in spec.get("images", []):
        set_image(objects, image)
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of this kind and name."""
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KeyError(f"no {kind}/{name}")


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any]) -> None:
    """Strategic-merge `patch` into the object it names; a patch that matches nothing fails."""
    target = find(objects, patch["kind"], patch["metadata"]["name"])
    merged = merge(target, patch)
    target.clear()
    target.update(merged)


def merge(base: Any, patch: Any) -> Any:
    """Dicts merge by key; lists of dicts with a `name` merge by name; anything else replaces."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        out = copy.deepcopy(base)
        index = {item["name"]: i for i, item in enumerate(out)}
        for item in patch:
            if item.get("$patch") == "delete":  # strategic merge's removal of a named item
                out = [kept for kept in out if kept["name"] != item["name"]]
                index = {kept["name"]: i for i, kept in enumerate(out)}
            elif item["name"] in index:
                out[index[item["name"]]] = merge(out[index[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return all(isinstance(i, dict) and "name" in i for i in items)


def set_image(objects: list[dict[str, Any]], image: dict[str, str]) -> None:
    """The `images:` transformer: rewrite container images called image['name']."""
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            if container["image"].split(":")[0] == image["name"]:
                name = image.get("newName", image["name"])
                container["image"] = f"{name}:{image['newTag']}" if "newTag" in image else name
