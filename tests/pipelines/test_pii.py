"""PII and secret redaction: real-shaped secrets go, look-alikes stay, twice is once."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipelines.pii import PLACEHOLDERS, redact

ALL = tuple(PLACEHOLDERS)

AWS_ID = "AKIAZ3MHQ7RT2XWEP4KD"
AWS_SECRET = "q8Vd/3LkPz0XmR7tYwB+9sNcJ2hGfA5eU1oKiT6E"
GITHUB = "ghp_R8x2Lm4Qz7Vb1Nc9Kd3Fh6Jt0Wp5Ys8Ag2Ue"
SLACK_PATH = "T04A1B2C3D4/B05E6F7G8H9/p0Q1r2S3t4U5v6W7x8Y9z0A1"
STRIPE = "sk_live_51HvQ2kLm9Np3Rs7Tu1Vw5Xy8Za"
GOOGLE = "AIzaSyD3f8Kq1Lm9Np2Rs7Tu4Vw6Xy0Za5Bc7Ef"
OPENAI = "sk-proj-Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz2Xc4Vb6Nm8Qa0Ws"
SLACK_BOT = "xoxb-2048151615-4839202283843-Rz8Kq1Lm9Np2Rs7Tu4Vw6Xy0"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6Ikpv"
       "aG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM_BODY = "\n".join(["MIIEowIBAAKCAQEA7Vq3Xk9Lm2Np8Rs4Tu6Vw1Xy5Za3Bc7Ef9Gh0Jk2Lm4Np6Rs8Tu"] * 6
                     + ["Tu1Vw3Xy5Za7Bc9Ef2Gh4Jk6Lm8Np0Rs=="])
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"


def _redacted(text: str, *secrets: str) -> str:
    """The redacted text, after checking that none of ``secrets`` is left in it."""
    out, counts = redact(text, ALL)
    for secret in secrets:
        assert secret not in out, (secret, out)
    assert counts
    return out


def test_aws_key_pair_in_a_python_settings_file_is_redacted():
    settings_py = (f'import os\n\nDEBUG = False\nAWS_ACCESS_KEY_ID = "{AWS_ID}"\n'
                   f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\nAWS_REGION = "eu-west-1"\n')
    out = _redacted(settings_py, AWS_ID, AWS_SECRET)
    assert 'AWS_ACCESS_KEY_ID = "<KEY>"' in out and 'AWS_SECRET_ACCESS_KEY = "<KEY>"' in out
    assert 'AWS_REGION = "eu-west-1"' in out
    assert redact(settings_py, ALL)[1] == {"key": 2}


def test_github_token_in_a_ci_workflow_is_redacted():
    workflow = ("name: release\non: push\njobs:\n  publish:\n    runs-on: ubuntu-latest\n"
                f"    env:\n      GH_TOKEN: {GITHUB}\n      PAT: github_pat_11ABCDEFG0123456789abc"
                "_defGHIJklmnOPQRstuvWXYZ0123456789abcdefghijklmnopqrstuvwxyz0123\n"
                "    steps:\n      - uses: actions/checkout@v4\n")
    out = _redacted(workflow, GITHUB, "github_pat_11ABCDEFG")
    assert "GH_TOKEN: <KEY>" in out and "actions/checkout@v4" in out


def test_slack_webhook_and_bot_token_in_javascript_are_redacted():
    js = (f"const WEBHOOK = 'https://hooks.slack.com/services/{SLACK_PATH}';\n"
          f"const client = new WebClient('{SLACK_BOT}');\n")
    out = _redacted(js, SLACK_PATH, SLACK_BOT)
    assert "https://hooks.slack.com/services/<KEY>" in out


def test_vendor_keys_with_known_prefixes_are_redacted():
    code = (f'stripe.api_key = "{STRIPE}"\nMAPS = "{GOOGLE}"\nclient = OpenAI(api_key="{OPENAI}")\n'
            f'headers = {{"Authorization": "Bearer {JWT}"}}\n')
    _redacted(code, STRIPE, GOOGLE, OPENAI, JWT)


def test_pem_private_key_block_is_replaced_whole():
    code = f'KEY = """{PEM}"""\n\ndef sign(data):\n    return rsa.sign(data, KEY)\n'
    out = _redacted(code, PEM_BODY.splitlines()[0], "BEGIN RSA PRIVATE KEY")
    assert out.startswith('KEY = """<KEY>"""') and "def sign(data):" in out
    escaped = 'PEM = "' + PEM.replace("\n", "\\n") + '"\n'
    assert redact(escaped, ALL) == ('PEM = "<KEY>"\n', {"key": 1})


def test_code_naming_pem_markers_is_kept():
    code = ('BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\n'
            'END = "-----END RSA PRIVATE KEY-----"\n'
            'def is_key(text):\n    return text.startswith(BEGIN) and END in text\n')
    assert redact(code, ALL) == (code, {})


def test_database_url_loses_only_its_password():
    code = 'DATABASE_URL = "postgresql://app_user:Zt9#qL2v@db.internal:5432/orders"\n'
    out = _redacted(code, "Zt9#qL2v")
    assert out == 'DATABASE_URL = "postgresql://app_user:<PASSWORD>@db.internal:5432/orders"\n'


@pytest.mark.parametrize("line, value", [
    ('password = "hunter2"', "hunter2"),
    ('db_password: str = "s3cr3t-Pa55"', "s3cr3t-Pa55"),
    ('{"user": "bob", "password": "x9y8z7w6"}', "x9y8z7w6"),
    ("conn = connect(host=h, password='tr0ub4dor&3')", "tr0ub4dor&3"),
    ("$config['db_pass'] = 'x'; $opts = ['passwd' => 'Qwerty!23'];", "Qwerty!23"),
    ("DB_PASSWORD=Sup3rS3cret", "Sup3rS3cret"),
    ("export PGPASSWORD=Sup3rS3cret", "Sup3rS3cret"),
    ("  password: hunter2  # prod", "hunter2"),
    ("spring.datasource.password=changeme", "changeme"),
])
def test_assigned_passwords_are_redacted(line, value):
    out = _redacted(line, value)
    assert "<PASSWORD>" in out


@pytest.mark.parametrize("line", [
    'password = os.environ["PASSWORD"]',
    "password = getpass()",
    "password = getpass.getpass('Password: ')",
    "password: str",
    "    password: Optional[str] = None",
    "def login(user, password=None):",
    "password = default_password",
    "password = self.password",
    "password: SecretStr",
    'password = ""',
    'password = "${DB_PASSWORD}"',
    'password: "{{ vault_db_password }}"',
    'password = "%(password)s"',
    'password = "********"',
    "PASSWORD=$DB_PASSWORD",
    "password_reset_url = 'https://example.org/reset'",
    "if password == 'admin':",
    "PWD=/home/user/project",
])
def test_password_names_without_a_literal_value_are_kept(line):
    assert redact(line, ALL) == (line, {})


def test_emails_in_a_readme_and_in_code_comments_are_redacted():
    readme = ("# Project\n\nMaintained by Jane Doe <jane.doe@gmail.com>.\n"
              "Report security issues to security@acme-corp.io, not the tracker.\n")
    code = "def f():\n    # TODO(john.smith+ci@mail.company.co.uk): remove\n    return 1\n"
    out = _redacted(readme + code, "jane.doe@gmail.com", "security@acme-corp.io",
                    "john.smith+ci@mail.company.co.uk")
    assert out.count("<EMAIL>") == 3
    assert redact(readme, ALL)[1] == {"email": 2}


@pytest.mark.parametrize("text", [
    "@property\ndef name(self):\n    return self._name\n",
    "y = a@b.c\nz = x@w.shape\n",
    "admin = 'root@localhost'\n",
    "send('alice@example.com', 'bob@mail.example.org')\n",
    "git clone git@github.com:org/repo.git\n",
    "npm install @babel/core@7.24.0\n",
])
def test_email_look_alikes_are_kept(text):
    assert redact(text, ALL) == (text, {})


def test_public_ip_addresses_in_a_config_are_redacted():
    config = ("[server]\nbind = 0.0.0.0\nupstream = 203.0.113.7\nresolver = 84.17.46.5\n"
              "public = 151.101.1.69:443\nmirror = 2a03:2880:f003::25\n")
    out = _redacted(config, "84.17.46.5", "151.101.1.69", "2a03:2880:f003::25")
    assert "bind = 0.0.0.0" in out and "upstream = 203.0.113.7" in out  # not routable
    assert "public = <IP_ADDRESS>:443" in out
    assert redact(config, ALL)[1] == {"ip_address": 3}


@pytest.mark.parametrize("text", [
    "hosts = ['10.0.0.1', '192.168.1.20', '172.16.5.4', '127.0.0.1', '169.254.1.1']\n",
    "netmask = '255.255.255.0'\nany = '0.0.0.0'\nbroadcast = '255.255.255.255'\n",
    "loopback = '::1'\nlink = 'fe80::1ff:fe23:4567:890a'\nula = 'fd12:3456:789a::1'\n",
    "setup(name='pkg', version='1.2.3.4')\n",
    "__version__ = '3.11.7.0'\n",
    "release: v2.0.1.3\n",
    "oid = '1.3.6.1.4.1.311'\n",
    "# see section 8.2.4.44 of the spec\n",
    "arr[1::2], m[::3], t = '12:30:45'\nmac = '00:1a:2b:3c:4d:5e'\n",
    "std::vector<int> v; Foo::bar();\n",
])
def test_ip_look_alikes_are_kept(text):
    assert redact(text, ALL) == (text, {})


@pytest.mark.parametrize("text", [
    'commit = "3f786850e387550fdab836ed7e6dc881de23001b"\n',
    'digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"\n',
    'id = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")\n',
    'ICON = "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAGXRFWHRTb2Z0d2FyZQ"\n',
    'integrity="sha512-Q2ZlZ2t3c2VjcmV0a2V5Zm9ybm90aGluZ3RvZG9oZXJl"\n',
    "token = get_token_from_environment()\n",
    'TOKEN_ENV_VAR = "MY_SERVICE_API_TOKEN"\n',
    'api_key = "your-api-key-here"\n',
    "tokenizer_path = 'models/tokenizer-v2-3b.json'\n",
    "secret_key = settings.SECRET_KEY\n",
])
def test_hashes_uuids_and_ordinary_base64_are_kept(text):
    assert redact(text, ALL) == (text, {})


def test_generic_secret_keeps_its_name():
    text = 'config["client_secret"] = "9fK2mQ7xL4vB8nR1tZ6c"\nSECRET_KEY: a8Kd03mZq7Xv2Lp9Rt5W\n'
    out, counts = redact(text, ALL)
    assert out == 'config["client_secret"] = "<KEY>"\nSECRET_KEY: <KEY>\n'
    assert counts == {"key": 2}


def test_only_the_requested_kinds_are_redacted():
    text = f"mail bob@gmail.com from 8.8.8.8 with {AWS_ID}\n"
    out, counts = redact(text, ("email",))
    assert out == f"mail <EMAIL> from 8.8.8.8 with {AWS_ID}\n" and counts == {"email": 1}
    assert redact(text, ()) == (text, {})


def test_unknown_kind_is_a_value_error():
    with pytest.raises(ValueError, match="unknown PII kind 'phone'"):
        redact("x", ("email", "phone"))


def test_redacting_twice_changes_nothing():
    text = (f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\npassword = "hunter2"\n'
            f"{PEM}\nmail bob@gmail.com at 8.8.8.8\nurl = https://u:p4ss@h.io/x\n")
    once, _ = redact(text, ALL)
    assert redact(once, ALL) == (once, {})


# --- properties ---------------------------------------------------------------------------

SECRETS = [AWS_ID, GITHUB, SLACK_BOT, STRIPE, GOOGLE, OPENAI, JWT, "bob.smith@gmail.com",
           "84.17.46.5", "151.101.1.69"]
FRAGMENTS = st.sampled_from(
    [" ", "\n", "=", ":", '"', "'", "@", ".", "::", "/", "-", "_", "<", ">", "password",
     "PASSWORD", "api_key", "token", "secret", "://", "user:", "@h.io", "1", "255", "8.8",
     "version", "gmail.com", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
     "MIIEowIBAAKCAQEA7Vq3Xk9Lm2Np8Rs4Tu6Vw1Xy5Za3", "AKIA", "ghp_", "xoxb-1-", "sk-", "eyJ",
     "<KEY>", "<EMAIL>", "<PASSWORD>", "<IP_ADDRESS>", "İ", "\x00"] + SECRETS)
MIXED = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(MIXED)
def test_random_text_never_raises_and_redacting_is_idempotent(text):
    once, counts = redact(text, ALL)
    assert all(n > 0 for n in counts.values())
    assert redact(once, ALL) == (once, {})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200), st.sampled_from(SECRETS),
       st.sampled_from(["{}", " {} ", "x = '{}'\n", "\n{}\n", "({})", "<{}>"]))
def test_a_planted_secret_never_survives(before, after, secret, frame):
    # A version-ish word before a dotted quad makes it a version number, by design.
    assume(not any(word in before.lower() for word in ("version", "release", "section",
                                                       "rfc", "§")))
    text = before + " " + frame.format(secret) + " " + after
    assert secret not in redact(text, ALL)[0]


@pytest.mark.parametrize("address", ["1.2.3.4", "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"])
def test_well_known_addresses_that_identify_no_one_are_kept(address):
    text = f"resolver = '{address}'\n"
    assert redact(text, ("ip_address",)) == (text, {})
