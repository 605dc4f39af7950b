"""Which settings run where: the suite on its own module and environment, never a developer's
``.env``; importing settings changes nothing; the project's settings need a secret key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password

from config.environment import PROJECT_SETTINGS, load_dotenv

ROOT = Path(__file__).resolve().parents[1]


def test_the_suite_runs_on_the_test_settings_which_its_children_inherit():
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "config.settings_test"
    assert "config.settings" not in sys.modules
    assert settings.SECRET_KEY == "facefinder-test-suite-only"
    assert make_password("a-long-test-password-42").startswith("md5$")


def write_dotenv(tmp_path: Path) -> Path:
    dotenv = tmp_path / ".env"
    dotenv.write_text("FACEFINDER_DOTENV_ONLY=from-file\nFACEFINDER_DOTENV_BOTH=from-file\n")
    return dotenv


def test_a_dotenv_fills_in_what_the_environment_lacks_for_the_project_settings(tmp_path):
    with mock.patch.dict(
        os.environ,
        {"DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS, "FACEFINDER_DOTENV_BOTH": "from-env"},
    ):
        load_dotenv(write_dotenv(tmp_path))
        assert os.environ["FACEFINDER_DOTENV_ONLY"] == "from-file"
        assert os.environ["FACEFINDER_DOTENV_BOTH"] == "from-env"
    assert "FACEFINDER_DOTENV_ONLY" not in os.environ


def test_a_dotenv_is_never_read_under_the_test_settings(tmp_path):
    with mock.patch.dict(os.environ):
        load_dotenv(write_dotenv(tmp_path))
        assert "FACEFINDER_DOTENV_ONLY" not in os.environ


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("module", ["config.settings", "config.settings_test"])
@pytest.mark.parametrize(
    "database_url",
    ["sqlite:///{tmp}/not-made/db.sqlite3", "singlestoredb://u:p@s2.example:3306/facefinder"],
)
def test_importing_settings_writes_nothing(module, database_url, tmp_path):
    """No environment variable set, no folder or file made (the SQLite folder is the
    scripts' job, the secret key the environment's)."""
    code = (
        "import importlib, os\n"
        "before = dict(os.environ)\n"
        f"importlib.import_module({module!r})\n"
        "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
    )
    url = database_url.format(tmp=tmp_path)
    run = run_python(code, DATABASE_URL=url, DJANGO_SECRET_KEY="k" * 50)
    assert run.returncode == 0, run.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", [None, ""])
def test_the_project_settings_refuse_to_load_without_a_secret_key(key):
    env = {} if key is None else {"DJANGO_SECRET_KEY": key}
    run = run_python("import config.settings", **env)
    assert run.returncode == 1
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in run.stderr.splitlines()[-1]


# --- Production defaults ----------------------------------------------------------------------

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "production-key-" + "x7Qm2Lr9Tz4Wc8Vn1Pb6Hd3Ks5Jf0Yg-" * 2,
    "DJANGO_ALLOWED_HOSTS": "facefinder.example.com",
}


def run_production(code: str, **extra: str) -> subprocess.CompletedProcess:
    """``code`` under the project's settings with the production variables and nothing else
    from this machine's environment (no .env either: the entry points read it, not Django)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS,
        **PRODUCTION,
        **extra,
    }
    setup = "import django\ndjango.setup()\nfrom django.conf import settings\n"
    return subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


DEPLOY_CHECK = (
    "from django.core.management import call_command\n"
    "call_command('check', deploy=True, fail_level='WARNING')\n"
)


def test_the_deploy_check_passes_on_the_three_production_variables_alone():
    run = run_production(DEPLOY_CHECK)
    assert run.returncode == 0, run.stderr
    assert "System check identified no issues" in run.stdout


def test_https_is_the_production_default_behind_a_tls_proxy():
    run = run_production(
        "print(settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE,"
        " settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS,"
        " settings.SECURE_PROXY_SSL_HEADER)"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split(" ", 4) == [
        "True",
        "True",
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO', 'https')\n",
    ]


def test_a_plain_http_test_host_turns_the_https_settings_off_and_the_check_says_so():
    run = run_production(DEPLOY_CHECK, DJANGO_HTTPS="false")
    assert run.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in run.stderr


def test_collected_static_files_are_served_by_the_app_in_production(tmp_path):
    code = (
        "from django.core.management import call_command\n"
        "from django.templatetags.static import static\n"
        "from django.test import Client\n"
        "call_command('collectstatic', interactive=False, verbosity=0)\n"
        "url = static('css/site.css')\n"
        "response = Client().get(url, secure=True, HTTP_HOST='facefinder.example.com')\n"
        "print(url, response.status_code, response['Cache-Control'])\n"
    )
    run = run_production(code, STATIC_ROOT=str(tmp_path / "static"))
    assert run.returncode == 0, run.stderr
    url, status, cache_control = run.stdout.split(" ", 2)
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", url)  # a hashed name
    assert status == "200"
    assert "immutable" in cache_control


def test_an_unknown_sign_up_mode_is_refused_at_start():
    run = run_python("import config.settings_test", FACEFINDER_SIGNUP="maybe")
    assert run.returncode == 1
    assert "FACEFINDER_SIGNUP must be 'approval', 'open' or 'closed'" in run.stderr


def test_a_negative_progress_interval_is_refused_at_start():
    run = run_python("import config.settings_test", FACEFINDER_PROGRESS_SECONDS="-1")
    assert run.returncode == 1
    assert "FACEFINDER_PROGRESS_SECONDS must be 0 or more seconds" in run.stderr
