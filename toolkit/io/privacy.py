"""Client privacy: keyed pseudonyms for personal columns, and where the key may come from.

Personal data (contact names, e-mail addresses, phone numbers, and the owner of a deal, whose results
are sensitive employee data) is replaced on load by a pseudonym ``P-<10 hex>``: an HMAC-SHA256 of the
value under a secret key. The same person gets the same pseudonym in every run with the same key, so
segment scans and owner alerts still work, but without the key nobody can test a guessed name
against a pseudonym (a plain or salted hash with a salt from the repository can be reversed by hashing
the staff list).

The key never comes from the repository, nor from anywhere else others can read: a well-known
environment variable (PATH, HOME, ...), a file of the system (/etc/passwd) or a file of another
user that everyone may read are refused, as is a key too short or too regular to be secret (fewer
than 16 characters, or under 64 bits by its characters' entropy). In this order:

1. the environment variable named by ``privacy.key_env`` (default ``FUNNEL_KEY``);
2. the file ``privacy.key_file``, which must lie outside any git work tree or be git-ignored;
3. a per-user key file, created once with a random key at
   ``$XDG_CONFIG_HOME/funnel-toolkit/pseudonymisation.key`` (``~/.config/...``), readable only by its
   owner. Pseudonyms then match across the user's engagements but not across machines: a team that
   shares results sets ``FUNNEL_KEY`` (or a shared ``key_file``) instead.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import stat
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from toolkit.base.exceptions import ConfigError
from toolkit.io.limits import LimitError, check_regular_file, read_limited

__all__ = ["PrivacyConfig", "PseudonymKey", "resolve_key", "pseudonymise", "personal_columns",
           "check_personal", "tracked_by_git",
           "user_key_file"]

_MIN_KEY_CHARS = 16
_MIN_KEY_BITS = 64  # the key's length times the entropy of its characters' frequencies
_MAX_KEY_FILE_BYTES = 64 * 1024
# Environment variables every process of the machine (or every user) can see or guess: a key taken
# from one would let anybody recompute the pseudonyms.
_WELL_KNOWN_ENV = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "USERNAME", "SHELL", "PWD", "OLDPWD", "LANG", "LANGUAGE",
    "TERM", "HOSTNAME", "HOST", "TMPDIR", "TMP", "TEMP", "MAIL", "EDITOR", "VISUAL", "PAGER",
    "DISPLAY", "SHLVL", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "JAVA_HOME",
    "MANPATH", "LD_LIBRARY_PATH", "TZ", "COLORTERM", "TERM_PROGRAM", "SSH_CONNECTION",
    "SSH_CLIENT", "SSH_TTY", "SSH_AUTH_SOCK", "WSL_DISTRO_NAME", "OS", "COMPUTERNAME",
    "USERPROFILE", "APPDATA", "LOCALAPPDATA", "PROGRAMFILES", "SYSTEMROOT", "WINDIR", "PWSH",
    "PS1", "_", "INFOPATH", "DBUS_SESSION_BUS_ADDRESS"})
_WELL_KNOWN_PREFIXES = ("LC_", "XDG_", "GIT_", "npm_", "JUPYTER", "VSCODE_", "KERNEL_")
_MAKE_KEY = "python -c \"import secrets; print(secrets.token_hex(32))\""


class PrivacyConfig(BaseModel):
    """The `privacy:` section of an engagement YAML."""

    model_config = ConfigDict(extra="forbid")

    key_env: str = "FUNNEL_KEY"
    key_file: str | None = None
    # Owner-level results are employee performance data: pseudonymised unless the engagement says
    # (with the client's consent) that names may be shown.
    owner_names: Literal["pseudonymise", "show"] = "pseudonymise"


@dataclass(frozen=True)
class PseudonymKey:
    """The secret key and where it came from (shown by `funnel validate`, never the key itself)."""

    secret: bytes
    origin: str

    @property
    def fingerprint(self) -> str:
        """A one-way tag of the key, e.g. for cache keys: changes when the key changes."""
        return hmac.new(self.secret, b"funnel-toolkit key fingerprint", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the secret
        return f"PseudonymKey(origin={self.origin!r})"


def user_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "funnel-toolkit" / "pseudonymisation.key"


def _entropy_bits(text: str) -> float:
    """The key's length times the Shannon entropy of its characters' frequencies: 0 for
    `aaaaaaaaaaaaaaaa`, 44 for `passwordpassword`, 256 for 64 random hex digits."""
    counts = Counter(text)
    return -sum(n * math.log2(n / len(text)) for n in counts.values())


def _well_known(name: str) -> bool:
    return name.upper() in _WELL_KNOWN_ENV or name.upper().startswith(
        tuple(p.upper() for p in _WELL_KNOWN_PREFIXES))


def _checked(text: str, *, where: str, engagement_file: str, key: str) -> bytes:
    text = text.strip()
    if len(text) < _MIN_KEY_CHARS:
        raise ConfigError(
            f"the pseudonymisation key from {where} is {len(text)} characters; a short key lets anyone "
            f"with the staff list recover names by trying them", file=engagement_file, key=key,
            fix=f"use at least {_MIN_KEY_CHARS} random characters, e.g. the output of {_MAKE_KEY}")
    if _entropy_bits(text) < _MIN_KEY_BITS:
        raise ConfigError(
            f"the pseudonymisation key from {where} repeats a few characters (about "
            f"{_entropy_bits(text):.0f} bits), so anyone could guess it and recover names",
            file=engagement_file, key=key,
            fix=f"use a random key, e.g. the output of {_MAKE_KEY}")
    shared = sorted(name for name, value in os.environ.items()
                    if _well_known(name) and value.strip() == text)
    if shared:
        raise ConfigError(
            f"the pseudonymisation key from {where} is the value of the environment variable "
            f"{shared[0]}, which every program on the machine can read", file=engagement_file,
            key=key, fix=f"use a random key of its own, e.g. the output of {_MAKE_KEY}")
    return text.encode()


def _key_file_text(path: Path, *, engagement_file: str) -> str:
    """The text of a key file that only its owner (and the owner's group) may read: never a file
    of the system or a file of another user that everybody can read (/etc/passwd), never a pipe
    or a device, never more than 64 KB."""
    try:
        check_regular_file(path, limit=_MAX_KEY_FILE_BYTES, what="key file")
        info = path.stat()
        if info.st_mode & stat.S_IROTH and info.st_uid != getattr(os, "getuid", lambda: -1)():
            raise LimitError("the key file belongs to another user and everybody may read it, so "
                             "it is no secret", f"make a key of your own: `{_MAKE_KEY} > key` "
                                                "then `chmod 600 key`")
        return read_limited(path, limit=_MAX_KEY_FILE_BYTES, what="key file").decode("utf-8")
    except LimitError as exc:
        raise ConfigError(f"{exc} ({path})", file=engagement_file, key="privacy.key_file",
                          fix=exc.fix) from None
    except UnicodeDecodeError:
        raise ConfigError(f"the key file {path} is not text", file=engagement_file,
                          key="privacy.key_file", fix=f"write a key made by {_MAKE_KEY} into it"
                          ) from None


def tracked_by_git(path: Path) -> Path | None:
    """The git work tree `path` would be committed from (inside it and not ignored), else None."""
    for parent in path.parents:
        if (parent / ".git").exists():
            try:
                ignored = subprocess.run(["git", "-C", str(parent), "check-ignore", "-q", str(path)],
                                         capture_output=True, timeout=10).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ignored = False  # cannot tell: treat as committable, the safe answer
            return None if ignored else parent
    return None


def resolve_key(privacy: PrivacyConfig, *, base_dir: Path, engagement_file: str = "") -> PseudonymKey:
    """The pseudonymisation key of an engagement (see the module docstring for the order)."""
    if _well_known(privacy.key_env):
        raise ConfigError(
            f"the key would come from the environment variable {privacy.key_env}, which every "
            f"program on the machine can read (or guess): anybody could recompute the pseudonyms",
            file=engagement_file, key="privacy.key_env", value=privacy.key_env,
            fix=f"use a variable of its own (the default FUNNEL_KEY) set to the output of "
                f"{_MAKE_KEY}")
    from_env = os.environ.get(privacy.key_env)
    if from_env:
        where = f"the environment variable {privacy.key_env}"
        return PseudonymKey(_checked(from_env, where=where, engagement_file=engagement_file,
                                     key="privacy.key_env"), where)
    if privacy.key_file:
        path = (base_dir / Path(privacy.key_file).expanduser()).resolve()
        if not path.exists():
            raise ConfigError("the pseudonymisation key file does not exist", file=engagement_file,
                              key="privacy.key_file", value=str(path),
                              fix=f"create it outside the repository, e.g. `{_MAKE_KEY} > {path}`, or "
                                  f"set {privacy.key_env}")
        repo = tracked_by_git(path)
        if repo is not None:
            raise ConfigError(
                f"the pseudonymisation key file is inside the git work tree {repo} and not ignored, so "
                f"it could be committed with the code", file=engagement_file, key="privacy.key_file",
                value=str(path), fix="move it outside the repository (e.g. ~/.config/funnel-toolkit/) "
                                     "or add it to .gitignore")
        return PseudonymKey(_checked(_key_file_text(path, engagement_file=engagement_file),
                                     where=f"the file {path}", engagement_file=engagement_file,
                                     key="privacy.key_file"),
                            f"the file {path}")
    path = user_key_file()
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created readable by its owner only; O_EXCL so two runs never write two keys.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(f"no pseudonymisation key is set and none could be created at {path} "
                              f"({exc.strerror})", file=engagement_file, key="privacy",
                              fix=f"set the environment variable {privacy.key_env} to the output of "
                                  f"{_MAKE_KEY}") from None
    return PseudonymKey(_checked(path.read_text(encoding="utf-8"), where=f"the file {path}",
                                 engagement_file=engagement_file, key="privacy"),
                        f"your personal key file {path}")


def pseudonymise(values: pd.Series, key: PseudonymKey) -> pd.Series:
    """Replace each value by ``P-`` + the first 10 hex digits of HMAC-SHA256(key, value).

    Values are compared after trimming and case folding, so "J. de Vries" and "j. de vries " are one
    person. Empty values stay empty. 40 bits make a collision between two of 10,000 people about
    one in 20,000.
    """
    def code(value: object) -> str:
        text = str(value).strip().casefold().encode()
        return "P-" + hmac.new(key.secret, text, hashlib.sha256).hexdigest()[:10]
    # Once per distinct value (a contact repeats on each of its deal's stage rows), spread back by
    # integer code: mapping a million rows through a dict took most of a second.
    codes, uniques = pd.factorize(values)
    pseudonyms = pd.array([code(u) for u in uniques], dtype="string")
    return pd.Series(pseudonyms.take(codes, allow_fill=True), index=values.index,
                     name=values.name)


def check_personal(declared: list[str], attributes: dict[str, str], *, file: str, key: str) -> None:
    """Refuse a `personal:` entry that is not an attribute of the source: a typo (`contcat`) or the
    file's header instead of the attribute's name would leave the real column unprotected while
    `validate` said it was pseudonymised."""
    import difflib
    for name in declared:
        if name in attributes:
            continue
        by_header = [attr for attr, header in attributes.items()
                     if str(header).strip().casefold() == str(name).strip().casefold()]
        if by_header:
            hint = f"`personal:` takes the attribute's name, so write {by_header[0]!r}"
        else:
            close = difflib.get_close_matches(str(name), list(attributes), n=1)
            hint = (f"did you mean {close[0]!r}? " if close else "") + (
                f"list attributes of this source {sorted(attributes)}, or declare the column "
                f"under `attributes:` first" if attributes else
                "declare the column under `attributes:` first (the source has none)")
        raise ConfigError(f"{name!r} is not an attribute of this source, so it would not be "
                          f"pseudonymised", file=file, key=key, fix=hint)


def personal_columns(declared: list[str], attributes: list[str], privacy: PrivacyConfig) -> list[str]:
    """The attributes of a source to pseudonymise: those declared `personal`, plus `owner` unless the
    engagement allows owner names."""
    out = [name for name in declared]
    if privacy.owner_names == "pseudonymise" and "owner" in attributes and "owner" not in out:
        out.append("owner")
    return out
