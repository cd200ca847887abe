"""Master-key providers: where the keys live that wrap file data keys and derive the column (field) keys.

``KONSIL_KEY_PROVIDER`` picks one (docs/security.md, "Keys"):

- ``file`` (the embedded default): ``KONSIL_HOME/master_keys`` ("id:base64,..."), created 0600 on first start.
- ``env``: ``KONSIL_MASTER_KEYS`` in the environment (injected by a secret manager); ``KONSIL_MASTER_KEY_ID`` names
  the current one. Konsil refuses to start when it is missing rather than invent a key.
- ``vault``: HashiCorp Vault Transit. The master key never leaves Vault: data keys are wrapped by
  ``transit/encrypt`` and unwrapped by ``transit/decrypt``; a field key is ``transit/hmac`` of a fixed label under
  one key version, asked once per process and version. Key ids read ``<transit key>.v<version>``; after
  ``vault write -f transit/keys/<key>/rotate`` a ``konsil keys rotate`` moves every value to the latest version.

Every provider answers the same five questions, so crypto.py, fields.py and keys.py never ask which one is in use.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
from abc import ABC, abstractmethod

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """The ciphertext or its wrapped key does not authenticate (tampered, or the wrong key)."""


class KeyUnavailable(DecryptionError):
    """A master key is not configured, or the provider cannot be reached; the message says which."""


class KeyProvider(ABC):
    """What Konsil needs from a key store: the current key id, the ids still readable, wrap, unwrap, derive."""

    name = "abstract"

    @abstractmethod
    def current_key_id(self) -> str:
        """The key new values are sealed under."""

    @abstractmethod
    def key_ids(self) -> list[str]:
        """Every key id that can still open values (the current one included)."""

    @abstractmethod
    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        """`data_key` sealed under master key `key_id`."""

    @abstractmethod
    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        """The inverse of `wrap`; crypto.DecryptionError when it does not authenticate."""

    @abstractmethod
    def derive(self, key_id: str, purpose: bytes) -> bytes:
        """32 bytes that depend only on the master key `key_id` and `purpose` (field keys, blind-index keys)."""


@functools.lru_cache(maxsize=64)
def _hkdf(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class StaticKeyProvider(KeyProvider):
    """Master keys held by the process (from the key file or the environment); read from settings on each use."""

    def __init__(self, name: str):
        self.name = name

    def _master(self, key_id: str) -> bytes:
        try:
            return settings.KONSIL_MASTER_KEYS[key_id]
        except KeyError:
            raise KeyUnavailable(f"master key {key_id!r} is not configured") from None

    def current_key_id(self) -> str:
        return settings.KONSIL_MASTER_KEY_ID

    def key_ids(self) -> list[str]:
        return sorted(settings.KONSIL_MASTER_KEYS)

    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        from .crypto import seal

        return seal(AESGCM(self._master(key_id)), data_key, key_id.encode())

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        from .crypto import unseal

        return unseal(AESGCM(self._master(key_id)), wrapped, key_id.encode())

    def derive(self, key_id: str, purpose: bytes) -> bytes:
        return _hkdf(self._master(key_id), purpose)


class VaultTransitProvider(KeyProvider):
    """HashiCorp Vault's Transit engine through hvac; the key's versions are Konsil's key ids."""

    name = "vault"
    LATEST_TTL = 60.0  # seconds a looked-up latest version is trusted before asking Vault again

    def __init__(self, *, url: str, token: str, key: str, mount: str = "transit", namespace: str | None = None,
                 verify: bool | str = True, timeout: float = 10.0):
        import hvac

        if not url or not token:
            raise ImproperlyConfigured("KONSIL_KEY_PROVIDER=vault needs KONSIL_VAULT_ADDR and KONSIL_VAULT_TOKEN")
        self.key, self.mount = key, mount
        self.client = hvac.Client(url=url, token=token, namespace=namespace or None, verify=verify, timeout=timeout)
        self._lock = threading.Lock()
        self._derived: dict[tuple[int, bytes], bytes] = {}
        self._versions: tuple[float, int, int] | None = None  # (fetched at, min decryption version, latest)

    # -- key ids ---------------------------------------------------------------------------------------------------
    def _version(self, key_id: str) -> int:
        name, sep, version = key_id.rpartition(".v")
        if not sep or name != self.key or not version.isdigit():
            raise KeyUnavailable(f"master key {key_id!r} is not a version of Vault transit key {self.key!r}")
        return int(version)

    def _key_id(self, version: int) -> str:
        return f"{self.key}.v{version}"

    def _call(self, fn, *args, **kwargs):
        import hvac.exceptions
        import requests

        try:
            return fn(*args, mount_point=self.mount, **kwargs)["data"]
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise KeyUnavailable(f"Vault transit key {self.key!r}: {type(exc).__name__}") from None

    def _version_range(self) -> tuple[int, int]:
        with self._lock:
            if self._versions is None or time.monotonic() - self._versions[0] > self.LATEST_TTL:
                data = self._call(self.client.secrets.transit.read_key, name=self.key)
                self._versions = (time.monotonic(), int(data.get("min_decryption_version") or 1),
                                  int(data["latest_version"]))
            return self._versions[1], self._versions[2]

    def current_key_id(self) -> str:
        return self._key_id(self._version_range()[1])

    def key_ids(self) -> list[str]:
        low, high = self._version_range()
        return [self._key_id(v) for v in range(low, high + 1)]

    # -- operations ------------------------------------------------------------------------------------------------
    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        data = self._call(self.client.secrets.transit.encrypt_data, name=self.key,
                          plaintext=base64.b64encode(data_key).decode(), key_version=self._version(key_id))
        return data["ciphertext"].encode()

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        version = self._version(key_id)
        text = bytes(wrapped).decode("ascii", "replace")
        if not text.startswith(f"vault:v{version}:"):  # a wrapped key moved from another version's row
            raise DecryptionError("the wrapped key does not belong to its key id")
        import hvac.exceptions

        try:
            data = self.client.secrets.transit.decrypt_data(name=self.key, ciphertext=text,
                                                            mount_point=self.mount)["data"]
        except hvac.exceptions.InvalidRequest:
            raise DecryptionError("authentication failed") from None
        except Exception as exc:  # noqa: BLE001 - the network, Vault down or sealed: said as unavailable
            raise KeyUnavailable(f"Vault transit key {self.key!r}: {type(exc).__name__}") from None
        return base64.b64decode(data["plaintext"])

    def derive(self, key_id: str, purpose: bytes) -> bytes:
        version = self._version(key_id)
        cached = self._derived.get((version, purpose))
        if cached is None:
            data = self._call(self.client.secrets.transit.generate_hmac, name=self.key, key_version=version,
                              hash_input=base64.b64encode(purpose).decode(), algorithm="sha2-256")
            prefix, _sep, mac = data["hmac"].rpartition(":")
            if prefix != f"vault:v{version}":
                raise KeyUnavailable(f"Vault answered for {prefix!r}, not version {version}")
            cached = self._derived[(version, purpose)] = base64.b64decode(mac)
        return cached


_providers: dict[tuple, KeyProvider] = {}


def provider() -> KeyProvider:
    """The configured provider (one per configuration, so tests and `konsil keys` can switch settings)."""
    kind = getattr(settings, "KONSIL_KEY_PROVIDER", "file")
    vault = getattr(settings, "KONSIL_VAULT", {}) if kind == "vault" else {}
    config = (kind, tuple(sorted(vault.items())))
    found = _providers.get(config)
    if found is None:
        if kind in ("file", "env"):
            found = StaticKeyProvider(kind)
        elif kind == "vault":
            found = VaultTransitProvider(**vault)
        else:
            raise ImproperlyConfigured(f"KONSIL_KEY_PROVIDER must be file, env or vault, not {kind!r}")
        _providers[config] = found
    return found
