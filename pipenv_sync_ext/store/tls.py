"""Which CA certificates verify an index's TLS certificate, as pip and requests are told.

Decision (first that is set wins; one file replaces the system store, as pip's
``--cert`` does):

1. ``PIP_CERT``, then pip.conf's ``cert`` (``[global]`` or ``[install]``): this
   tool reads pip's settings, and pipenv passes them on to pip;
2. ``REQUESTS_CA_BUNDLE``, then ``CURL_CA_BUNDLE``: what requests (so pip and
   pipenv) reads from the environment;
3. otherwise the system store through OpenSSL's default paths, which honour
   ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``.

pip itself lets ``REQUESTS_CA_BUNDLE`` win over ``--cert`` (requests' session
merging, pypa/pip#10147, reported as a bug); here the setting made for pip
wins, being the more specific. Standard library only: read before urllib3 is
imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pipenv_sync_ext.store.pipconfig import pip_cert


@dataclass(frozen=True)
class CAChoice:
    cafile: str | None  # None: the system store (SSL_CERT_FILE / SSL_CERT_DIR as OpenSSL reads them)
    origin: str  # where the choice came from, for messages


def ca_choice(env: Mapping[str, str] | None = None) -> CAChoice:
    env = os.environ if env is None else env
    cert = pip_cert(env)
    if cert:
        return CAChoice(cert, "PIP_CERT" if env.get("PIP_CERT") else "pip.conf cert")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(name):
            return CAChoice(env[name], name)
    return CAChoice(None, "the system store")
