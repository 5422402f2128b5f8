"""요있다's documentation stays true: settings, Redis keys, the vendored library, the HTTPS runbook, README."""
from __future__ import annotations

import hashlib
import html
import http.client
import re
import ssl
import subprocess
import threading

from tests.test_visits_support import ROOT, Officials, make_service, official
from visits.settings import SETTINGS
from visits.tokens import KEYS
from visits.verifier import LIBRARY, verifier_page
from visits.web import VisitApp

DOC = (ROOT / "docs" / "VISITS.md").read_text(encoding="utf-8")
VENDOR = (ROOT / "visits" / "static" / "vendor" / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    """Catches a setting added in visits/settings.py without its row in docs/VISITS.md."""
    table = {m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", DOC, re.M)}
    assert {name for name, _, _ in SETTINGS} <= table


def test_every_redis_key_is_documented_and_built_in_one_place():
    """Catches a key added in code (or spelled differently) without its row in the table."""
    for template in KEYS.values():
        assert f"| `{template}` |" in DOC, template
    for path in (ROOT / "visits").glob("*.py"):
        if path.name != "tokens.py":
            assert not re.search(r"['\"][^'\"]*:visit:[a-z]", path.read_text(encoding="utf-8")), path


def test_the_vendored_library_is_the_recorded_one():
    """Catches a vendored library changed without its recorded sha256 (a swapped verifier)."""
    recorded = re.search(r"sha256 of `noble-curves-ed25519-2\.3\.0\.js` \| `([0-9a-f]{64})`", VENDOR).group(1)
    assert hashlib.sha256(LIBRARY.read_bytes()).hexdigest() == recorded
    entry = re.search(r"sha256 of `build-entry\.js` \| `([0-9a-f]{64})`", VENDOR).group(1)
    assert hashlib.sha256((LIBRARY.parent / "build-entry.js").read_bytes()).hexdigest() == entry
    assert (LIBRARY.parent / "LICENSE-noble-curves").read_text().startswith("The MIT License")


def test_the_verifier_page_embeds_the_library_byte_for_byte_under_its_csp_hash(tmp_path):
    """Catches a page whose CSP would block its own script, or that could load anything from the network."""
    import base64

    service = make_service(tmp_path / "v", None, "x")
    service.keys.signer()
    page, csp = verifier_page(service.keyring(), "YO1:")
    library = LIBRARY.read_text(encoding="utf-8")
    assert f"<script>{library}</script>" in page
    digest = base64.b64encode(hashlib.sha256(library.encode()).digest()).decode()
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    assert f"'sha256-{digest}'" in csp and html.unescape(meta) == csp
    assert "connect-src" not in csp and csp.startswith("default-src 'none'")
    assert next(iter(service.keyring().keys)) in page


def test_the_https_runbook_makes_a_certificate_a_client_trusts(tmp_path, redis_client, prefix):
    """Runs the runbook's openssl commands as written (names changed) and completes a TLS handshake with them."""
    block = re.search(r"<!-- runbook:cert -->\n```sh\n(.*?)```", DOC, re.S).group(1)
    script = block.replace("HOST=nugo.gyeongnam.go.kr", "HOST=visit.test").replace("IP=10.0.0.10", "IP=127.0.0.1")
    done = subprocess.run(["bash", "-euc", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ca = tmp_path / "ca"
    assert "server.crt: OK" in done.stdout
    assert oct((ca / "server.key").stat().st_mode & 0o777) == "0o600"

    from tests.servers import _QuietHandler, _Server
    from wsgiref.simple_server import make_server

    service = make_service(tmp_path / "visits", redis_client, prefix)
    server = make_server("127.0.0.1", 0, VisitApp(service, lambda: Officials(official())), server_class=_Server,
                         handler_class=_QuietHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca / "server.crt", ca / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        client = ssl.create_default_context(cafile=str(ca / "ca.crt"))
        conn = http.client.HTTPSConnection("127.0.0.1", server.server_port, context=client, timeout=10)
        conn.request("GET", "/visit/keys.json")
        assert conn.getresponse().status == 200
        conn.close()
        untrusting = http.client.HTTPSConnection("127.0.0.1", server.server_port, timeout=10,
                                                 context=ssl.create_default_context())
        try:
            untrusting.request("GET", "/visit/keys.json")
            raise AssertionError("a client without the internal CA must refuse the certificate")
        except ssl.SSLCertVerificationError:
            pass
        finally:
            untrusting.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_readme_has_the_section_with_the_screenshot():
    """Catches a README without the 요있다 section or a missing screenshot."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 요있다 — 출장 증빙"):]
    assert "docs/screenshots/visit-page.png" in section and "docs/VISITS.md" in section
    assert (ROOT / "docs" / "screenshots" / "visit-page.png").exists()
