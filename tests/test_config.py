import pytest

from tfagent.agent.core.config import (
    ConfigError, load_config, register_endpoint, resolve_endpoint, unregister_endpoint, user_config_path,
)

LOCAL = """
default_endpoint = "q4"
[defaults]
max_attempts = 4
[endpoints.q4]
base_url = "http://127.0.0.1:8080/v1"
model = "glm-q4"
bpw = 4.5
api_key_env = "GLM_KEY"
temperature = 0.2
chat_template_kwargs = { enable_thinking = false }
"""


def test_precedence_flags_over_env_over_local_over_user(tmp_path, monkeypatch):
    register_endpoint("q4", {"base_url": "http://user-config:1/v1", "model": "user-model", "bpw": 4.0})
    register_endpoint("iq1", {"base_url": "http://user-config:2/v1", "model": "iq1", "bpw": 1.56})
    (tmp_path / "tfagent.toml").write_text(LOCAL)
    monkeypatch.setenv("GLM_KEY", "s3cr3t-value")
    config = load_config(tmp_path)
    assert set(config.endpoints) == {"q4", "iq1"} and config.defaults["max_attempts"] == 4
    ep = resolve_endpoint(config)  # default_endpoint from ./tfagent.toml wins over the user file
    assert (ep.base_url, ep.model, ep.bpw, ep.api_key) == ("http://127.0.0.1:8080/v1", "glm-q4", 4.5, "s3cr3t-value")
    assert ep.params == {"temperature": 0.2, "chat_template_kwargs": {"enable_thinking": False}}
    assert "s3cr3t" not in str(ep.public_dict())
    monkeypatch.setenv("TFAGENT_MODEL", "env-model")
    assert resolve_endpoint(config, "iq1").model == "env-model"
    assert resolve_endpoint(config, "iq1", model="flag-model").model == "flag-model"
    monkeypatch.setenv("TFAGENT_BASE_URL", "http://env:9/v1")
    assert resolve_endpoint(config).base_url == "http://env:9/v1"
    assert resolve_endpoint(config, base_url="http://flag:7/v1").base_url == "http://flag:7/v1"


def test_errors_name_file_and_key(tmp_path):
    (tmp_path / "tfagent.toml").write_text('[endpoints.bad]\nbase_url = "ftp://x"\n')
    with pytest.raises(ConfigError, match=r"tfagent.toml: \[endpoints.bad\]: base_url"):
        load_config(tmp_path)
    (tmp_path / "tfagent.toml").write_text('[endpoints.bad]\nbase_url = "http://x/v1"\nbpw = "four"\n')
    with pytest.raises(ConfigError, match="bpw must be a positive number"):
        load_config(tmp_path)
    (tmp_path / "tfagent.toml").write_text('[endpoints.bad]\nbase_url = "http://x/v1"\ntemprature = 1\n')
    with pytest.raises(ConfigError, match="unknown key.*temprature"):
        load_config(tmp_path)
    (tmp_path / "tfagent.toml").write_text("not = [toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path)


def test_no_server_configured_and_unknown_endpoint(tmp_path):
    config = load_config(tmp_path)
    with pytest.raises(ConfigError, match="no model server configured"):
        resolve_endpoint(config)
    with pytest.raises(ConfigError, match="unknown endpoint 'nope'"):
        resolve_endpoint(config, "nope")


def test_register_and_unregister_write_the_user_file_atomically(tmp_path):
    path = register_endpoint("demo", {"base_url": "http://127.0.0.1:8088/v1", "model": "qwen", "bpw": 4.9})
    assert path == user_config_path() and "[endpoints.demo]" in path.read_text()
    with pytest.raises(ConfigError):
        register_endpoint("broken", {"base_url": "nope"})
    assert "broken" not in path.read_text()
    unregister_endpoint("demo")
    assert load_config(tmp_path).endpoints == {}


def test_candidates_and_autofix_are_endpoint_fields_checked_with_clear_errors(tmp_path):
    (tmp_path / "tfagent.toml").write_text('[endpoints.s]\nbase_url = "http://x/v1"\ncandidates = 4\nautofix = true\n')
    config = load_config(tmp_path)
    ep = resolve_endpoint(config, "s")
    assert (ep.candidates, ep.autofix) == (4, True)
    assert ep.public_dict()["candidates"] == 4 and ep.public_dict()["autofix"] is True
    for line, message in (("candidates = 0", r"\[endpoints.s\]: candidates must be a whole number from 1 to 16"),
                          ("candidates = 2.5", "candidates must be a whole number"),
                          ("candidates = true", "candidates must be a whole number"),
                          ('autofix = "yes"', r"\[endpoints.s\]: autofix must be true or false, got 'yes'")):
        (tmp_path / "tfagent.toml").write_text(f'[endpoints.s]\nbase_url = "http://x/v1"\n{line}\n')
        with pytest.raises(ConfigError, match=message):
            load_config(tmp_path)
    plain = resolve_endpoint(load_config(tmp_path / "nowhere"), base_url="http://y/v1")
    assert plain.candidates is None and "candidates" not in plain.public_dict()
