"""What pip's (and pipenv's) own configuration says about local artifacts.

Read-only and standard library only: the ``find-links`` directories pip is
configured with, and the cache directories pip and pipenv keep their HTTP
caches in. pip's rules, as ``pip/_internal/configuration.py`` applies them:

* files, later ones winning key by key: the global ones
  (``$XDG_CONFIG_DIRS/pip/pip.conf``, default ``/etc/xdg/pip/pip.conf``, then
  ``/etc/pip.conf``), the user's (``~/.pip/pip.conf``, then
  ``$XDG_CONFIG_HOME/pip/pip.conf``; skipped when ``PIP_CONFIG_FILE`` names an
  existing file), then ``$PIP_CONFIG_FILE``; ``PIP_CONFIG_FILE=/dev/null``
  loads none at all (that is how pipenv switches them off);
* in each file ``[global]``, then the command's section (``[install]``);
* then the environment: ``PIP_FIND_LINKS``, ``PIP_INDEX_URL``,
  ``PIP_EXTRA_INDEX_URL``, ``PIP_CACHE_DIR`` (a variable that is set replaces
  the files' value, as pip's ``ConfigOptionParser`` applies it).

``find-links`` values are whitespace-separated: local directories (plain paths
or ``file://`` URLs) are :func:`find_links_dirs`, ``http(s)://`` pages are
:func:`find_links_urls` (remote mirrors, ``store/mirrors.py``).
``index-url`` and ``extra-index-url`` are :func:`index_urls`.
"""

from __future__ import annotations

import configparser
import os
import sys
import urllib.parse
from collections.abc import Mapping
from pathlib import Path


def config_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """pip's configuration files in the order they are applied (later wins)."""
    env = os.environ if env is None else env
    env_file = env.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    home = Path(env.get("HOME") or Path.home())
    xdg_dirs = [d for d in env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep) if d]
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs] + [Path("/etc/pip.conf")]
    if not (env_file and os.path.exists(env_file)):
        xdg_home = env.get("XDG_CONFIG_HOME") or str(home / ".config")
        files += [home / ".pip" / "pip.conf", Path(xdg_home) / "pip" / "pip.conf"]
    if env_file:
        files.append(Path(env_file))
    return files


def pip_settings(section: str = "install", env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every ``key = value`` pip would apply for ``section``, from its files (not the environment)."""
    settings: dict[str, str] = {}
    for path in config_files(env):
        parser = configparser.RawConfigParser()
        try:
            with path.open(encoding="utf-8") as f:
                parser.read_file(f)
        except (OSError, UnicodeDecodeError, configparser.Error):
            continue
        for name in ("global", section):
            if parser.has_section(name):
                for key, value in parser.items(name):
                    settings[key.replace("_", "-")] = value
    return settings


def _configured(key: str, variable: str, env: Mapping[str, str]) -> list[str]:
    """The whitespace-separated values of ``key``: ``$variable`` when set, else pip.conf's."""
    raw = env.get(variable)
    if raw is None:
        raw = pip_settings("install", env).get(key, "")
    return raw.split()


def _remote(item: str) -> bool:
    scheme = urllib.parse.urlsplit(item).scheme
    return len(scheme) > 1 and scheme != "file"  # "C:" is a drive, not a scheme


def find_links_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Local directories of pip's ``find-links`` (``PIP_FIND_LINKS`` wins over pip.conf)."""
    env = os.environ if env is None else env
    dirs: list[Path] = []
    for item in _configured("find-links", "PIP_FIND_LINKS", env):
        if _remote(item):  # a page of links: find_links_urls
            continue
        path = local_path(item, env)
        if path not in dirs:
            dirs.append(path)
    return dirs


def find_links_urls(env: Mapping[str, str] | None = None) -> list[str]:
    """Remote (``http(s)://``) pages of pip's ``find-links``, in order, without repeats."""
    env = os.environ if env is None else env
    return list(dict.fromkeys(item for item in _configured("find-links", "PIP_FIND_LINKS", env) if _remote(item)))


def index_urls(env: Mapping[str, str] | None = None) -> tuple[str | None, list[str]]:
    """pip's ``index-url`` (one, ``PIP_INDEX_URL`` first) and ``extra-index-url`` (any number)."""
    env = os.environ if env is None else env
    index = _configured("index-url", "PIP_INDEX_URL", env)
    return (index[0] if index else None), _configured("extra-index-url", "PIP_EXTRA_INDEX_URL", env)


def local_path(item: str, env: Mapping[str, str] | None = None) -> Path:
    """A plain path (``~`` expanded) or a ``file://`` URL as the path it names."""
    env = os.environ if env is None else env
    if urllib.parse.urlsplit(item).scheme == "file":
        # Not urllib.request at module level: it loads http.client, email and ssl (~35 ms) into every
        # sync, which reads pip's configuration while parsing its options.
        from urllib.request import url2pathname

        return Path(url2pathname(urllib.parse.urlsplit(item).path))
    return _expand_user(item, env)


def _expand_user(value: str, env: Mapping[str, str]) -> Path:
    if value == "~" or value.startswith("~/"):
        return Path(env.get("HOME") or Path.home()) / value[2:]
    return Path(os.path.expanduser(value))


def _user_cache_dir(app: str, env: Mapping[str, str]) -> Path:
    """platformdirs' ``user_cache_dir(app)``, which pip and pipenv both use."""
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / app
    if os.name == "nt":  # pragma: no cover - this tool is tested on POSIX
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / app / "Cache" if app == "pip" else base / app / app / "Cache"
    return Path(env.get("XDG_CACHE_HOME") or home / ".cache") / app


def pip_cache_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """pip's cache directory: ``PIP_CACHE_DIR``, pip.conf's ``cache-dir``, else the platform default."""
    env = os.environ if env is None else env
    value = env.get("PIP_CACHE_DIR")
    if value is None:
        settings = pip_settings("install", env)
        if settings.get("no-cache-dir", "").strip().lower() in ("1", "true", "yes", "on"):
            return None
        value = settings.get("cache-dir")
    return _expand_user(value, env) if value else _user_cache_dir("pip", env)


def pipenv_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """pipenv's cache (``PIPENV_CACHE_DIR``): pipenv runs pip with it as pip's cache directory."""
    env = os.environ if env is None else env
    value = env.get("PIPENV_CACHE_DIR")
    return _expand_user(value, env) if value else _user_cache_dir("pipenv", env)


def http_cache_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """The cache roots to look for pip HTTP caches in: pip's own, then pipenv's (deduplicated)."""
    roots: list[Path] = []
    for root in (pip_cache_dir(env), pipenv_cache_dir(env)):
        if root is not None and root not in roots:
            roots.append(root)
    return roots


def pip_cert(env: Mapping[str, str] | None = None) -> str | None:
    """The CA bundle pip is told to trust: ``PIP_CERT``, else pip.conf's ``cert`` (store/tls.py decides the rest)."""
    env = os.environ if env is None else env
    value = env.get("PIP_CERT") or pip_settings("install", env).get("cert")
    return str(_expand_user(value.strip(), env)) if value and value.strip() else None
