# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_conformance.kubernetes contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references rewritten for a registry mirror: the one implementation behind the
``ai_conformance.kubernetes.mirror`` filter (roles) and the probes' ``image_registry`` and
``image_registry_map`` options (``Probe`` wraps its client in ``MirroredClient``).

The rule (docs/air-gapped.md): an image reference is ``[oci://]<host>/<path>[:tag][@digest]``.
The host is the first component when it contains ``.`` or ``:`` or is ``localhost`` (the rule of
Docker and containerd); otherwise the image is on Docker Hub (host ``docker.io``), and a
one-component name is under ``library/``.  ``index.docker.io`` and ``registry-1.docker.io`` count as
``docker.io``.  The rewritten reference is ``<target>/<path>[:tag][@digest]`` where ``target`` is
``registry_map[host]`` when the map names the host, else ``prefix``; with neither the reference
is returned unchanged, and so is a reference already under its target.

    nvcr.io/nvidia/cuda:12.9.1-base   -> mirror.example.com/nvidia/cuda:12.9.1-base
    rayproject/ray:2.46.0             -> mirror.example.com/rayproject/ray:2.46.0
    busybox:1.36                      -> mirror.example.com/library/busybox:1.36
    oci://registry.k8s.io/kueue/charts/kueue -> oci://mirror.example.com/kueue/charts/kueue
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import copy
import re
from typing import Any

DOCKER_HUB = "docker.io"
_DOCKER_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_OCI = "oci://"
# host[:port][/path]: a registry and an optional repository path under it (no tag, no scheme).
_TARGET = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._/-]+[a-z0-9]+)*)?$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?$")
# Object keys whose string value is a container image (Pod containers, Ray and Trainer specs).
IMAGE_KEYS = frozenset({"image"})
# How a bad value is named: the probes' options, the filter's arguments and the play's variables.
PROBE_NAMES = ("image_registry", "image_registry_map")
PLAY_NAMES = ("conformance_image_registry", "conformance_image_registry_map")
FILTER_NAMES = ("prefix", "registry_map")


def split(ref: str) -> tuple[str, str, str]:
    """(scheme, registry host, path with tag/digest) of an image or OCI chart reference."""
    scheme = _OCI if ref.startswith(_OCI) else ""
    rest = ref[len(scheme) :]
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if first.lower() in _DOCKER_ALIASES:
            # docker.io/nginx is docker.io/library/nginx, as Docker and containerd read it.
            return scheme, DOCKER_HUB, remainder if "/" in remainder else "library/" + remainder
        return scheme, first, remainder
    return scheme, DOCKER_HUB, rest if sep else "library/" + rest


def _clean_target(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError("%s must be a string such as mirror.example.com/ai (got %s)" % (what, type(value).__name__))
    target = value.strip()
    target = target[len(_OCI) :] if target.startswith(_OCI) else target
    target = target.rstrip("/")
    if not _TARGET.match(target):
        raise ValueError("%s must be host[:port][/path] without a scheme, tag or digest, such as mirror.example.com/ai (got %r)" % (what, value))
    return target


class Mirror:
    """A validated prefix and per-host map; ``image(ref)`` rewrites one reference and remembers it."""

    def __init__(self, prefix: str | None = "", registry_map: dict[str, Any] | None = None, names: tuple[str, str] = PROBE_NAMES) -> None:
        self.prefix = _clean_target(prefix, names[0]) if prefix else ""
        if registry_map is not None and not isinstance(registry_map, dict):
            kind = type(registry_map).__name__
            raise ValueError("%s must be a mapping of registry host to mirror, such as {nvcr.io: mirror.example.com/nvcr} (got %s)" % (names[1], kind))
        self.map: dict[str, str] = {}
        for host, target in sorted((registry_map or {}).items(), key=lambda kv: str(kv[0])):
            if not isinstance(host, str) or not _HOST.match(host):
                raise ValueError("%s keys must be registry hosts such as nvcr.io or docker.io (got %r)" % (names[1], host))
            key = DOCKER_HUB if host.lower() in _DOCKER_ALIASES else host
            self.map[key] = _clean_target(target, "%s[%s]" % (names[1], host))
        self.rewritten: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return bool(self.prefix or self.map)

    def target(self, host: str) -> str:
        return self.map.get(host) or self.prefix

    def image(self, ref: Any) -> Any:
        """``ref`` rewritten by the rule (module docstring); anything but a non-empty string is returned as is."""
        if not isinstance(ref, str) or not ref.strip() or not self.active:
            return ref
        scheme, host, path = split(ref.strip())
        target = self.target(host)
        bare = ref.strip()[len(scheme) :]
        if not target or bare.startswith(target + "/"):
            return ref
        out = "%s%s/%s" % (scheme, target, path)
        self.rewritten[ref] = out
        return out

    def registry(self, location: Any) -> Any:
        """A chart's registry or repository prefix (``docker.io``, ``nvcr.io/nvidia``: always host
        first, no tag) under its target: ``<target>[/<path>]``; unchanged as ``image`` is."""
        if not isinstance(location, str) or not location.strip() or not self.active:
            return location
        bare = location.strip().rstrip("/")
        first, _sep, path = bare.partition("/")
        target = self.target(DOCKER_HUB if first.lower() in _DOCKER_ALIASES else first)
        if not target or bare == target or bare.startswith(target + "/"):
            return location
        out = target + ("/" + path if path else "")
        self.rewritten[location] = out
        return out

    def rewrite_object(self, obj: Any) -> Any:
        """A deep copy of a Kubernetes object (or patch) with every string under an ``image`` key
        rewritten (containers, init and ephemeral containers of any pod template, Ray and Trainer
        specs); the object itself is not changed."""
        if not self.active:
            return obj
        return self._walk(copy.deepcopy(obj))

    def _walk(self, node: Any) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in IMAGE_KEYS and isinstance(value, str):
                    node[key] = self.image(value)
                else:
                    self._walk(value)
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, dict) and str(item.get("path", "")).endswith("/image") and isinstance(item.get("value"), str):
                    item["value"] = self.image(item["value"])  # a JSON patch operation
                else:
                    self._walk(item)
        return node

    def to_dict(self) -> dict[str, Any]:
        """What the probe records in ``observations.image_mirror``."""
        return {"prefix": self.prefix, "map": dict(self.map), "rewritten": dict(sorted(self.rewritten.items()))}


def mirror_registry(location: Any, prefix: str | None = "", registry_map: dict[str, Any] | None = None, names: tuple[str, str] = FILTER_NAMES) -> Any:
    """A registry or repository prefix rewritten (the ``mirror_registry`` filter's function)."""
    return Mirror(prefix, registry_map, names).registry(location)


def mirror(ref: Any, prefix: str | None = "", registry_map: dict[str, Any] | None = None, names: tuple[str, str] = FILTER_NAMES) -> Any:
    """One reference rewritten (the filter's function); ValueError names a bad prefix or map."""
    return Mirror(prefix, registry_map, names).image(ref)


class MirroredClient:
    """A probe's client whose ``create`` and ``patch`` send their objects with every image
    rewritten by ``mirror``; every other attribute is the wrapped client's."""

    def __init__(self, client: Any, mirror_: Mirror) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_mirror", mirror_)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._client.create(self._mirror.rewrite_object(obj))

    def patch(self, api_version: str, kind: str, name: str, patch: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._client.patch(api_version, kind, name, self._mirror.rewrite_object(patch), *args, **kwargs)


def mirrored(client: Any, mirror_: Mirror) -> Any:
    """``client`` itself when no mirror is set, else wrapped in ``MirroredClient``."""
    return MirroredClient(client, mirror_) if mirror_.active else client
