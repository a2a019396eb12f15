"""Every script and style a page uses is served by the project itself, never a CDN."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.factories import ShowFactory

pytestmark = pytest.mark.django_db


class AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"] or "")
        if tag in {"img", "video", "source", "iframe"} and a.get("src"):
            self.urls.append(a["src"] or "")


def assets_of(html: str) -> list[str]:
    parser = AssetParser()
    parser.feed(html)
    return parser.urls


def is_local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


@pytest.fixture
def pages(web, web_for, shop, live_show):  # type: ignore[no-untyped-def]
    ended = ShowFactory(shop=shop, status="ended")
    owner = web_for(shop.owner)
    return {
        "home": web.get("/"),
        "viewer": web.get(f"/shows/{live_show.id}/"),
        "viewer signed in": owner.get(f"/shows/{live_show.id}/"),
        "replay": web.get(f"/shows/{ended.id}/"),
        "studio": owner.get(f"/studio/shows/{live_show.id}/"),
        "dashboard": owner.get("/dashboard/"),
        "analytics": owner.get(f"/dashboard/shows/{live_show.id}/"),
        "login": web.get("/accounts/login/"),
        "signup": web.get("/accounts/signup/"),
    }


def test_pages_load_only_local_scripts_and_styles(pages):
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        urls = assets_of(html)
        assert any(u.endswith(".css") for u in urls), name
        assert [u for u in urls if not is_local(u)] == [], name
        assert "https://" not in " ".join(re.findall(r"import[^;]*?from\s+['\"][^'\"]+", html))


def test_every_script_and_module_it_imports_is_served(web, pages):
    seen: set[str] = set()
    queue = [u for r in pages.values() for u in assets_of(r.content.decode()) if u.endswith(".js")]
    assert queue, "the pages use no script at all?"
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = web.get(url)
        assert response.status_code == 200, url
        assert "javascript" in response["Content-Type"], (url, response["Content-Type"])
        body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
        for spec in re.findall(r"""(?:import|from)\s*\(?\s*["']([^"']+)["']""", body):
            assert not spec.startswith(("http:", "https:", "//")), (url, spec)
            if spec.startswith("./"):
                queue.append(url.rsplit("/", 1)[0] + "/" + spec[2:])
    assert {"/static/js/viewer.js", "/static/js/live.js", "/static/js/api.js"} <= seen


def test_vendored_hls_and_demo_video_are_served(web, pages):
    hls = web.get("/static/vendor/hls.js/hls.light.min.mjs")
    assert hls.status_code == 200
    video = web.get("/static/demo/show.mp4")
    assert video.status_code == 200
    assert video["Content-Type"] == "video/mp4"
    assert int(video["Content-Length"]) < 300 * 1024


def test_every_page_names_a_served_icon_and_favicon_ico_leads_to_it(web, pages):
    for name, response in pages.items():
        icons = re.findall(r'<link rel="icon" href="([^"]+)"', response.content.decode())
        assert icons, name
        assert web.get(icons[0]).status_code == 200, (name, icons[0])
    legacy = web.get("/favicon.ico")  # what browsers ask for on pages that name none
    assert legacy.status_code == 302
    assert web.get(legacy["Location"]).status_code == 200


class FormControlParser(HTMLParser):
    """Collects form controls and what labels them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.buttons_without_type = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"] or "")
        if tag in {"input", "select", "textarea"} and a.get("type") not in {"hidden", "submit"}:
            self.controls.append({**a, "_wrapped": "yes" if self.open_labels else None})
        if tag == "button" and not a.get("type"):
            self.buttons_without_type += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def test_every_form_control_has_a_label_and_every_button_a_type(pages):
    for name, response in pages.items():
        parser = FormControlParser()
        parser.feed(response.content.decode())
        unlabelled = [
            c
            for c in parser.controls
            if not c["_wrapped"] and c.get("id") not in parser.label_for and not c.get("aria-label")
        ]
        assert unlabelled == [], name
        assert parser.buttons_without_type == 0, name
