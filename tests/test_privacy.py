"""Privacy: personal columns become keyed pseudonyms everywhere, the key never comes from the repo,
and owner names only show when the engagement allows it."""

from __future__ import annotations

import os
import stat
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import write_engagement

from toolkit import Engagement
from toolkit.base.exceptions import ConfigError
from toolkit.io.privacy import PrivacyConfig, PseudonymKey, pseudonymise, resolve_key, user_key_file

KEY = "0123456789abcdef0123456789abcdef"
PEOPLE = ("José Brouwer", "Anna de Wit", "Sanne de Vries", "Ruud Hendriks")


@pytest.fixture(autouse=True)
def _own_key_location(tmp_path_factory, monkeypatch):
    # Each test decides where its key comes from; the developer's own key is never touched.
    monkeypatch.delenv("FUNNEL_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


def _history(folder, **privacy):
    """Four deals with a contact and an owner; row 5 has a bad date and is quarantined."""
    (folder / "h.csv").write_text(
        "Deal;Fase;Datum;Contact;Eigenaar\n"
        "D1;Suspect;13-01-2025;José Brouwer;Sanne de Vries\n"
        "D2;Suspect;14-01-2025;josé brouwer ;Sanne de Vries\n"
        "D3;Lead;15-01-2025;Anna de Wit;Ruud Hendriks\n"
        "D4;Lead;31-02-2025;Anna de Wit;Ruud Hendriks\n", encoding="utf-8")
    extra = {"privacy": privacy} if privacy else {}
    return write_engagement(folder, [{
        "path": "h.csv", "shape": "history", "date_format": "dmy",
        "columns": {"record_id": "Deal", "stage": "Fase", "changed_at": "Datum"},
        "attributes": {"contact": "Contact", "owner": "Eigenaar"}, "personal": ["contact"]}], **extra)


def test_pseudonym_is_the_hmac_sha256_of_the_folded_value():
    # RFC 4231, test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?")
    # = 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
    key = PseudonymKey(b"Jefe", "test")
    out = pseudonymise(pd.Series(["What do ya want for nothing? ", None]), key)
    assert out.iloc[0] == "P-5bdcc146bf"
    assert out.isna().iloc[1]  # empty stays empty, not a pseudonym of "None"
    assert "Jefe" not in repr(key)


def test_contacts_and_owners_are_pseudonymised_and_stable(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    e = Engagement.from_yaml(_history(tmp_path), use_cache=False)
    rec = e.records.set_index("record_id")
    assert rec.loc["D1", "contact"] == rec.loc["D2", "contact"] != rec.loc["D3", "contact"]
    assert rec["owner"].str.fullmatch(r"P-[0-9a-f]{10}").all()      # owner by default
    assert rec.loc["D1", "owner"] == rec.loc["D2", "owner"] != rec.loc["D3", "owner"]
    assert Engagement.from_yaml(_history(tmp_path), use_cache=False).records.equals(e.records)


def test_another_key_gives_other_pseudonyms_even_through_the_cache(tmp_path, monkeypatch):
    path = _history(tmp_path)
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    first = Engagement.from_yaml(path).records.set_index("record_id")["contact"]
    monkeypatch.setenv("FUNNEL_KEY", KEY[::-1])
    second = Engagement.from_yaml(path).records.set_index("record_id")["contact"]
    assert (first != second).all()


def test_owner_names_show_only_when_the_engagement_allows_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    e = Engagement.from_yaml(_history(tmp_path, owner_names="show"), use_cache=False)
    assert set(e.records["owner"]) == {"Sanne de Vries", "Ruud Hendriks"}
    assert e.records["contact"].str.startswith("P-").all()  # declared personal: still hidden


def test_no_name_reaches_the_tables_or_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    e = Engagement.from_yaml(_history(tmp_path))
    assert e.quarantine["source_row"].tolist() == [5]  # the 31st of February
    tables = [e.events, e.records, e.stage_log, e.quarantine]
    tables += [pd.read_parquet(p) for p in (tmp_path / ".cache").rglob("*.parquet")]
    assert len(tables) > 4, "the cache was written"
    for frame in tables:
        text = frame.astype(str).to_csv().casefold()
        for person in PEOPLE:
            assert person.casefold() not in text


def test_key_from_the_environment_must_be_long_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNEL_KEY", "secret")
    with pytest.raises(ConfigError) as err:
        Engagement.from_yaml(_history(tmp_path), use_cache=False)
    assert "environment variable FUNNEL_KEY" in str(err.value)
    assert "at least 16" in str(err.value) and "Fix:" in str(err.value)


def test_without_a_key_a_private_user_key_is_created_once(tmp_path):
    first = Engagement.from_yaml(_history(tmp_path), use_cache=False)
    path = user_key_file()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.pseudonym_key.origin.endswith(str(path))
    again = Engagement.from_yaml(_history(tmp_path), use_cache=False)
    assert again.records.equals(first.records)


def test_key_file_outside_the_repository_is_used(tmp_path, tmp_path_factory):
    keyfile = tmp_path_factory.mktemp("secrets") / "client.key"
    keyfile.write_text(KEY + "\n")
    key = resolve_key(PrivacyConfig(key_file=str(keyfile)), base_dir=tmp_path)
    assert key.secret == KEY.encode() and str(keyfile) in key.origin


def test_key_file_inside_a_git_repository_is_refused_unless_ignored(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "client.key").write_text(KEY)
    with pytest.raises(ConfigError) as err:
        resolve_key(PrivacyConfig(key_file="client.key"), base_dir=tmp_path, engagement_file="e.yaml")
    assert "inside the git work tree" in str(err.value) and ".gitignore" in str(err.value)
    (tmp_path / ".gitignore").write_text("*.key\n")
    assert resolve_key(PrivacyConfig(key_file="client.key"), base_dir=tmp_path).secret == KEY.encode()


def test_missing_key_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError) as err:
        resolve_key(PrivacyConfig(key_file="nope.key"), base_dir=tmp_path, engagement_file="e.yaml")
    assert "privacy.key_file" in str(err.value) and "secrets.token_hex" in str(err.value)


def test_privacy_section_typo_gets_a_suggestion(tmp_path, monkeypatch):
    monkeypatch.setenv("FUNNEL_KEY", KEY)
    path = _history(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["privacy"] = {"owner_name": "show"}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as err:
        Engagement.from_yaml(path)
    assert "owner_name" in str(err.value) and "owner_names" in str(err.value)


def test_the_demo_keeps_contacts_out_of_every_table():
    # The demo's contact persons are fictional but treated as personal, as a client's would be.
    from conftest import DEMO
    raw = pd.read_csv(DEMO / "crm_fasehistorie.csv", sep=";", encoding="cp1252", dtype=str)
    names = raw["Contactpersoon"].dropna().unique()[:50]
    e = Engagement.from_yaml(DEMO / "engagement.yaml")
    assert e.records["contact"].str.startswith("P-").all()
    text = e.records["contact"].str.cat(sep="|")
    assert not any(n in text for n in names)
    assert os.environ.get("FUNNEL_KEY") is None  # the autouse fixture: the user key file was used
