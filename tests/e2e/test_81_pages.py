"""The pages in French and English (issue 17), as the server renders them:
Accept-Language picks the language (fr-CA is French, q-values count,
unknown is English), the partage_lang cookie overrides it, <html lang> and
Content-Language say it; error pages are translated, keep their status,
have a viewport tag and a way back; JSON errors stay machine errors; the
no-JavaScript ticket page and the file page's details (human size, type,
ISO times for the browser, the report link) are translated; the report
page exists; the catalogs are complete (scripts/i18n.py check) and the
French one is served to the pages' scripts."""

import json
import os
import re
import subprocess
import sys

import harness
from harness import expect

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HTML = {"Accept": "text/html"}
# anonymous downloads wait: the ticket page and the countdown's reason
CONFIG = harness.DEFAULT_CONFIG + """
[tier.anonymous]
wait_seconds = 7
"""


def page(srv, path, lang=None, cookie=None, code=200):
    h = dict(HTML)
    if lang is not None:
        h["Accept-Language"] = lang
    if cookie is not None:
        h["Cookie"] = cookie
    r = srv.get(path, h)
    assert r.status == code, "GET %s (%s, %s): expected %d, got %r" % (path, lang, cookie, code, r)
    return r


def html_lang(r):
    m = re.search(r'<html lang="([^"]*)"', r.text)
    return m and m.group(1)


def test_accept_language_picks_french_and_the_cookie_overrides(srv):
    for al, want in [("fr", "fr"), ("fr-CA,en;q=0.5", "fr"), ("en-US,en;q=0.9,fr;q=0.8", "en"),
                     ("de-DE, fr;q=0.3", "fr"), ("de", "en"), ("en;q=0.2, fr;q=0.9", "fr"),
                     ("fr;q=0, en;q=0.1", "en"), (None, "en"), ("*", "en")]:
        r = page(srv, "/", al)
        assert html_lang(r) == want, "Accept-Language %r: <html lang=%r>, want %r" % (al, html_lang(r), want)
        assert r.header("Content-Language") == want, r.header("Content-Language")
        assert "Accept-Language" in (r.header("Vary") or ""), "no Vary: Accept-Language: %r" % r.header("Vary")
    fr = page(srv, "/", "fr").text
    assert "<h1>Partager un fichier</h1>" in fr and "Share a file" not in fr, fr[:800]
    # the cookie (the header's switch) wins over the header, both ways
    assert html_lang(page(srv, "/", "fr", "partage_lang=en")) == "en"
    assert html_lang(page(srv, "/", "en", "partage_lang=fr")) == "fr"
    assert html_lang(page(srv, "/login", "fr", "partage_lang=xx")) == "fr", "an unknown cookie is not ignored"
    # the theme cookie is rendered (no flash), only known values
    assert 'data-theme="dark"' in page(srv, "/login", "en", "partage_theme=dark").text
    assert 'data-theme=""' in page(srv, "/login", "en", 'partage_theme="><script>').text
    # the switch is on every page, naming the other language in itself
    assert ('<a id="lang-switch" href="/prefs?lang=en&amp;next=%2F" data-lang="en" lang="en" hreflang="en">'
            'English</a>') in fr, fr[:1200]
    assert ('<a id="lang-switch" href="/prefs?lang=fr&amp;next=%2Flogin" data-lang="fr" lang="fr" '
            'hreflang="fr">Français</a>') in page(srv, "/login", "en").text
    # the pages' script catalog
    js = expect(srv.get("/static/i18n-fr.js"), 200)
    assert js.header("Content-Type").startswith("text/javascript"), js.header("Content-Type")
    assert '"Log in": "Se connecter"' in js.text and '"plural": 1' in js.text, js.text[:300]
    assert '"msgs": {}' in expect(srv.get("/static/i18n-en.js"), 200).text


def test_error_pages_are_translated_with_status_viewport_and_a_way_back(srv):
    f = srv.upload("gone.txt", b"bye\n")
    expect(srv.request("DELETE", "/" + f["id"], headers={"X-Delete-Token": f["delete_token"]}), 200, 204)
    for path, code, en, fr in [("/AAAAAAAAAAAA", 404, "File not found", "Fichier introuvable"),
                               ("/" + f["id"], 410, "This file is gone", "Ce fichier n’existe plus"),
                               ("/static/nothing.css", 404, "File not found", "Fichier introuvable")]:
        for lang, title in [("en", en), ("fr-FR", fr)]:
            r = page(srv, path, lang, code=code)
            t = r.text
            assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in t, t[:400]
            assert html_lang(r) == lang[:2], t[:200]
            assert '<h1 id="error-title">%s</h1>' % title in t, (path, lang, t)
            assert '<a class="button" id="home-link" href="/">' in t, "no way back"
            assert re.search(r'<code id="error-detail" lang="en">[^<]+</code>', t), "no detail"
            assert "authentication required" not in t
    fr = page(srv, "/AAAAAAAAAAAA", "fr", code=404).text
    assert "Retour à l’accueil" in fr and "Back to the home page" not in fr, fr
    # API clients keep the machine errors, whatever the language
    r = srv.get("/api/v1/files/AAAAAAAAAAAA", {"Accept": "application/json", "Accept-Language": "fr"})
    assert r.status == 404 and r.json()["error"].startswith("not found"), r
    r = srv.get("/AAAAAAAAAAAA", {"Accept-Language": "fr"})
    assert r.status == 404 and r.text.startswith("not found"), r


def test_file_page_details_and_ticket_page_in_french(srv):
    f = srv.upload("rapport annuel.pdf", b"%PDF-1.4\n" + b"x" * 4200)
    fr = page(srv, "/" + f["id"], "fr").text
    assert '<dd id="size">4,2 ko <span class="muted">(4209 octets)</span></dd>' in fr, fr
    assert '<dd id="mime">Document PDF <span class="muted">(application/pdf' in fr, fr
    assert re.search(r'<dd id="created"><time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', fr), fr
    assert 'href="/report/%s"' % f["id"] in fr and "Signaler ce fichier" in fr
    assert "Le lien direct attend 7 s." in fr, fr
    assert "Sans compte, les téléchargements attendent un peu" in fr
    en = page(srv, "/" + f["id"], "en").text
    assert '<dd id="size">4.2 kB <span class="muted">(4209 bytes)</span></dd>' in en, en
    assert "The direct link waits 7 s." in en
    # the report page
    rp = page(srv, "/report/" + f["id"], "fr").text
    assert '<form id="report-form" class="stacked" data-id="%s">' % f["id"] in rp
    assert "Signaler un fichier" in rp and 'maxlength="10000"' in rp and 'maxlength="500"' in rp
    page(srv, "/report/AAAAAAAAAAAA", "fr", code=404)
    # the no-JavaScript ticket page: translated, with its plural
    r = srv.request("POST", "/api/v1/files/%s/ticket" % f["id"], headers=dict(HTML, **{"Accept-Language": "fr"}))
    assert r.status == 200, r
    assert "Votre téléchargement commence dans 7 secondes." in r.text, r.text
    assert '<meta name="viewport"' in r.text and html_lang(r) == "fr"
    assert re.search(r'<meta http-equiv="refresh" content="0;url=[^"]+ticket=', r.text), r.text
    # a wrong password, in French
    p = srv.upload("secret.txt", b"s\n", {"X-Partage-Password": "motdepasse1"})
    r = page(srv, "/%s?password=faux" % p["id"], "fr", code=401)
    assert "Mot de passe incorrect, réessayez." in r.text and "Ce fichier est protégé" in r.text


def test_request_page_and_scan_block_in_french(srv):
    """A file request's page (/r/ID) in French: title, heading around the
    folder's name, limits with their plurals and the page's sizes, the
    open-until time for the browser, why a closed one takes no more files;
    and the file page's (hidden) virus-scan block."""
    body = json.dumps({"name": "rq_fr_%s" % os.urandom(3).hex(), "password": "correct horse battery"}).encode()
    jh = {"Content-Type": "application/json", "Accept": "application/json"}
    expect(srv.request("POST", "/api/v1/users", body=body, headers=jh), 201)
    auth = dict(jh, Authorization="Bearer " + expect(srv.request(
        "POST", "/api/v1/tokens", body=body, headers=jh), 201).json()["token"])
    fid = expect(srv.request("POST", "/api/v1/folders", body=json.dumps({"name": "Devoirs <4e>"}).encode(),
                             headers=auth), 201).json()["id"]
    rq = expect(srv.request("POST", "/api/v1/requests", headers=auth, body=json.dumps(
        {"folder": fid, "max_files": 1, "max_bytes": 5000000, "max_days": 3, "password": "pw"}).encode()), 201).json()
    fr = page(srv, "/r/" + rq["id"], "fr").text
    assert html_lang(page(srv, "/r/" + rq["id"], "fr")) == "fr"
    assert "<title>Envoyer des fichiers à Devoirs &lt;4e&gt; — partage</title>" in fr, fr
    assert '<h1>Envoyer des fichiers à <span id="request-folder">Devoirs &lt;4e&gt;</span></h1>' in fr, fr
    assert re.search(r'Au plus 1 fichier \(encore 1\)\. Au plus 5,0 Mo en tout \(encore 5,0 Mo\)\. '
                     r'Ouverte jusqu’au <time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', fr), fr
    assert "Mot de passe de la demande" in fr and "Send files" not in fr and "At most" not in fr
    en = page(srv, "/r/" + rq["id"], "en").text
    assert "At most 1 file (1 left). At most 5.0 MB in all (5.0 MB left). Open until <time" in en, en
    # closed: 410, said in French; the state's API word stays in data-state
    expect(srv.request("DELETE", "/api/v1/requests/" + rq["id"], headers=auth), 204)
    fr = page(srv, "/r/" + rq["id"], "fr", code=410).text
    assert "Cette demande de fichiers est close : elle n’accepte plus de fichiers." in fr, fr
    assert 'data-state="closed"' in fr
    # the file page's scan block (scanning off: hidden, but translated)
    f = srv.upload("a.txt", b"a\n")
    fr = page(srv, "/" + f["id"], "fr").text
    assert '<dl id="scan-block" hidden><dt>Analyse antivirus</dt><dd id="scan">non analysé</dd></dl>' in fr, fr


def test_folder_page_plural_in_french(srv):
    body = json.dumps({"name": "p81_" + os.urandom(3).hex(), "password": "long enough pw"}).encode()
    jh = {"Content-Type": "application/json", "Accept": "application/json"}
    expect(srv.request("POST", "/api/v1/users", body=body, headers=jh), 201)
    tok = expect(srv.request("POST", "/api/v1/tokens", body=body, headers=jh), 201).json()["token"]
    auth = {"Authorization": "Bearer " + tok}
    fo = expect(srv.request("POST", "/api/v1/folders", body=json.dumps({"name": "Été", "shared": True}).encode(),
                            headers=dict(auth, **jh)), 201).json()
    srv.upload("un.txt", b"1\n", dict(auth, **{"X-Partage-Folder": fo["id"]}))
    fr = page(srv, "/folder/" + fo["id"], "fr").text
    assert '<span id="zip-info">1 fichier,' in fr, fr  # French: 1 is singular
    assert "Tout télécharger en zip" in fr
    srv.upload("deux.txt", b"2\n", dict(auth, **{"X-Partage-Folder": fo["id"]}))
    assert '<span id="zip-info">2 fichiers,' in page(srv, "/folder/" + fo["id"], "fr").text


def test_catalogs_are_complete():
    # every message the pages, their scripts and pages.c use is in po/fr.po
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "i18n.py"), "check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and ", 0 missing" in r.stdout, r.stdout + r.stderr


def test_prefs_sets_the_cookies_without_javascript(srv):
    # the language link of every page works without JavaScript
    r = srv.get("/prefs?lang=fr&next=%2Flogin", {"Accept": "text/html"})
    assert r.status == 303 and r.header("Location") == "/login", r
    cookies = r.header_all("Set-Cookie")
    assert any(c.startswith("partage_lang=fr;") and "Max-Age=31536000" in c and "SameSite=Lax" in c
               for c in cookies), cookies
    assert html_lang(page(srv, "/login", "en", "partage_lang=fr")) == "fr"
    r = srv.get("/prefs?theme=dark&lang=en&next=%2F", HTML)
    cookies = r.header_all("Set-Cookie")
    assert r.status == 303 and any(c.startswith("partage_theme=dark;") for c in cookies) \
        and any(c.startswith("partage_lang=en;") for c in cookies), (r, cookies)
    # never to another site, never a byte that breaks the header
    for nxt in ["%2F%2Fevil.example%2F", "https%3A%2F%2Fevil.example", "%2F%5Cevil.example", "%2Fa%0D%0AX-Evil%3A%201",
                "", "relative", "%2F%C3%A9t%C3%A9"]:
        r = srv.get("/prefs?lang=fr&next=" + nxt, HTML)
        assert r.status == 303 and r.header("Location") == "/", (nxt, r, r.header("Location"))
        assert r.header("X-Evil") is None
    # values we do not have: 400, nothing set
    for q in ["lang=de", "lang=fr-CA", "theme=blue", "lang=%0D%0A"]:
        r = srv.get("/prefs?%s&next=%%2F" % q, HTML)
        assert r.status == 400 and not r.header_all("Set-Cookie"), (q, r)
